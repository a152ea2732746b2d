package store

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSuppressions(t *testing.T) {
	t.Parallel()
	keys := NewReceiverKeyer([]byte("0123456789abcdef0123456789abcdef"))
	eachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		phone := "+8613800138000"
		key := keys.Key(ChannelSMS, phone)
		s := &Suppression{AppID: "app1", ChannelType: ChannelSMS, ReceiverKey: key, ReceiverMasked: MaskReceiver(ChannelSMS, phone), Reason: "replied TD", Source: SuppressionReply}
		require.NoError(t, db.AddSuppression(ctx, s))
		require.NotZero(t, s.ID)

		t.Run("AddTwiceKeepsTheFirst", func(t *testing.T) {
			again := &Suppression{AppID: "app1", ChannelType: ChannelSMS, ReceiverKey: key, Reason: "operator", Source: SuppressionOperator}
			require.NoError(t, db.AddSuppression(ctx, again))
			got, err := db.ListSuppressions(ctx, SuppressionFilter{AppID: "app1"})
			require.NoError(t, err)
			require.Len(t, got, 1)
			require.Equal(t, "replied TD", got[0].Reason)
			require.Equal(t, "+86138****8000", got[0].ReceiverMasked)
			require.False(t, strings.Contains(got[0].ReceiverKey, "13800138000"))
		})
		t.Run("SuppressedKeys", func(t *testing.T) {
			other := keys.Key(ChannelSMS, "+8613900139000")
			got, err := db.SuppressedKeys(ctx, "app1", ChannelSMS, []string{key, other})
			require.NoError(t, err)
			require.Equal(t, map[string]bool{key: true}, got)
			// Per app and per channel type.
			got, err = db.SuppressedKeys(ctx, "app2", ChannelSMS, []string{key})
			require.NoError(t, err)
			require.Empty(t, got)
			got, err = db.SuppressedKeys(ctx, "app1", ChannelEmail, []string{key})
			require.NoError(t, err)
			require.Empty(t, got)
		})
		t.Run("Bounce", func(t *testing.T) {
			ek := keys.Key(ChannelEmail, "User@Example.com")
			require.Equal(t, ek, keys.Key(ChannelEmail, "user@example.com"))
			require.NoError(t, db.AddBounceSuppression(ctx, "app1", ek, MaskReceiver(ChannelEmail, "user@example.com"), "hard bounce"))
			got, err := db.ListSuppressions(ctx, SuppressionFilter{AppID: "app1", ChannelType: ChannelEmail})
			require.NoError(t, err)
			require.Len(t, got, 1)
			require.Equal(t, SuppressionBounce, got[0].Source)
			require.Equal(t, "u***@example.com", got[0].ReceiverMasked)
		})
		t.Run("Remove", func(t *testing.T) {
			require.NoError(t, db.RemoveSuppression(ctx, "app1", ChannelSMS, key))
			require.ErrorIs(t, db.RemoveSuppression(ctx, "app1", ChannelSMS, key), ErrNotFound)
			got, err := db.SuppressedKeys(ctx, "app1", ChannelSMS, []string{key})
			require.NoError(t, err)
			require.Empty(t, got)
		})
	})
}

func TestReceiverProtectionColumns(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		tpl := &Template{Name: "otp", ContentType: "text", Content: "{{code}}", Variables: []string{"code"}, Kind: TemplateKindVerification}
		require.NoError(t, db.CreateTemplate(ctx, tpl))
		got, err := db.GetTemplate(ctx, tpl.ID)
		require.NoError(t, err)
		require.Equal(t, TemplateKindVerification, got.Kind)
		require.Nil(t, got.ReceiverCaps)
		require.Equal(t, VerificationReceiverCaps, got.EffectiveReceiverCaps())

		caps := &ReceiverCaps{PerMinute: 2}
		require.NoError(t, db.UpdateTemplate(ctx, tpl.ID, TemplatePatch{ReceiverCaps: &caps, Kind: ptr("")}))
		got, err = db.GetTemplate(ctx, tpl.ID)
		require.NoError(t, err)
		require.Equal(t, ReceiverCaps{PerMinute: 2}, got.EffectiveReceiverCaps())
		require.Empty(t, got.Kind)

		ch := &Channel{Name: "sms", Type: ChannelSMS, Enabled: true, ReceiverCaps: &ReceiverCaps{PerDay: 3}, AllowedCountries: []string{"CN"}}
		require.NoError(t, db.CreateChannel(ctx, ch))
		gc, err := db.GetChannel(ctx, ch.ID)
		require.NoError(t, err)
		require.Equal(t, &ReceiverCaps{PerDay: 3}, gc.ReceiverCaps)
		require.Equal(t, []string{"CN"}, gc.AllowedCountries)

		var none *ReceiverCaps
		require.NoError(t, db.UpdateChannel(ctx, ch.ID, ChannelPatch{ReceiverCaps: &none, AllowedCountries: &[]string{"CN", "HK"}}))
		gc, err = db.GetChannel(ctx, ch.ID)
		require.NoError(t, err)
		require.Nil(t, gc.ReceiverCaps)
		require.Equal(t, []string{"CN", "HK"}, gc.AllowedCountries)
	})
}

