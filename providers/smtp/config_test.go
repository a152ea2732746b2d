package smtp

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// testCAPEM is a freshly made self-signed certificate in PEM.
func testCAPEM(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	ca := testCAPEM(t)
	valid := Config{Host: "smtp.example.com", From: "noreply@example.com"}
	edit := func(f func(*Config)) Config {
		c := valid
		f(&c)
		return c
	}
	tests := []struct {
		name     string
		cfg      Config
		problems []string
	}{
		{"Minimal", valid, nil},
		{"Everything", Config{
			Host: "smtp.example.com", Port: 465, Username: "u", Password: "p", From: "noreply@example.com",
			FromName: "Herald", TLSMode: TLSImplicit, TLSServerName: "mx.example.com", CAPEM: ca,
			TimeoutSeconds: 60, MaxAttachmentBytes: 1 << 20, HELOName: "herald.example.com",
		}, nil},
		{"IPHost", edit(func(c *Config) { c.Host = "192.0.2.10" }), nil},
		{"IPv6Host", edit(func(c *Config) { c.Host = "2001:db8::1" }), nil},
		{"NoneOnLocalhost", edit(func(c *Config) { c.Host, c.TLSMode = "localhost", TLSNone }), nil},
		{"NoneOnLoopbackIP", edit(func(c *Config) { c.Host, c.TLSMode = "127.0.0.2", TLSNone }), nil},
		{"NoneOnIPv6Loopback", edit(func(c *Config) { c.Host, c.TLSMode = "::1", TLSNone }), nil},
		{"HELOLiteral", edit(func(c *Config) { c.HELOName = "[192.0.2.1]" }), nil},
		{"HELOIPv6Literal", edit(func(c *Config) { c.HELOName = "[IPv6:2001:db8::1]" }), nil},
		{"InsecureSkipVerify", edit(func(c *Config) { c.InsecureSkipVerify = true }), nil},

		{"Empty", Config{}, []string{"host is required", "from is required"}},
		{"HostWithPort", edit(func(c *Config) { c.Host = "smtp.example.com:587" }), []string{"without scheme or port"}},
		{"HostWithScheme", edit(func(c *Config) { c.Host = "smtp://smtp.example.com" }), []string{"without scheme or port"}},
		{"HostWithSpace", edit(func(c *Config) { c.Host = "smtp example.com" }), []string{"host"}},
		{"BadPort", edit(func(c *Config) { c.Port = 70000 }), []string{"port must be between"}},
		{"NegativePort", edit(func(c *Config) { c.Port = -1 }), []string{"port must be between"}},
		{"UsernameWithoutPassword", edit(func(c *Config) { c.Username = "u" }), []string{"password is required with username"}},
		{"PasswordWithoutUsername", edit(func(c *Config) { c.Password = "p" }), []string{"username is required with password"}},
		{"FromNotAddress", edit(func(c *Config) { c.From = "noreply" }), []string{"from is not an e-mail address"}},
		{"FromWithName", edit(func(c *Config) { c.From = "Herald <noreply@example.com>" }), []string{"from must be a bare address"}},
		{"FromNameLineBreak", edit(func(c *Config) { c.FromName = "a\r\nBcc: x@example.com" }), []string{"from_name contains a control character"}},
		{"BadTLSMode", edit(func(c *Config) { c.TLSMode = "ssl" }), []string{`tls_mode "ssl"`}},
		{"NoneOnRemoteHost", edit(func(c *Config) { c.TLSMode = TLSNone }), []string{"tls_mode none is only allowed"}},
		{"NoneOnLocalLookingName", edit(func(c *Config) { c.Host, c.TLSMode = "localhost.example.com", TLSNone }), []string{"tls_mode none is only allowed"}},
		{"BadServerName", edit(func(c *Config) { c.TLSServerName = "a b" }), []string{"tls_server_name"}},
		{"BadCA", edit(func(c *Config) { c.CAPEM = "not a certificate" }), []string{"ca_pem holds no PEM certificate"}},
		{"NegativeTimeout", edit(func(c *Config) { c.TimeoutSeconds = -1 }), []string{"timeout_seconds"}},
		{"HugeTimeout", edit(func(c *Config) { c.TimeoutSeconds = 3600 }), []string{"timeout_seconds"}},
		{"NegativeAttachmentLimit", edit(func(c *Config) { c.MaxAttachmentBytes = -1 }), []string{"max_attachment_bytes"}},
		{"HugeAttachmentLimit", edit(func(c *Config) { c.MaxAttachmentBytes = 1 << 30 }), []string{"max_attachment_bytes"}},
		{"BadHELO", edit(func(c *Config) { c.HELOName = "herald example" }), []string{"helo_name"}},
		{"HELOBareIP", edit(func(c *Config) { c.HELOName = "192.0.2.1" }), []string{"address literal"}},
		{"Several", Config{Host: "smtp.example.com", From: "x", TLSMode: "tls", Password: "p"},
			[]string{"username is required", "from is not", `tls_mode "tls"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.cfg.Validate()
			if len(tc.problems) == 0 {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, p := range tc.problems {
				require.ErrorContains(t, err, p)
			}
		})
	}
}

func TestParseConfig(t *testing.T) {
	t.Parallel()

	t.Run("Defaults", func(t *testing.T) {
		t.Parallel()
		for mode, port := range map[string]int{"": 587, TLSStartTLS: 587, TLSStartTLSOptional: 587, TLSImplicit: 465} {
			raw := fmt.Sprintf(`{"host":"smtp.example.com","from":"noreply@example.com","tls_mode":%q}`, mode)
			cfg, err := ParseConfig(json.RawMessage(raw))
			require.NoError(t, err)
			require.Equal(t, port, cfg.Port, "tls_mode %q", mode)
			require.NotEmpty(t, cfg.TLSMode)
			require.Equal(t, DefaultTimeoutSeconds, cfg.TimeoutSeconds)
			require.Equal(t, int64(DefaultMaxAttachmentBytes), cfg.MaxAttachmentBytes)
			require.False(t, cfg.InsecureSkipVerify)
		}
		cfg, err := ParseConfig(json.RawMessage(`{"host":"localhost","from":"a@example.com","tls_mode":"none"}`))
		require.NoError(t, err)
		require.Equal(t, 25, cfg.Port)
	})

	t.Run("AllFields", func(t *testing.T) {
		t.Parallel()
		ca := testCAPEM(t)
		raw, err := json.Marshal(map[string]any{
			"host": "smtp.example.com", "port": 2525, "username": "u", "password": "p",
			"from": "noreply@example.com", "from_name": "Herald", "tls_mode": "starttls_optional",
			"tls_server_name": "mx.example.com", "ca_pem": ca, "insecure_skip_verify": true,
			"timeout_seconds": 12, "max_attachment_bytes": 2048, "helo_name": "herald.example.com",
		})
		require.NoError(t, err)
		cfg, err := ParseConfig(raw)
		require.NoError(t, err)
		require.Equal(t, Config{
			Host: "smtp.example.com", Port: 2525, Username: "u", Password: "p", From: "noreply@example.com",
			FromName: "Herald", TLSMode: TLSStartTLSOptional, TLSServerName: "mx.example.com", CAPEM: ca,
			InsecureSkipVerify: true, TimeoutSeconds: 12, MaxAttachmentBytes: 2048, HELOName: "herald.example.com",
		}, cfg)
	})

	t.Run("UnknownAndWrongTypes", func(t *testing.T) {
		t.Parallel()
		_, err := ParseConfig(json.RawMessage(`{"host":"smtp.example.com","from":"a@example.com","port":"587","passwrd":"hunter2","insecure_skip_verify":"yes","password":42}`))
		require.ErrorContains(t, err, `unknown field "passwrd"`)
		require.ErrorContains(t, err, "port must be an integer")
		require.ErrorContains(t, err, "insecure_skip_verify must be a boolean")
		require.ErrorContains(t, err, "password must be a string")
		require.NotContains(t, err.Error(), "hunter2")
	})

	t.Run("NotAnObject", func(t *testing.T) {
		t.Parallel()
		_, err := ParseConfig(json.RawMessage(`[1]`))
		require.ErrorContains(t, err, "config must be a JSON object")
		_, err = ParseConfig(nil)
		require.ErrorContains(t, err, "host is required")
	})

	t.Run("PasswordNeverInErrors", func(t *testing.T) {
		t.Parallel()
		_, err := ParseConfig(json.RawMessage(`{"host":"bad host","from":"x","password":"hunter2"}`))
		require.Error(t, err)
		require.NotContains(t, err.Error(), "hunter2")
	})
}

func TestConfigString(t *testing.T) {
	t.Parallel()
	cfg := Config{Host: "smtp.example.com", Username: "u", Password: "hunter2", From: "a@example.com", CAPEM: testCAPEM(t)}
	for _, s := range []string{cfg.String(), fmt.Sprintf("%v", cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg)} {
		require.NotContains(t, s, "hunter2")
		require.Contains(t, s, "password:[redacted]")
		require.NotContains(t, s, "BEGIN CERTIFICATE")
	}
}
