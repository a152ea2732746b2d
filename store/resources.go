package store

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"
)

// The reads below serve the operators' API, which lists configuration
// objects. They are few (tens to hundreds), so callers page through the
// whole list rather than the database.

// ListApps returns every app by id, secrets opened.
func (db *DB) ListApps(ctx context.Context) ([]App, error) {
	return listApps(ctx, db.idb, db.cipher)
}

// ListTemplates returns every template by id.
func (db *DB) ListTemplates(ctx context.Context) ([]Template, error) {
	return listTemplates(ctx, db.idb)
}

// GetRule returns a rule, enabled or not, or ErrNotFound.
func (db *DB) GetRule(ctx context.Context, id int64) (*Rule, error) {
	r := new(Rule)
	if err := db.idb.NewSelect().Model(r).Where("r.id = ?", id).Scan(ctx); err != nil {
		return nil, fmt.Errorf("get rule %d: %w", id, mapErr(err))
	}
	r.CreatedAt, r.UpdatedAt = normTime(r.CreatedAt), normTime(r.UpdatedAt)
	return r, nil
}

// TemplateMappings returns how each account sends a template, by account
// id.
func (db *DB) TemplateMappings(ctx context.Context, templateID int64) ([]TemplateMapping, error) {
	ms := []TemplateMapping{}
	err := db.idb.NewSelect().Model(&ms).Where("tm.template_id = ?", templateID).OrderExpr("tm.account_id ASC").Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("mappings of template %d: %w", templateID, mapErr(err))
	}
	return ms, nil
}

func listApps(ctx context.Context, idb bun.IDB, c *Cipher) ([]App, error) {
	apps := []App{}
	if err := idb.NewSelect().Model(&apps).OrderExpr("app.id ASC").Scan(ctx); err != nil {
		return nil, fmt.Errorf("list apps: %w", mapErr(err))
	}
	for i := range apps {
		if err := openApp(c, &apps[i]); err != nil {
			return nil, fmt.Errorf("list apps: app %q: %w", apps[i].ID, err)
		}
	}
	return apps, nil
}

func listTemplates(ctx context.Context, idb bun.IDB) ([]Template, error) {
	ts := []Template{}
	if err := idb.NewSelect().Model(&ts).OrderExpr("tpl.id ASC").Scan(ctx); err != nil {
		return nil, fmt.Errorf("list templates: %w", mapErr(err))
	}
	for i := range ts {
		ts[i].CreatedAt, ts[i].UpdatedAt = normTime(ts[i].CreatedAt), normTime(ts[i].UpdatedAt)
	}
	return ts, nil
}

// DeleteTemplate removes a template and its mappings; channels using it
// as their default lose it. It returns ErrNotFound if there is none.
func (db *DB) DeleteTemplate(ctx context.Context, id int64) error {
	if err := execOne(ctx, db.idb.NewDelete().Model((*Template)(nil)).Where("id = ?", id)); err != nil {
		return fmt.Errorf("delete template %d: %w", id, err)
	}
	return nil
}
