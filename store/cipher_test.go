package store

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCipher(t *testing.T) {
	t.Parallel()

	t.Run("RoundTrip", func(t *testing.T) {
		t.Parallel()
		c := testCipher(t)
		for _, plain := range [][]byte{nil, []byte("s"), bytes.Repeat([]byte("secret "), 1000)} {
			ct, err := c.Encrypt(plain)
			require.NoError(t, err)
			require.Equal(t, cipherV1, ct[0])
			require.Len(t, ct, 1+12+len(plain)+16)
			got, err := c.Decrypt(ct)
			require.NoError(t, err)
			require.Equal(t, string(plain), string(got))
		}
	})
	t.Run("FreshNonce", func(t *testing.T) {
		t.Parallel()
		c := testCipher(t)
		a, err := c.Encrypt([]byte("same"))
		require.NoError(t, err)
		b, err := c.Encrypt([]byte("same"))
		require.NoError(t, err)
		require.NotEqual(t, a, b)
	})
	t.Run("WrongKey", func(t *testing.T) {
		t.Parallel()
		ct, err := testCipher(t).Encrypt([]byte("secret"))
		require.NoError(t, err)
		_, err = testCipher(t).Decrypt(ct)
		require.ErrorIs(t, err, ErrDecrypt)
	})
	t.Run("Tampered", func(t *testing.T) {
		t.Parallel()
		c := testCipher(t)
		ct, err := c.Encrypt([]byte("secret"))
		require.NoError(t, err)
		for i := range ct {
			bad := bytes.Clone(ct)
			bad[i] ^= 0x01
			_, err = c.Decrypt(bad)
			require.ErrorIs(t, err, ErrDecrypt, "byte %d", i)
		}
		_, err = c.Decrypt(ct[:10])
		require.ErrorIs(t, err, ErrDecrypt)
		_, err = c.Decrypt(nil)
		require.ErrorIs(t, err, ErrDecrypt)
	})
	t.Run("BadKeySize", func(t *testing.T) {
		t.Parallel()
		_, err := NewCipher(make([]byte, 16))
		require.ErrorContains(t, err, "32 bytes")
	})
	t.Run("Nil", func(t *testing.T) {
		t.Parallel()
		var c *Cipher
		_, err := c.Encrypt([]byte("x"))
		require.ErrorIs(t, err, ErrNoCipher)
		_, err = c.Decrypt([]byte("x"))
		require.ErrorIs(t, err, ErrNoCipher)
	})
}

func TestParseMasterKey(t *testing.T) {
	t.Parallel()
	key := make([]byte, 32)
	_, err := rand.Read(key)
	require.NoError(t, err)
	// A key whose encodings differ between the alphabets.
	key[0], key[1], key[2] = 0xfb, 0xff, 0xfe

	for name, enc := range map[string]*base64.Encoding{
		"Std": base64.StdEncoding, "RawStd": base64.RawStdEncoding,
		"URL": base64.URLEncoding, "RawURL": base64.RawURLEncoding,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseMasterKey(" " + enc.EncodeToString(key) + "\n")
			require.NoError(t, err)
			require.Equal(t, key, got)
		})
	}
	t.Run("Errors", func(t *testing.T) {
		t.Parallel()
		for in, want := range map[string]string{
			"":                   "empty",
			"not base64 at all!": "not valid base64",
			base64.StdEncoding.EncodeToString(key[:16]):       "16 bytes, want 32",
			base64.StdEncoding.EncodeToString(append(key, 1)): "33 bytes, want 32",
		} {
			_, err := ParseMasterKey(in)
			require.ErrorContains(t, err, want)
			if in != "" {
				require.NotContains(t, err.Error(), in, "the key is never echoed")
			}
		}
	})
}

// TestEncryptionAtRest checks that secrets never reach the database in the
// clear and that another master key cannot read them.
func TestEncryptionAtRest(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		const secret, cbSecret, token = "app-secret-plaintext", "whsec_callbackplaintext", "sdk-secret-key-plaintext"

		app := &App{ID: "app1", Name: "App", Secret: secret, CallbackSecret: cbSecret, Enabled: true}
		require.NoError(t, db.CreateApp(ctx, app))
		acc := &ProviderAccount{Name: "tc", Kind: "tencent", Config: json.RawMessage(`{"secret_key":"` + token + `"}`), Enabled: true}
		require.NoError(t, db.CreateAccount(ctx, acc))

		var row struct {
			SecretEnc, CallbackSecretEnc []byte
		}
		require.NoError(t, db.Bun().QueryRowContext(ctx, "SELECT secret_enc, callback_secret_enc FROM apps WHERE id = ?", "app1").
			Scan(&row.SecretEnc, &row.CallbackSecretEnc))
		var configEnc []byte
		require.NoError(t, db.Bun().QueryRowContext(ctx, "SELECT config_enc FROM provider_accounts WHERE id = ?", acc.ID).
			Scan(&configEnc))
		for _, raw := range [][]byte{row.SecretEnc, row.CallbackSecretEnc, configEnc} {
			require.NotEmpty(t, raw)
			require.Equal(t, cipherV1, raw[0])
			for _, plain := range []string{secret, cbSecret, token, "secret_key"} {
				require.False(t, bytes.Contains(raw, []byte(plain)), "plaintext %q stored", plain)
			}
		}

		// The same database read through another master key.
		other := db.withIDB(db.idb)
		other.cipher = testCipher(t)
		_, err := other.GetApp(ctx, "app1")
		require.ErrorIs(t, err, ErrDecrypt)
		require.ErrorContains(t, err, "wrong master key")
		_, err = other.GetAccount(ctx, acc.ID)
		require.ErrorIs(t, err, ErrDecrypt)
		_, err = other.ListAccounts(ctx)
		require.ErrorIs(t, err, ErrDecrypt)

		// And without one.
		none := db.withIDB(db.idb)
		none.cipher = nil
		_, err = none.GetApp(ctx, "app1")
		require.ErrorIs(t, err, ErrNoCipher)
		err = none.CreateApp(ctx, &App{ID: "app2", Name: "x"})
		require.ErrorIs(t, err, ErrNoCipher)

		got, err := db.GetApp(ctx, "app1")
		require.NoError(t, err)
		require.Equal(t, secret, got.Secret)
		require.Equal(t, cbSecret, got.CallbackSecret)
		require.False(t, strings.Contains(string(got.SecretEnc), secret))
	})
}
