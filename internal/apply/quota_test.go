package apply

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/store"
)

func TestApplyQuotas(t *testing.T) {
	t.Parallel()
	s := newApplyStore(t)
	ctx := t.Context()
	withQuota := strings.Replace(applyBase, "    rate_limit_per_second: 50\n",
		"    rate_limit_per_second: 50\n    time_zone: Europe/Berlin\n    quota:\n      daily: 1000\n      monthly: 20000\n      channels:\n        sms: {daily: 100}\n", 1)
	out := s.mustApply(nil, withQuota)
	require.Contains(t, out, "quotas of app shop:")
	app, err := s.db.GetApp(ctx, "shop")
	require.NoError(t, err)
	require.Equal(t, "Europe/Berlin", app.TimeZone)
	qs, err := s.db.ListQuotas(ctx, "shop")
	require.NoError(t, err)
	require.Len(t, qs, 2)
	require.Equal(t, store.Quota{AppID: "shop", Daily: 1000, Monthly: 20000}, qs[0])
	require.Equal(t, int64(100), qs[1].Daily)
	require.Zero(t, qs[1].Monthly)

	out = s.mustApply(nil, withQuota)
	require.Contains(t, out, "quotas of app shop: unchanged")

	// Dropping a channel's quota from the file removes it.
	out = s.mustApply(nil, strings.Replace(withQuota, "      channels:\n        sms: {daily: 100}\n", "", 1))
	require.Contains(t, out, "quotas of app shop: removed channel sms")
	qs, err = s.db.ListQuotas(ctx, "shop")
	require.NoError(t, err)
	require.Len(t, qs, 1)

	bad := strings.Replace(withQuota, "Europe/Berlin", "Mars/Olympus", 1)
	bad = strings.Replace(bad, "daily: 1000", "daily: -1", 1)
	res := s.apply(nil, bad)
	require.NotEqual(t, 0, res.code)
	require.Contains(t, res.err, "time_zone: \"Mars/Olympus\" is not a known IANA time zone")
	require.Contains(t, res.err, "quota: daily and monthly must not be negative")
}
