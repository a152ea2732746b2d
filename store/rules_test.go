package store

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRules(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		mk := func(name, scene string, prio int, enabled bool) *Rule {
			r := &Rule{
				Name: name, Scene: scene, Priority: prio, ProviderKind: "tencent", MessageType: "sms",
				ErrorCodes: "LimitExceeded,InternalError", ErrorKeywords: "timeout", Action: "retry",
				MaxRetry: 3, DelaySeconds: 5, BackoffRate: 1.5, ThenAction: "fail", Enabled: enabled,
			}
			require.NoError(t, db.CreateRule(ctx, r))
			require.NotZero(t, r.ID)
			return r
		}
		b := mk("b", "send", 10, true)
		a := mk("a", "send", 1, true)
		c := mk("c", "send", 10, true)
		mk("off", "send", 0, false)
		d := mk("d", "receipt", 5, true)

		t.Run("ByScene", func(t *testing.T) {
			got, err := db.ListRules(ctx, "send")
			require.NoError(t, err)
			require.Equal(t, []Rule{*a, *b, *c}, got)
		})
		t.Run("All", func(t *testing.T) {
			got, err := db.ListRules(ctx, "")
			require.NoError(t, err)
			require.Equal(t, []Rule{*a, *d, *b, *c}, got)
		})
		t.Run("Delete", func(t *testing.T) {
			require.NoError(t, db.DeleteRule(ctx, b.ID))
			require.ErrorIs(t, db.DeleteRule(ctx, b.ID), ErrNotFound)
			got, err := db.ListRules(ctx, "send")
			require.NoError(t, err)
			require.Equal(t, []Rule{*a, *c}, got)
		})
		t.Run("Empty", func(t *testing.T) {
			got, err := db.ListRules(ctx, "none")
			require.NoError(t, err)
			require.NotNil(t, got)
			require.Empty(t, got)
		})
	})
}
