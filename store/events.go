package store

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// AddEvent appends an event to a task's timeline, setting its ID and a
// zero CreatedAt. Adding an event with a (TaskID, Seq) that exists already
// does nothing (leaving e.ID zero), so a retried writer cannot duplicate
// it. It returns
// ErrNotFound if the task does not exist.
func (db *DB) AddEvent(ctx context.Context, e *MessageEvent) error {
	return addEvent(ctx, db.idb, db.cipher, db.timestamp(), e)
}

// NextEventSeq returns the sequence number after a task's last event (1 for
// a task without events), for writers outside the task's workflow.
func (db *DB) NextEventSeq(ctx context.Context, taskID string) (int, error) {
	return nextEventSeq(ctx, db.idb, taskID)
}

// ListEvents returns a task's timeline in sequence order.
func (db *DB) ListEvents(ctx context.Context, taskID string) ([]MessageEvent, error) {
	return listEvents(ctx, db.idb, db.cipher, taskID)
}

func addEvent(ctx context.Context, idb bun.IDB, c *Cipher, now time.Time, e *MessageEvent) error {
	if e.CreatedAt.IsZero() {
		e.CreatedAt = now
	}
	e.CreatedAt = normTime(e.CreatedAt)
	row, err := sealEvent(c, e)
	if err != nil {
		return fmt.Errorf("add event %d of task %q: %w", e.Seq, e.TaskID, err)
	}
	_, err = idb.NewInsert().Model(&row).
		On("CONFLICT (task_id, seq) DO NOTHING").
		Returning("id").
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("add event %d of task %q: %w", e.Seq, e.TaskID, mapErr(err))
	}
	e.ID = row.ID
	return nil
}

func nextEventSeq(ctx context.Context, idb bun.IDB, taskID string) (int, error) {
	var last int
	err := idb.NewSelect().Model((*MessageEvent)(nil)).
		ColumnExpr("COALESCE(MAX(ev.seq), 0)").
		Where("ev.task_id = ?", taskID).
		Scan(ctx, &last)
	if err != nil {
		return 0, fmt.Errorf("next event seq of task %q: %w", taskID, mapErr(err))
	}
	return last + 1, nil
}

func listEvents(ctx context.Context, idb bun.IDB, c *Cipher, taskID string) ([]MessageEvent, error) {
	es := []MessageEvent{}
	if err := idb.NewSelect().Model(&es).Where("ev.task_id = ?", taskID).OrderExpr("ev.seq ASC").Scan(ctx); err != nil {
		return nil, fmt.Errorf("list events of task %q: %w", taskID, mapErr(err))
	}
	if err := openEvents(c, es); err != nil {
		return nil, fmt.Errorf("list events of task %q: %w", taskID, err)
	}
	return es, nil
}

// DecisionFilter selects recorded rule decisions for ListDecisions.
type DecisionFilter struct {
	// Since and Until bound the decision time (Until exclusive); zero
	// means open.
	Since, Until time.Time
	// Limit is how many, newest first; 0 or less means 1000, and it is at
	// most 10000.
	Limit int
}

// MaxDecisions bounds ListDecisions.
const MaxDecisions = 10000

// ListDecisions returns rule-decision events that carry their structured
// inputs (Inputs), newest first. Decisions recorded before inputs were
// kept are left out.
func (db *DB) ListDecisions(ctx context.Context, f DecisionFilter) ([]MessageEvent, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 1000
	}
	limit = min(limit, MaxDecisions)
	out := []MessageEvent{}
	q := db.idb.NewSelect().Model(&out).
		Where("ev.kind = 'decision'").
		Where("ev.inputs IS NOT NULL").
		OrderExpr("ev.id DESC").
		Limit(int64(limit))
	if !f.Since.IsZero() {
		q = q.Where("ev.created_at >= ?", normTime(f.Since))
	}
	if !f.Until.IsZero() {
		q = q.Where("ev.created_at < ?", normTime(f.Until))
	}
	if err := q.Scan(ctx); err != nil {
		return nil, fmt.Errorf("list decisions: %w", mapErr(err))
	}
	if err := openEvents(db.cipher, out); err != nil {
		return nil, fmt.Errorf("list decisions: %w", err)
	}
	return out, nil
}
