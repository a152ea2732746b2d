package store

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// The lookups and updates below serve declarative configuration
// (`herald apply`), which matches templates, accounts and rules by name.
// Those names are not unique in the schema, so a name held by several rows
// is reported as ErrConflict rather than resolved by guessing.

// TemplatePatch changes the non-nil fields of a template.
type TemplatePatch struct {
	Name        *string
	ContentType *string
	Subject     *string
	Content     *string
	Variables   *[]string
	Description *string
	Kind        *string
	// ReceiverCaps set to a nil pointer clears the caps.
	ReceiverCaps **ReceiverCaps
	TTLSeconds   *int
	Critical     *bool
	// IfVersion, when positive, applies the patch only to that version of
	// the row; another version fails with ErrStale.
	IfVersion int64
}

// RulePatch changes the non-nil fields of a rule.
type RulePatch struct {
	Name          *string
	Scene         *string
	Priority      *int
	ProviderKind  *string
	MessageType   *string
	ErrorCodes    *string
	ErrorKeywords *string
	Action        *string
	MaxRetry      *int
	DelaySeconds  *int
	BackoffRate   *float64
	ThenAction    *string
	Enabled       *bool
	// IfVersion, when positive, applies the patch only to that version of
	// the row; another version fails with ErrStale.
	IfVersion int64
}

// FindTemplateByName returns the template with that name. It returns
// ErrNotFound if there is none and ErrConflict if several share the name.
func (db *DB) FindTemplateByName(ctx context.Context, name string) (*Template, error) {
	return findTemplateByName(ctx, db.idb, name)
}

// FindAccountByName returns the provider account with that name, its
// Config opened. It returns ErrNotFound if there is none and ErrConflict if
// several share the name.
func (db *DB) FindAccountByName(ctx context.Context, name string) (*ProviderAccount, error) {
	return findAccountByName(ctx, db.idb, db.cipher, name)
}

// ListAllRules returns every rule, disabled ones included, by id.
func (db *DB) ListAllRules(ctx context.Context) ([]Rule, error) {
	return listAllRules(ctx, db.idb)
}

// UpdateTemplate applies patch to a template and sets its UpdatedAt. It
// returns ErrNotFound if there is no such template.
func (db *DB) UpdateTemplate(ctx context.Context, id int64, patch TemplatePatch) error {
	return updateTemplate(ctx, db.idb, db.timestamp(), id, patch)
}

// UpdateRule applies patch to a rule and sets its UpdatedAt. It returns
// ErrNotFound if there is no such rule.
func (db *DB) UpdateRule(ctx context.Context, id int64, patch RulePatch) error {
	return updateRule(ctx, db.idb, db.timestamp(), id, patch)
}

func findTemplateByName(ctx context.Context, idb bun.IDB, name string) (*Template, error) {
	var ts []Template
	if err := idb.NewSelect().Model(&ts).Where("tpl.name = ?", name).OrderExpr("tpl.id ASC").Limit(2).Scan(ctx); err != nil {
		return nil, fmt.Errorf("find template %q: %w", name, mapErr(err))
	}
	if err := oneByName(ts, "templates", func(t Template) int64 { return t.ID }); err != nil {
		return nil, fmt.Errorf("find template %q: %w", name, err)
	}
	t := &ts[0]
	t.CreatedAt = normTime(t.CreatedAt)
	t.UpdatedAt = normTime(t.UpdatedAt)
	return t, nil
}

func findAccountByName(ctx context.Context, idb bun.IDB, c *Cipher, name string) (*ProviderAccount, error) {
	var as []ProviderAccount
	if err := idb.NewSelect().Model(&as).Where("pa.name = ?", name).OrderExpr("pa.id ASC").Limit(2).Scan(ctx); err != nil {
		return nil, fmt.Errorf("find account %q: %w", name, mapErr(err))
	}
	if err := oneByName(as, "accounts", func(a ProviderAccount) int64 { return a.ID }); err != nil {
		return nil, fmt.Errorf("find account %q: %w", name, err)
	}
	a := &as[0]
	if err := openAccount(c, a); err != nil {
		return nil, fmt.Errorf("find account %q: %w", name, err)
	}
	return a, nil
}

