package resources

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/store"
)

// An SMTP account's DKIM private key is write-only: checked when written,
// stored, and never shown again by the API or the audit log.
func TestSMTPAccountDKIMKeyIsWriteOnly(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	require.NoError(t, err)
	keyPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	keyBody := strings.Split(keyPEM, "\n")[1]
	config := func(dkim map[string]any) map[string]any {
		return map[string]any{"host": "smtp.example.com", "from": "noreply@example.com", "dkim": dkim}
	}

	t.Run("Invalid", func(t *testing.T) {
		a := s.must(http.StatusBadRequest, http.MethodPost, "/accounts", map[string]any{"name": "mail-bad", "kind": "smtp",
			"config": config(map[string]any{"domain": "example.com", "private_key_pem": "-----BEGIN PRIVATE KEY-----\nSECRETSECRET\n-----END PRIVATE KEY-----\n"})})
		require.Equal(t, "config", a.body["field"])
		require.Contains(t, a.raw, "dkim.selector is required")
		require.Contains(t, a.raw, "dkim.private_key_pem must be an RSA or Ed25519 private key in PEM")
		require.NotContains(t, a.raw, "SECRETSECRET")
	})

	acc := s.must(http.StatusCreated, http.MethodPost, "/accounts", map[string]any{"name": "mail", "kind": "smtp",
		"config": config(map[string]any{"domain": "example.com", "selector": "herald2026", "private_key_pem": keyPEM})})
	require.NotContains(t, acc.raw, keyBody)
	dkim := acc.body["config"].(map[string]any)["dkim"].(map[string]any)
	require.True(t, strings.HasPrefix(dkim["private_key_pem"].(string), "****"), "masked: %v", dkim["private_key_pem"])

	id := int64(acc.body["id"].(float64))
	got := s.must(http.StatusOK, http.MethodGet, "/accounts/"+strconv.FormatInt(id, 10), nil)
	require.NotContains(t, got.raw, keyBody)
	list := s.must(http.StatusOK, http.MethodGet, "/accounts", nil)
	require.NotContains(t, list.raw, keyBody)

	stored, err := s.db.GetAccount(t.Context(), id)
	require.NoError(t, err)
	require.Contains(t, string(stored.Config), keyBody[:20], "the key is kept for sending")

	recs, err := s.db.ListAudit(t.Context(), store.AuditFilter{Limit: 50})
	require.NoError(t, err)
	require.NotEmpty(t, recs)
	for _, r := range recs {
		require.NotContains(t, r.DiffJSON, keyBody, "the audit log shows the key")
	}
}
