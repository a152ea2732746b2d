package apply

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/store"
)

func TestApplyExpiryAndQuietHours(t *testing.T) {
	t.Parallel()
	s := newApplyStore(t)
	doc := strings.Replace(applyBase, "    rate_limit_per_second: 50\n",
		"    rate_limit_per_second: 50\n    quiet_hours: {start: \"22:00\", end: \"07:00\", time_zone: UTC}\n", 1)
	doc = strings.Replace(doc, "    variables: [code, minutes]\n", "    variables: [code, minutes]\n    ttl_seconds: 600\n    critical: true\n", 1)
	doc = strings.Replace(doc, "    max_attempts: 3\n",
		"    max_attempts: 3\n    default_ttl_seconds: 3600\n    quiet_hours:\n      start: \"21:00\"\n      end: \"08:00\"\n      time_zone: Asia/Shanghai\n", 1)
	s.mustApply(nil, doc)

	ctx := t.Context()
	app, err := s.db.GetApp(ctx, "shop")
	require.NoError(t, err)
	require.Equal(t, &store.QuietHours{Start: "22:00", End: "07:00", TimeZone: "UTC"}, app.QuietHours)
	ch, err := s.db.FindChannelByName(ctx, "sms")
	require.NoError(t, err)
	require.Equal(t, 3600, ch.DefaultTTLSeconds)
	require.Equal(t, &store.QuietHours{Start: "21:00", End: "08:00", TimeZone: "Asia/Shanghai"}, ch.QuietHours)
	tpl, err := s.db.GetTemplate(ctx, *ch.TemplateID)
	require.NoError(t, err)
	require.Equal(t, 600, tpl.TTLSeconds)
	require.True(t, tpl.Critical)

	require.NotContains(t, s.mustApply(nil, doc), "updated", "applying the same file changes nothing")

	// Removing the settings from the file removes them from the store.
	out := s.mustApply(nil, applyBase)
	require.Contains(t, out, "app shop: updated (quiet_hours)")
	require.Contains(t, out, "template code: updated (ttl_seconds, critical)")
	require.Contains(t, out, "channel sms: updated (default_ttl_seconds, quiet_hours)")
	ch, err = s.db.FindChannelByName(ctx, "sms")
	require.NoError(t, err)
	require.Nil(t, ch.QuietHours)
	require.Zero(t, ch.DefaultTTLSeconds)

	t.Run("ErrInvalid", func(t *testing.T) {
		bad := strings.Replace(applyBase, "    rate_limit_per_second: 50\n",
			"    rate_limit_per_second: 50\n    quiet_hours: {start: \"22:00\", end: \"07:00\", time_zone: Mars/Olympus}\n", 1)
		bad = strings.Replace(bad, "    variables: [code, minutes]\n", "    variables: [code, minutes]\n    ttl_seconds: -1\n", 1)
		bad = strings.Replace(bad, "    max_attempts: 3\n",
			"    max_attempts: 3\n    default_ttl_seconds: 2592001\n    quiet_hours: {start: \"9pm\", end: \"08:00\", time_zone: UTC}\n", 1)
		res := s.apply(nil, bad)
		require.NotEqual(t, 0, res.code)
		require.Contains(t, res.err, `apps[0].quiet_hours.time_zone: "Mars/Olympus" is not an IANA time zone name`)
		require.Contains(t, res.err, "templates[0].ttl_seconds: must be between 0")
		require.Contains(t, res.err, "channels[0].default_ttl_seconds: must be between 0 (24 hours) and 2592000")
		require.Contains(t, res.err, `channels[0].quiet_hours.start: "9pm" is not a time of day as HH:MM`)
	})
}
