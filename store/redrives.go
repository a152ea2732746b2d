package store

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// Re-drive statuses.
const (
	RedriveRunning   = "running"
	RedrivePaused    = "paused"
	RedriveCancelled = "cancelled"
	RedriveDone      = "done"
)

// Redrive is one re-drive by query: the filter it resends and how far it
// got. Its workflow keeps the counts up to date page by page.
type Redrive struct {
	bun.BaseModel `bun:"table:redrives,alias:rd"`

	ID string `bun:"id,pk" json:"id"`
	// Filter is the query as the operator gave it, as JSON.
	Filter    string    `bun:"filter,notnull" json:"filter"`
	AccountID *int64    `bun:"account_id" json:"account_id"`
	Status    string    `bun:"status,notnull" json:"status"`
	Matched   int       `bun:"matched,notnull" json:"matched"`
	Resent    int       `bun:"resent,notnull" json:"resent"`
	Skipped   int       `bun:"skipped,notnull" json:"skipped"`
	Failed    int       `bun:"failed,notnull" json:"failed"`
	CreatedBy string    `bun:"created_by,notnull" json:"created_by"`
	CreatedAt time.Time `bun:"created_at,notnull" json:"created_at"`
	UpdatedAt time.Time `bun:"updated_at,notnull" json:"updated_at"`
}

// RedriveCounts are a re-drive's counters.
type RedriveCounts struct {
	Matched, Resent, Skipped, Failed int
}

// CreateRedrive stores a new re-drive; zero times are set to now.
func (db *DB) CreateRedrive(ctx context.Context, r *Redrive) error {
	now := db.timestamp()
	r.CreatedAt, r.UpdatedAt = createdTimes(now, r.CreatedAt, r.UpdatedAt)
	// The filter may name a receiver: it is sealed like other personal
	// data.
	row := *r
	var err error
	if row.Filter, err = db.cipher.SealText(r.Filter); err != nil {
		return fmt.Errorf("create redrive %q: seal filter: %w", r.ID, err)
	}
	if _, err := db.idb.NewInsert().Model(&row).Exec(ctx); err != nil {
		return fmt.Errorf("create redrive %q: %w", r.ID, mapErr(err))
	}
	return nil
}

// GetRedrive returns a re-drive or ErrNotFound.
func (db *DB) GetRedrive(ctx context.Context, id string) (*Redrive, error) {
	r := new(Redrive)
	if err := db.idb.NewSelect().Model(r).Where("rd.id = ?", id).Scan(ctx); err != nil {
		return nil, fmt.Errorf("get redrive %q: %w", id, mapErr(err))
	}
	if err := normRedrive(db.cipher, r); err != nil {
		return nil, fmt.Errorf("get redrive %q: %w", id, err)
	}
	return r, nil
}

// ListRedrives returns up to limit re-drives (50 when 0 or less), newest
// first, created before before when it is not zero.
func (db *DB) ListRedrives(ctx context.Context, before time.Time, limit int) ([]Redrive, error) {
	if limit <= 0 {
		limit = 50
	}
	out := []Redrive{}
	q := db.idb.NewSelect().Model(&out).OrderExpr("rd.created_at DESC, rd.id DESC").Limit(int64(min(limit, 500)))
	if !before.IsZero() {
		q = q.Where("rd.created_at < ?", normTime(before))
	}
	if err := q.Scan(ctx); err != nil {
		return nil, fmt.Errorf("list redrives: %w", mapErr(err))
	}
	for i := range out {
		if err := normRedrive(db.cipher, &out[i]); err != nil {
			return nil, fmt.Errorf("list redrives: %w", err)
		}
	}
	return out, nil
}

// UpdateRedrive sets a re-drive's status, when not empty, and adds add to
// its counters. It returns ErrNotFound for an unknown id.
func (db *DB) UpdateRedrive(ctx context.Context, id, status string, add RedriveCounts) error {
	q := db.idb.NewUpdate().Model((*Redrive)(nil)).
		Set("updated_at = ?", db.timestamp()).
		Set("matched = matched + ?", add.Matched).
		Set("resent = resent + ?", add.Resent).
		Set("skipped = skipped + ?", add.Skipped).
		Set("failed = failed + ?", add.Failed).
		Where("id = ?", id)
	if status != "" {
		q = q.Set("status = ?", status)
	}
	if err := execOne(ctx, q); err != nil {
		return fmt.Errorf("update redrive %q: %w", id, err)
	}
	return nil
}

// normRedrive opens a re-drive's filter and normalises its times, in
// place.
func normRedrive(c *Cipher, r *Redrive) error {
	var err error
	if r.Filter, err = c.OpenText(r.Filter); err != nil {
		return fmt.Errorf("open filter: %w", err)
	}
	r.CreatedAt = normTime(r.CreatedAt)
	r.UpdatedAt = normTime(r.UpdatedAt)
	return nil
}
