package apply

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/store"
)

// Every write of herald apply is in the audit log, by the command line's
// user, with secrets redacted; a second apply of the same file writes
// nothing and records nothing.
func TestApplyAudit(t *testing.T) {
	t.Parallel()
	s := newApplyStore(t)
	s.mustApply(nil, applyBase)

	recs, err := s.db.ListAudit(t.Context(), store.AuditFilter{Limit: 500})
	require.NoError(t, err)
	actions := map[string]int{}
	for _, r := range recs {
		require.Equal(t, CLIActor(), r.Actor)
		require.True(t, strings.HasPrefix(r.Actor, "cli:"))
		actions[r.Action]++
	}
	require.Equal(t, map[string]int{
		"app.create": 1, "account.create": 2, "template.create": 1, "template.mapping": 1,
		"channel.create": 1, "channel.pool": 1, "rule.create": 2,
	}, actions)

	appRecs, err := s.db.ListAudit(t.Context(), store.AuditFilter{Action: "app.create"})
	require.NoError(t, err)
	require.Equal(t, []any{nil, "[redacted]"}, appRecs[0].Diff["secret"])
	accRecs, err := s.db.ListAudit(t.Context(), store.AuditFilter{Action: "account.create"})
	require.NoError(t, err)
	for _, r := range accRecs {
		require.Equal(t, []any{nil, "[redacted]"}, r.Diff["config"])
		require.Equal(t, []any{nil, "[redacted]"}, r.Diff["callback_token"])
	}

	s.mustApply(nil, applyBase)
	again, err := s.db.ListAudit(t.Context(), store.AuditFilter{Limit: 500})
	require.NoError(t, err)
	require.Len(t, again, len(recs))

	// A change raises the version by one and records the changed field.
	s.mustApply(nil, strings.Replace(applyBase, "rate_limit_per_second: 50", "rate_limit_per_second: 60", 1))
	app, err := s.db.GetApp(t.Context(), "shop")
	require.NoError(t, err)
	require.EqualValues(t, 2, app.Version)
	upd, err := s.db.ListAudit(t.Context(), store.AuditFilter{Action: "app.update"})
	require.NoError(t, err)
	require.Len(t, upd, 1)
	require.Equal(t, map[string]any{"rate_limit_per_second": []any{float64(50), float64(60)}}, upd[0].Diff)
}