// oneByName turns the rows found for a name into ErrNotFound (none),
// ErrConflict naming the first two ids (several), or nil (one).
func oneByName[T any](rows []T, what string, id func(T) int64) error {
	switch len(rows) {
	case 0:
		return ErrNotFound
	case 1:
		return nil
	}
	return fmt.Errorf("%w: %s %d and %d share this name", ErrConflict, what, id(rows[0]), id(rows[1]))
}

func listAllRules(ctx context.Context, idb bun.IDB) ([]Rule, error) {
	rs := []Rule{}
	if err := idb.NewSelect().Model(&rs).OrderExpr("r.id ASC").Scan(ctx); err != nil {
		return nil, fmt.Errorf("list all rules: %w", mapErr(err))
	}
	for i := range rs {
		rs[i].CreatedAt = normTime(rs[i].CreatedAt)
		rs[i].UpdatedAt = normTime(rs[i].UpdatedAt)
	}
	return rs, nil
}

func updateTemplate(ctx context.Context, idb bun.IDB, now time.Time, id int64, p TemplatePatch) error {
	q := idb.NewUpdate().Model((*Template)(nil)).Set("updated_at = ?", now).Set("version = version + 1").Where("id = ?", id)
	if p.IfVersion > 0 {
		q = q.Where("version = ?", p.IfVersion)
	}
	if p.Name != nil {
		q = q.Set("name = ?", *p.Name)
	}
	if p.ContentType != nil {
		q = q.Set("content_type = ?", *p.ContentType)
	}
	if p.Subject != nil {
		q = q.Set("subject = ?", *p.Subject)
	}
	if p.Content != nil {
		q = q.Set("content = ?", *p.Content)
	}
	if p.Variables != nil {
		js, err := jsonText(*p.Variables)
		if err != nil {
			return fmt.Errorf("update template %d: %w", id, err)
		}
		q = q.Set("variables = ?", js)
	}
	if p.Description != nil {
		q = q.Set("description = ?", *p.Description)
	}
	if p.Kind != nil {
		q = q.Set("kind = ?", *p.Kind)
	}
	if p.ReceiverCaps != nil {
		q = setCaps(q, *p.ReceiverCaps)
	}
	if p.TTLSeconds != nil {
		q = q.Set("ttl_seconds = ?", *p.TTLSeconds)
	}
	if p.Critical != nil {
		q = q.Set("critical = ?", *p.Critical)
	}
	if err := execVersioned(ctx, idb, q, (*Template)(nil), id, p.IfVersion); err != nil {
		return fmt.Errorf("update template %d: %w", id, err)
	}
	return nil
}

func updateRule(ctx context.Context, idb bun.IDB, now time.Time, id int64, p RulePatch) error {
	q := idb.NewUpdate().Model((*Rule)(nil)).Set("updated_at = ?", now).Set("version = version + 1").Where("id = ?", id)
	if p.IfVersion > 0 {
		q = q.Where("version = ?", p.IfVersion)
	}
	set := func(column string, v any) { q = q.Set(column+" = ?", v) }
	if p.Name != nil {
		set("name", *p.Name)
	}
	if p.Scene != nil {
		set("scene", *p.Scene)
	}
	if p.Priority != nil {
		set("priority", *p.Priority)
	}
	if p.ProviderKind != nil {
		set("provider_kind", *p.ProviderKind)
	}
	if p.MessageType != nil {
		set("message_type", *p.MessageType)
	}
	if p.ErrorCodes != nil {
		set("error_codes", *p.ErrorCodes)
	}
	if p.ErrorKeywords != nil {
		set("error_keywords", *p.ErrorKeywords)
	}
	if p.Action != nil {
		set("action", *p.Action)
	}
	if p.MaxRetry != nil {
		set("max_retry", *p.MaxRetry)
	}
	if p.DelaySeconds != nil {
		set("delay_seconds", *p.DelaySeconds)
	}
	if p.BackoffRate != nil {
		set("backoff_rate", *p.BackoffRate)
	}
	if p.ThenAction != nil {
		set("then_action", *p.ThenAction)
	}
	if p.Enabled != nil {
		set("enabled", *p.Enabled)
	}
	if err := execVersioned(ctx, idb, q, (*Rule)(nil), id, p.IfVersion); err != nil {
		return fmt.Errorf("update rule %d: %w", id, err)
	}
	return nil
}
