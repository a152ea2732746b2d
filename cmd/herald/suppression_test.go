package main

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/store"
)

func TestSuppressionCommand(t *testing.T) {
	t.Parallel()
	s := newApplyStore(t)
	s.mustApply(nil, "apps:\n  - id: shop\n    name: Shop\n"+applyBase)

	res := runCLI(t, nil, s.args("suppression", "add", "--app", "shop", "--type", "sms", "--receiver", "13800138000", "--reason", "asked by phone")...)
	require.Equal(t, 0, res.code, res.stderr)
	require.Equal(t, "sms +86138****8000: suppressed for app shop\n", res.stdout)

	t.Run("StoredUnderTheReceiverKey", func(t *testing.T) {
		db, err := store.Open(t.Context(), store.Options{URL: s.url})
		require.NoError(t, err)
		defer db.Close()
		keys := store.NewReceiverKeyer([]byte("0123456789abcdef0123456789abcdef"))
		got, err := db.SuppressedKeys(t.Context(), "shop", store.ChannelSMS, []string{keys.Key(store.ChannelSMS, "+8613800138000")})
		require.NoError(t, err)
		require.Len(t, got, 1)
	})

	res = runCLI(t, nil, s.args("suppression", "list", "--app", "shop")...)
	require.Equal(t, 0, res.code, res.stderr)
	require.Contains(t, res.stdout, "TYPE")
	require.Contains(t, res.stdout, "sms   +86138****8000  operator  asked by phone")
	require.NotContains(t, res.stdout, "13800138000")

	res = runCLI(t, nil, s.args("suppression", "list", "--app", "shop", "--type", "sms", "--receiver", "+8613900139000")...)
	require.Equal(t, 0, res.code, res.stderr)
	require.NotContains(t, res.stdout, "+86138")

	res = runCLI(t, nil, s.args("suppression", "remove", "--app", "shop", "--type", "sms", "--receiver", "+8613800138000")...)
	require.Equal(t, 0, res.code, res.stderr)
	require.Equal(t, "sms +86138****8000: no longer suppressed for app shop\n", res.stdout)

	res = runCLI(t, nil, s.args("suppression", "remove", "--app", "shop", "--type", "sms", "--receiver", "+8613800138000")...)
	require.Equal(t, 1, res.code)
	require.Contains(t, res.stderr, "sms +86138****8000 is not suppressed for app shop")

	t.Run("Errors", func(t *testing.T) {
		res := runCLI(t, nil, s.args("suppression", "add", "--type", "fax")...)
		require.Equal(t, 1, res.code)
		require.Contains(t, res.stderr, "--app is required")
		require.Contains(t, res.stderr, `--type "fax" is not a channel type`)
		require.Contains(t, res.stderr, "--receiver is required")

		res = runCLI(t, nil, s.args("suppression", "add", "--app", "nope", "--type", "sms", "--receiver", "+8613800138000")...)
		require.Equal(t, 1, res.code)
		require.Contains(t, res.stderr, `no app "nope"`)

		res = runCLI(t, nil, s.args("suppression", "add", "--app", "shop", "--type", "sms", "--receiver", "12345")...)
		require.Equal(t, 1, res.code)
		require.Contains(t, res.stderr, "--receiver is not a valid phone number")
	})

	t.Run("Help", func(t *testing.T) {
		res := runCLI(t, nil, "suppression", "add", "--help")
		require.Equal(t, 0, res.code)
		require.Contains(t, res.stdout, "herald suppression add --app shop --type sms --receiver +8613800138000")
		require.Contains(t, res.stdout, "--reason")
	})
}
