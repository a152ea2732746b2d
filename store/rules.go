package store

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// CreateRule stores a new rule and sets its ID. Zero CreatedAt and
// UpdatedAt are set to now.
func (db *DB) CreateRule(ctx context.Context, r *Rule) error {
	return createRule(ctx, db.idb, db.timestamp(), r)
}

// ListRules returns the enabled rules of a scene ("" for every scene) in
// evaluation order: priority ascending, then id.
func (db *DB) ListRules(ctx context.Context, scene string) ([]Rule, error) {
	return listRules(ctx, db.idb, scene)
}

// DeleteRule removes a rule. It returns ErrNotFound if there is none.
func (db *DB) DeleteRule(ctx context.Context, id int64) error {
	return deleteRule(ctx, db.idb, id)
}

func createRule(ctx context.Context, idb bun.IDB, now time.Time, r *Rule) error {
	r.CreatedAt, r.UpdatedAt = createdTimes(now, r.CreatedAt, r.UpdatedAt)
	r.Version = 1
	if _, err := idb.NewInsert().Model(r).Returning("id").Exec(ctx); err != nil {
		return fmt.Errorf("create rule: %w", mapErr(err))
	}
	return nil
}

func listRules(ctx context.Context, idb bun.IDB, scene string) ([]Rule, error) {
	rs := []Rule{}
	q := idb.NewSelect().Model(&rs).Where("r.enabled = ?", true)
	if scene != "" {
		q = q.Where("r.scene = ?", scene)
	}
	if err := q.OrderExpr("r.priority ASC, r.id ASC").Scan(ctx); err != nil {
		return nil, fmt.Errorf("list rules: %w", mapErr(err))
	}
	for i := range rs {
		rs[i].CreatedAt = normTime(rs[i].CreatedAt)
		rs[i].UpdatedAt = normTime(rs[i].UpdatedAt)
	}
	return rs, nil
}

func deleteRule(ctx context.Context, idb bun.IDB, id int64) error {
	if err := execOne(ctx, idb.NewDelete().Model((*Rule)(nil)).Where("id = ?", id)); err != nil {
		return fmt.Errorf("delete rule %d: %w", id, err)
	}
	return nil
}
