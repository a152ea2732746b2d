package apply

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/store"
)

func TestApplyReceiverProtection(t *testing.T) {
	t.Parallel()
	s := newApplyStore(t)
	doc := strings.Replace(applyBase, "    variables: [code, minutes]\n",
		"    variables: [code, minutes]\n    kind: verification\n", 1)
	doc = strings.Replace(doc, "    max_attempts: 3\n",
		"    max_attempts: 3\n    receiver_caps: {per_hour: 20}\n    allowed_countries: [CN, HK]\n", 1)
	s.mustApply(nil, doc)

	ctx := t.Context()
	tpl, err := s.db.FindTemplateByName(ctx, "code")
	require.NoError(t, err)
	require.Equal(t, store.TemplateKindVerification, tpl.Kind)
	require.Nil(t, tpl.ReceiverCaps, "the kind's default applies")
	require.Equal(t, store.VerificationReceiverCaps, tpl.EffectiveReceiverCaps())
	ch, err := s.db.FindChannelByName(ctx, "sms")
	require.NoError(t, err)
	require.Equal(t, &store.ReceiverCaps{PerHour: 20}, ch.ReceiverCaps)
	require.Equal(t, []string{"CN", "HK"}, ch.AllowedCountries)

	t.Run("Unchanged", func(t *testing.T) {
		out := s.mustApply(nil, doc)
		require.Contains(t, out, "template code: unchanged")
		require.Contains(t, out, "channel sms: unchanged")
	})

	t.Run("Changed", func(t *testing.T) {
		changed := strings.Replace(doc, "    kind: verification\n", "    kind: verification\n    receiver_caps: {per_minute: 2, per_day: 30}\n", 1)
		changed = strings.Replace(changed, "    receiver_caps: {per_hour: 20}\n    allowed_countries: [CN, HK]\n", "", 1)
		out := s.mustApply(nil, changed)
		require.Contains(t, out, "template code: updated (receiver_caps)")
		require.Contains(t, out, "channel sms: updated (receiver_caps, allowed_countries)")
		tpl, err := s.db.FindTemplateByName(ctx, "code")
		require.NoError(t, err)
		require.Equal(t, store.ReceiverCaps{PerMinute: 2, PerDay: 30}, tpl.EffectiveReceiverCaps())
		ch, err := s.db.FindChannelByName(ctx, "sms")
		require.NoError(t, err)
		require.Nil(t, ch.ReceiverCaps)
		require.Empty(t, ch.AllowedCountries)
	})

	t.Run("ErrInvalid", func(t *testing.T) {
		bad := strings.Replace(applyBase, "    variables: [code, minutes]\n",
			"    variables: [code, minutes]\n    kind: otp\n    receiver_caps: {per_minute: -1}\n", 1)
		bad = strings.Replace(bad, "    max_attempts: 3\n", "    max_attempts: 3\n    allowed_countries: [cn, XX]\n", 1)
		res := s.apply(nil, bad)
		require.NotEqual(t, 0, res.code)
		require.Contains(t, res.err, `kind: "otp" is not a template kind`)
		require.Contains(t, res.err, "receiver_caps.per_minute: must not be negative")
		require.Contains(t, res.err, `allowed_countries[0]: "cn" is not an ISO 3166 country code`)
		require.Contains(t, res.err, `allowed_countries[1]: "XX" is not an ISO 3166 country code`)
	})
}
