package store

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// BreakerState is the published state of one account's circuit breaker.
// The account's breaker workflow writes it; senders read it (through the
// cache) and take probe sends from it while it is half-open.
type BreakerState struct {
	bun.BaseModel `bun:"table:breaker_states,alias:bs"`

	AccountID int64     `bun:"account_id,pk"`
	State     string    `bun:"state,notnull"`
	Since     time.Time `bun:"since,notnull"`
	Reason    string    `bun:"reason,notnull"`
	Forced    bool      `bun:"forced,notnull"`
	// HalfOpenAt is when an open breaker half-opens, or when the current
	// half-open round began.
	HalfOpenAt *time.Time `bun:"half_open_at"`
	// Round numbers half-open probe rounds; Probes is the round's budget
	// and ProbesUsed what senders have taken of it.
	Round          int       `bun:"round,notnull"`
	Probes         int       `bun:"probes,notnull"`
	ProbesUsed     int       `bun:"probes_used,notnull"`
	WindowFailures int       `bun:"window_failures,notnull"`
	WindowTotal    int       `bun:"window_total,notnull"`
	UpdatedAt      time.Time `bun:"updated_at,notnull"`
}

// BreakerEvent is one transition of an account's breaker, for the audit
// trail.
type BreakerEvent struct {
	bun.BaseModel `bun:"table:breaker_events,alias:be"`

	ID        int64     `bun:"id,pk,autoincrement"`
	AccountID int64     `bun:"account_id,notnull"`
	From      string    `bun:"from_state,notnull"`
	To        string    `bun:"to_state,notnull"`
	Reason    string    `bun:"reason,notnull"`
	Actor     string    `bun:"actor,notnull"`
	Forced    bool      `bun:"forced,notnull"`
	At        time.Time `bun:"at,notnull"`
}

// PublishBreaker writes an account's breaker state and, when given, the
// transition that led to it, in one transaction; publishing the same
// transition again records it once. The probes taken are kept
// while the state and round are unchanged and start again from zero with a
// new half-open round.
func (db *DB) PublishBreaker(ctx context.Context, st *BreakerState, ev *BreakerEvent) error {
	return db.RunInTx(ctx, func(ctx context.Context, tx *DB) error {
		st.UpdatedAt = tx.timestamp()
		st.Since = normTime(st.Since)
		_, err := tx.idb.NewInsert().Model(st).
			On("CONFLICT (account_id) DO UPDATE").
			Set("probes_used = CASE WHEN bs.state = EXCLUDED.state AND bs.round = EXCLUDED.round THEN bs.probes_used ELSE 0 END").
			Set("state = EXCLUDED.state").
			Set("since = EXCLUDED.since").
			Set("reason = EXCLUDED.reason").
			Set("forced = EXCLUDED.forced").
			Set("half_open_at = EXCLUDED.half_open_at").
			Set("round = EXCLUDED.round").
			Set("probes = EXCLUDED.probes").
			Set("window_failures = EXCLUDED.window_failures").
			Set("window_total = EXCLUDED.window_total").
			Set("updated_at = EXCLUDED.updated_at").
			Exec(ctx)
		if err != nil {
			return fmt.Errorf("publish breaker of account %d: %w", st.AccountID, mapErr(err))
		}
		if ev == nil {
			return nil
		}
		ev.At = normTime(ev.At)
		if _, err := tx.idb.NewInsert().Model(ev).On("CONFLICT (account_id, at, to_state) DO NOTHING").Exec(ctx); err != nil {
			return fmt.Errorf("record breaker transition of account %d: %w", ev.AccountID, mapErr(err))
		}
		return nil
	})
}

// ListBreakerStates returns every published breaker state, by account.
func (db *DB) ListBreakerStates(ctx context.Context) ([]BreakerState, error) {
	out := []BreakerState{}
	if err := db.idb.NewSelect().Model(&out).OrderExpr("bs.account_id ASC").Scan(ctx); err != nil {
		return nil, fmt.Errorf("list breaker states: %w", mapErr(err))
	}
	for i := range out {
		out[i].Since = normTime(out[i].Since)
		out[i].UpdatedAt = normTime(out[i].UpdatedAt)
		if out[i].HalfOpenAt != nil {
			t := normTime(*out[i].HalfOpenAt)
			out[i].HalfOpenAt = &t
		}
	}
	return out, nil
}

// ListBreakerEvents returns an account's breaker transitions, oldest first.
func (db *DB) ListBreakerEvents(ctx context.Context, accountID int64) ([]BreakerEvent, error) {
	out := []BreakerEvent{}
	if err := db.idb.NewSelect().Model(&out).Where("be.account_id = ?", accountID).OrderExpr("be.id ASC").Scan(ctx); err != nil {
		return nil, fmt.Errorf("list breaker events of account %d: %w", accountID, mapErr(err))
	}
	for i := range out {
		out[i].At = normTime(out[i].At)
	}
	return out, nil
}

// TakeBreakerProbe takes one probe send of an account's half-open breaker
// in the given round, if any is left; the conditional update makes the
// budget exact across every process.
func (db *DB) TakeBreakerProbe(ctx context.Context, accountID int64, round int) (bool, error) {
	res, err := db.idb.NewUpdate().Model((*BreakerState)(nil)).
		Set("probes_used = probes_used + 1").
		Where("account_id = ?", accountID).
		Where("state = ?", "half_open").
		Where("round = ?", round).
		Where("probes_used < probes").
		Exec(ctx)
	if err != nil {
		return false, fmt.Errorf("take a probe of account %d: %w", accountID, mapErr(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("take a probe of account %d: %w", accountID, err)
	}
	return n == 1, nil
}

// ListBreakerStates returns the published breaker states, from the cache
// when fresh: every plan load reads them.
func (c *Cached) ListBreakerStates(ctx context.Context) ([]BreakerState, error) {
	return cached(ctx, c, "breakers", func(ctx context.Context) ([]BreakerState, error) { return c.DB.ListBreakerStates(ctx) })
}
