package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestAuditLog(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		base := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
		for i, actor := range []string{"cli:root", "user:ops", "user:ops"} {
			r := &AuditRecord{
				At: base.Add(time.Duration(i) * time.Minute), Actor: actor, Action: "app.update",
				ObjectType: "app", ObjectID: "demo", ClientIP: "192.0.2.1",
				Diff: map[string]any{"enabled": []any{true, false}},
			}
			require.NoError(t, db.InsertAudit(ctx, r))
			require.NotZero(t, r.ID)
		}

		all, err := db.ListAudit(ctx, AuditFilter{})
		require.NoError(t, err)
		require.Len(t, all, 3)
		require.Greater(t, all[0].ID, all[1].ID, "newest first")
		require.Equal(t, []any{true, false}, all[0].Diff["enabled"])

		page, err := db.ListAudit(ctx, AuditFilter{Actor: "user:ops", Limit: 1})
		require.NoError(t, err)
		require.Len(t, page, 1)
		next, err := db.ListAudit(ctx, AuditFilter{Actor: "user:ops", Before: page[0].ID})
		require.NoError(t, err)
		require.Len(t, next, 1)
		require.Less(t, next[0].ID, page[0].ID)

		since, err := db.ListAudit(ctx, AuditFilter{Since: base.Add(time.Minute), Until: base.Add(2 * time.Minute)})
		require.NoError(t, err)
		require.Len(t, since, 1)
		require.Equal(t, base.Add(time.Minute), since[0].At)

		// A write and its record commit together.
		boom := errors.New("boom")
		err = db.RunInTx(ctx, func(ctx context.Context, tx *DB) error {
			require.NoError(t, tx.InsertAudit(ctx, &AuditRecord{Actor: "user:ops", Action: "app.delete", ObjectType: "app", ObjectID: "x"}))
			return boom
		})
		require.ErrorIs(t, err, boom)
		gone, err := db.ListAudit(ctx, AuditFilter{Action: "app.delete"})
		require.NoError(t, err)
		require.Empty(t, gone)
	})
}
