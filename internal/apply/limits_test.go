package apply

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestApplyAppLimits(t *testing.T) {
	t.Parallel()
	s := newApplyStore(t)
	withLimits := strings.Replace(applyBase, "    rate_limit_per_second: 50\n",
		"    rate_limit_per_second: 50\n    requests_per_minute: 600\n    burst: 20\n    messages_per_minute: 5000\n", 1)
	s.mustApply(nil, withLimits)
	app, err := s.db.GetApp(t.Context(), "shop")
	require.NoError(t, err)
	require.Equal(t, 600, app.RequestsPerMinute)
	require.Equal(t, 20, app.Burst)
	require.Equal(t, 5000, app.MessagesPerMinute)

	out := s.mustApply(nil, strings.Replace(withLimits, "messages_per_minute: 5000", "messages_per_minute: 0", 1))
	require.Contains(t, out, "app shop: updated (messages_per_minute)")
	app, err = s.db.GetApp(t.Context(), "shop")
	require.NoError(t, err)
	require.Zero(t, app.MessagesPerMinute)

	bad := strings.Replace(applyBase, "    rate_limit_per_second: 50\n", "    burst: 5\n    messages_per_minute: -1\n", 1)
	res := s.apply(nil, bad)
	require.NotEqual(t, 0, res.code)
	require.Contains(t, res.err, "burst: needs requests_per_minute")
	require.Contains(t, res.err, "messages_per_minute: must not be negative")
}
