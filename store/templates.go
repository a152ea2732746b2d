package store

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// CreateTemplate stores a new template and sets its ID. Zero CreatedAt and
// UpdatedAt are set to now.
func (db *DB) CreateTemplate(ctx context.Context, t *Template) error {
	return createTemplate(ctx, db.idb, db.timestamp(), t)
}

// GetTemplate returns a template or ErrNotFound.
func (db *DB) GetTemplate(ctx context.Context, id int64) (*Template, error) {
	return getTemplate(ctx, db.idb, id)
}

// UpsertTemplateMapping stores how an account sends a template, replacing
// any earlier mapping for the same template and account. It returns
// ErrNotFound if the template or the account does not exist.
func (db *DB) UpsertTemplateMapping(ctx context.Context, m *TemplateMapping) error {
	return upsertTemplateMapping(ctx, db.idb, m)
}

// GetTemplateMapping returns how an account sends a template, or
// ErrNotFound if no mapping exists.
func (db *DB) GetTemplateMapping(ctx context.Context, templateID, accountID int64) (*TemplateMapping, error) {
	return getTemplateMapping(ctx, db.idb, templateID, accountID)
}

func createTemplate(ctx context.Context, idb bun.IDB, now time.Time, t *Template) error {
	t.CreatedAt, t.UpdatedAt = createdTimes(now, t.CreatedAt, t.UpdatedAt)
	t.Version = 1
	if _, err := idb.NewInsert().Model(t).Returning("id").Exec(ctx); err != nil {
		return fmt.Errorf("create template: %w", mapErr(err))
	}
	return nil
}

func getTemplate(ctx context.Context, idb bun.IDB, id int64) (*Template, error) {
	t := new(Template)
	if err := idb.NewSelect().Model(t).Where("tpl.id = ?", id).Scan(ctx); err != nil {
		return nil, fmt.Errorf("get template %d: %w", id, mapErr(err))
	}
	t.CreatedAt = normTime(t.CreatedAt)
	t.UpdatedAt = normTime(t.UpdatedAt)
	return t, nil
}

func upsertTemplateMapping(ctx context.Context, idb bun.IDB, m *TemplateMapping) error {
	_, err := idb.NewInsert().Model(m).
		On("CONFLICT (template_id, account_id) DO UPDATE").
		Set("provider_code = EXCLUDED.provider_code").
		Set("param_order = EXCLUDED.param_order").
		Set("param_names = EXCLUDED.param_names").
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("upsert mapping of template %d for account %d: %w", m.TemplateID, m.AccountID, mapErr(err))
	}
	return nil
}

func getTemplateMapping(ctx context.Context, idb bun.IDB, templateID, accountID int64) (*TemplateMapping, error) {
	m := new(TemplateMapping)
	err := idb.NewSelect().Model(m).
		Where("tm.template_id = ?", templateID).
		Where("tm.account_id = ?", accountID).
		Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("get mapping of template %d for account %d: %w", templateID, accountID, mapErr(err))
	}
	return m, nil
}
