package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// AuditRecord is one write in the audit log.
type AuditRecord struct {
	bun.BaseModel `bun:"table:audit_log,alias:aud"`

	ID int64     `bun:"id,pk,autoincrement" json:"id"`
	At time.Time `bun:"at,notnull" json:"at"`
	// Actor is "user:<name>" for the admin API, "cli:<os user>" for
	// herald apply and other direct commands.
	Actor string `bun:"actor,notnull" json:"actor"`
	// Action is a dotted verb: "app.create", "message.resend".
	Action     string `bun:"action,notnull" json:"action"`
	ObjectType string `bun:"object_type,notnull" json:"object_type"`
	ObjectID   string `bun:"object_id,notnull" json:"object_id"`
	// Diff maps each changed field to [before, after]; the caller
	// replaces secrets with "[redacted]" before it gets here. It is sealed
	// at rest, as personal data is.
	Diff     map[string]any `bun:"-" json:"diff"`
	DiffJSON string         `bun:"diff,notnull" json:"-"`
	ClientIP string         `bun:"client_ip,notnull" json:"client_ip"`
}

// AuditFilter selects audit records for ListAudit.
type AuditFilter struct {
	Actor      string
	Action     string
	ObjectType string
	ObjectID   string
	// Since and Until bound the time (Until exclusive); zero means open.
	Since, Until time.Time
	// Before is a cursor: only records with a smaller id (older). 0 means
	// from the newest.
	Before int64
	// Limit defaults to 50 and is at most 500.
	Limit int
}

// InsertAudit appends a record; a zero At is set to now. Call it on the
// transaction of the write it describes, so a write and its record land
// together or not at all.
func (db *DB) InsertAudit(ctx context.Context, r *AuditRecord) error {
	if r.At.IsZero() {
		r.At = db.timestamp()
	}
	r.At = normTime(r.At)
	diff := r.Diff
	if diff == nil {
		diff = map[string]any{}
	}
	raw, err := json.Marshal(diff)
	if err != nil {
		return fmt.Errorf("insert audit record: diff: %w", err)
	}
	r.DiffJSON = string(raw)
	// Sealed at rest: an operator's filter or a changed field can name a
	// receiver.
	row := *r
	if row.DiffJSON, err = db.cipher.SealText(r.DiffJSON); err != nil {
		return fmt.Errorf("insert audit record: seal diff: %w", err)
	}
	if _, err := db.idb.NewInsert().Model(&row).Exec(ctx); err != nil {
		return fmt.Errorf("insert audit record: %w", mapErr(err))
	}
	r.ID = row.ID
	return nil
}

// ListAudit returns the records that match f, newest first.
func (db *DB) ListAudit(ctx context.Context, f AuditFilter) ([]AuditRecord, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 500)
	var out []AuditRecord
	q := db.idb.NewSelect().Model(&out).OrderExpr("aud.id DESC").Limit(int64(limit))
	if f.Actor != "" {
		q = q.Where("aud.actor = ?", f.Actor)
	}
	if f.Action != "" {
		q = q.Where("aud.action = ?", f.Action)
	}
	if f.ObjectType != "" {
		q = q.Where("aud.object_type = ?", f.ObjectType)
	}
	if f.ObjectID != "" {
		q = q.Where("aud.object_id = ?", f.ObjectID)
	}
	if !f.Since.IsZero() {
		q = q.Where("aud.at >= ?", normTime(f.Since))
	}
	if !f.Until.IsZero() {
		q = q.Where("aud.at < ?", normTime(f.Until))
	}
	if f.Before > 0 {
		q = q.Where("aud.id < ?", f.Before)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, fmt.Errorf("list audit records: %w", mapErr(err))
	}
	for i := range out {
		out[i].At = normTime(out[i].At)
		var err error
		if out[i].DiffJSON, err = db.cipher.OpenText(out[i].DiffJSON); err != nil {
			return nil, fmt.Errorf("list audit records: record %d: open diff: %w", out[i].ID, err)
		}
		if err := json.Unmarshal([]byte(out[i].DiffJSON), &out[i].Diff); err != nil {
			return nil, fmt.Errorf("list audit records: record %d: diff: %w", out[i].ID, err)
		}
	}
	return out, nil
}