func TestReceiverKey(t *testing.T) {
	t.Parallel()
	a := NewReceiverKeyer([]byte("0123456789abcdef0123456789abcdef"))
	b := NewReceiverKeyer([]byte("fedcba9876543210fedcba9876543210"))
	k := a.Key(ChannelSMS, "+8613800138000")
	require.Len(t, k, 64)
	require.Equal(t, k, a.Key(ChannelSMS, " +8613800138000 "), "trimmed")
	require.NotEqual(t, k, b.Key(ChannelSMS, "+8613800138000"), "keyed by the master key")
	unkeyed := sha256.Sum256([]byte("+8613800138000"))
	require.NotEqual(t, hex.EncodeToString(unkeyed[:]), k)
	require.Equal(t, a.Key(ChannelEmail, "User@Example.COM"), a.Key(ChannelEmail, "user@example.com"))
	require.NotEqual(t, a.Key(ChannelWebhook, "User"), a.Key(ChannelWebhook, "user"), "user ids keep their case")

	for in, want := range map[string]string{
		"+8613800138000": "+86138****8000",
		"+14155550100":   "+14155****0100",
		"oncall":         "on***ll",
		"abc":            "***",
	} {
		require.Equal(t, want, MaskReceiver(ChannelSMS, in), in)
	}
	require.Equal(t, "u***@example.com", MaskReceiver(ChannelEmail, "User@Example.com"))
}

// TestSuppressedKeysOfALargeBatch asks about more receivers than one
// SQLite statement names, for an app with few opt-outs (read whole and
// matched in memory) and for one with more opt-outs than receivers asked
// about (looked up receiver by receiver): both find exactly the opted out.
func TestSuppressedKeysOfALargeBatch(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		key := func(i int) string { return "key-" + hex.EncodeToString([]byte{byte(i >> 8), byte(i)}) }
		asked := make([]string, suppressionChunk+100)
		for i := range asked {
			asked[i] = key(i)
		}
		for i := range suppressionChunk + 300 {
			require.NoError(t, db.AddSuppression(ctx, &Suppression{AppID: "many", ChannelType: ChannelSMS, ReceiverKey: key(i * 2), Source: SuppressionOperator}))
		}
		for _, i := range []int{3, 700, suppressionChunk + 50, 5000} {
			require.NoError(t, db.AddSuppression(ctx, &Suppression{AppID: "few", ChannelType: ChannelSMS, ReceiverKey: key(i), Source: SuppressionOperator}))
		}
		got, err := db.SuppressedKeys(ctx, "few", ChannelSMS, asked)
		require.NoError(t, err)
		require.Equal(t, map[string]bool{key(3): true, key(700): true, key(suppressionChunk + 50): true}, got)
		got, err = db.SuppressedKeys(ctx, "many", ChannelSMS, asked)
		require.NoError(t, err)
		require.Len(t, got, (len(asked)+1)/2)
		for k := range got {
			require.True(t, got[k])
		}
		require.True(t, got[key(0)])
		require.False(t, got[key(1)])
		got, err = db.SuppressedKeys(ctx, "many", ChannelEmail, asked)
		require.NoError(t, err)
		require.Empty(t, got, "another channel type's opt-outs do not count")
	})
}
