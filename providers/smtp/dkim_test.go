package smtp

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/stretchr/testify/require"
	mail "github.com/wneessen/go-mail"

	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/providers/smtp/smtpfake"
)

const (
	dkimDomain   = "example.com"
	dkimSelector = "herald2026"
)

// dkimKeyPair is a private key in PEM and the TXT record that publishes
// its public half.
type dkimKeyPair struct {
	pem string
	txt string
}

func rsaKeyPair(t *testing.T, bits int, pkcs1 bool) dkimKeyPair {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, bits)
	require.NoError(t, err)
	var block *pem.Block
	if pkcs1 {
		block = &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}
	} else {
		der, err := x509.MarshalPKCS8PrivateKey(key)
		require.NoError(t, err)
		block = &pem.Block{Type: "PRIVATE KEY", Bytes: der}
	}
	spki, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	require.NoError(t, err)
	return dkimKeyPair{pem: string(pem.EncodeToMemory(block)),
		txt: "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(spki)}
}

func ed25519KeyPair(t *testing.T) dkimKeyPair {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	require.NoError(t, err)
	// RFC 8463: the record holds the bare 32-byte key, not an SPKI.
	return dkimKeyPair{pem: string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		txt: "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)}
}

// verifyDKIM checks raw's signatures against records, a fake DNS of TXT
// records by name, and returns the verifications.
func verifyDKIM(t *testing.T, raw []byte, records map[string]string) []*dkim.Verification {
	t.Helper()
	lookup := func(name string) ([]string, error) {
		if txt, ok := records[name]; ok {
			return []string{txt}, nil
		}
		return nil, fmt.Errorf("no TXT record at %s", name)
	}
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(raw), &dkim.VerifyOptions{LookupTXT: lookup})
	require.NoError(t, err)
	return vs
}

func dkimRecordName() string { return dkimSelector + "._domainkey." + dkimDomain }

func TestDKIMSignatureVerifies(t *testing.T) {
	t.Parallel()
	rsaPKCS8 := rsaKeyPair(t, 2048, false)
	rsaPKCS1 := rsaKeyPair(t, 2048, true)
	ed := ed25519KeyPair(t)

	html := message()
	html.ContentType = "html"
	html.Content = "<p>Your code is <b>4711</b>.</p>\n<p>Trailing   spaces   \n\n\n"
	html.Attachments = []providers.Attachment{{Filename: "report.csv", ContentType: "text/csv", Content: []byte("a,b\n1,2\n")}}

	tests := []struct {
		name             string
		keys             dkimKeyPair
		canonicalization string
		headers          []string
		msg              providers.Message
		wantC            string
	}{
		{"RSAPKCS8Defaults", rsaPKCS8, "", nil, message(), "relaxed/relaxed"},
		{"RSAPKCS1", rsaPKCS1, "", nil, message(), "relaxed/relaxed"},
		{"Ed25519", ed, "", nil, message(), "relaxed/relaxed"},
		{"SimpleSimple", rsaPKCS8, DKIMSimpleSimple, nil, message(), "simple/simple"},
		{"RelaxedSimple", ed, DKIMRelaxedSimple, nil, message(), "relaxed/simple"},
		{"LoneAlgorithmMeansSimpleBody", ed, "relaxed", nil, message(), "relaxed/simple"},
		{"HTMLWithAttachment", rsaPKCS8, "", nil, html, "relaxed/relaxed"},
		{"CustomHeaders", ed, "", []string{"From", "Subject", HeaderTaskID}, message(), "relaxed/relaxed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := smtpfake.New(t)
			cfg := fakeConfig(fake, TLSNone)
			cfg.DKIM = &DKIMConfig{Domain: dkimDomain, Selector: dkimSelector, PrivateKeyPEM: tt.keys.pem,
				Canonicalization: tt.canonicalization, SignedHeaders: tt.headers}
			s := newSender(t, cfg)
			_, err := s.Send(context.Background(), tt.msg)
			require.NoError(t, err)

			sent := fake.Sent()
			require.Len(t, sent, 1)
			m := sent[0]
			require.NoError(t, m.ParseErr)
			sig := m.Header.Get("DKIM-Signature")
			require.NotEmpty(t, sig, "no DKIM-Signature header")
			require.Contains(t, sig, "c="+tt.wantC)
			require.Contains(t, sig, fmt.Sprintf("t=%d", sendTime.Unix()), "the signature time is the sender's clock")

			vs := verifyDKIM(t, m.Raw, map[string]string{dkimRecordName(): tt.keys.txt})
			require.Len(t, vs, 1)
			v := vs[0]
			require.NoError(t, v.Err)
			require.Equal(t, dkimDomain, v.Domain)
			want := tt.headers
			if want == nil {
				want = DefaultDKIMSignedHeaders
			}
			require.Len(t, v.HeaderKeys, len(want))
			for i := range want {
				require.True(t, strings.EqualFold(want[i], v.HeaderKeys[i]), "signed header %d is %q, want %q", i, v.HeaderKeys[i], want[i])
			}

			// The same message fails against another key and once a
			// signed header changes: the check above can fail.
			other := ed25519KeyPair(t)
			vs = verifyDKIM(t, m.Raw, map[string]string{dkimRecordName(): other.txt})
			require.Error(t, vs[0].Err, "verified with the wrong public key")
			tampered := bytes.Replace(m.Raw, []byte("Subject: Your code"), []byte("Subject: Your card"), 1)
			require.NotEqual(t, m.Raw, tampered)
			vs = verifyDKIM(t, tampered, map[string]string{dkimRecordName(): tt.keys.txt})
			require.Error(t, vs[0].Err, "verified a message whose subject changed")
		})
	}

	t.Run("BodyTampered", func(t *testing.T) {
		t.Parallel()
		fake := smtpfake.New(t)
		cfg := fakeConfig(fake, TLSNone)
		cfg.DKIM = &DKIMConfig{Domain: dkimDomain, Selector: dkimSelector, PrivateKeyPEM: ed.pem}
		_, err := newSender(t, cfg).Send(context.Background(), message())
		require.NoError(t, err)
		raw := fake.Sent()[0].Raw
		tampered := bytes.Replace(raw, []byte("4711"), []byte("4712"), 1)
		require.NotEqual(t, raw, tampered)
		vs := verifyDKIM(t, tampered, map[string]string{dkimRecordName(): ed.txt})
		require.Error(t, vs[0].Err)
	})

	t.Run("WithoutDKIMNoSignature", func(t *testing.T) {
		t.Parallel()
		fake := smtpfake.New(t)
		_, err := newSender(t, fakeConfig(fake, TLSNone)).Send(context.Background(), message())
		require.NoError(t, err)
		require.Empty(t, fake.Sent()[0].Header.Get("DKIM-Signature"))
	})

	t.Run("FromAccountJSON", func(t *testing.T) {
		t.Parallel()
		fake := smtpfake.New(t)
		raw, err := json.Marshal(map[string]any{
			"host": fake.Host(), "port": fake.Port(), "from": from, "tls_mode": "none",
			"dkim": map[string]any{"domain": dkimDomain, "selector": dkimSelector, "private_key_pem": rsaPKCS1.pem},
		})
		require.NoError(t, err)
		snd, err := New().NewSender(providers.Account{ID: 7, Kind: Kind, Config: raw})
		require.NoError(t, err)
		_, err = snd.Send(context.Background(), message())
		require.NoError(t, err)
		vs := verifyDKIM(t, fake.Sent()[0].Raw, map[string]string{dkimRecordName(): rsaPKCS1.txt})
		require.Len(t, vs, 1)
		require.NoError(t, vs[0].Err)
	})
}

// rsa512PEM is a throwaway 512-bit RSA key, too short for DKIM (and for
// Go's crypto/rsa, which is why it is not generated here).
const rsa512PEM = `-----BEGIN PRIVATE KEY-----
MIIBUwIBADANBgkqhkiG9w0BAQEFAASCAT0wggE5AgEAAkEAyyCQImcZ1/F9M9Fc
pC1Fao+dsBWsL7g8Qvk4Qa9f/vf5Ra1/a0F2QevmcNF6Ifgau88NjRhpEBT0ugbI
2r/0owIDAQABAkA0J3E6lBRLoMKP2nKZ6NHI8YUAYCAsxHYckBbErr3MHfQzLkGi
f8a2Iyz2fYKT5nz0ubtW7DH+Fto91edyiUMxAiEA5yjqGj8zw9TZTmiZNuZtP+OU
JJWa1ahfezbxY+huLOsCIQDg9HxdkajAUUOI3oMRLGdg+ughsECKOhnJ1GIRGPOJ
KQIgIPGXy33OZs5i2eXWUBiu4TgR2NTpaCHC2dCOvmpVqVkCIGhOdOweAhVKmPn5
0uQ/pp+9N62HQCXX0uVW6THsU+AhAiBjzNSjcNsZ/1i4yYc7jQfdXZIlsDK2nPYQ
nW+APx6EdA==
-----END PRIVATE KEY-----
`

func TestDKIMConfigProblems(t *testing.T) {
	t.Parallel()
	ed := ed25519KeyPair(t)
	ecKey := func() string {
		// A P-256 key parses as PKCS #8, but DKIM has no algorithm for it.
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		der, err := x509.MarshalPKCS8PrivateKey(k)
		require.NoError(t, err)
		return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	}()
	base := func(dkim any) json.RawMessage {
		raw, err := json.Marshal(map[string]any{"host": "smtp.example.com", "from": from, "dkim": dkim})
		require.NoError(t, err)
		return raw
	}
	good := map[string]any{"domain": dkimDomain, "selector": dkimSelector, "private_key_pem": ed.pem}
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for key, val := range good {
			m[key] = val
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	tests := []struct {
		name     string
		dkim     any
		problems []string
	}{
		{"MissingSelector", with("selector", nil), []string{"dkim.selector is required"}},
		{"MissingDomain", with("domain", nil), []string{"dkim.domain is required"}},
		{"MissingKey", with("private_key_pem", nil), []string{"dkim.private_key_pem is required"}},
		{"NotPEM", with("private_key_pem", "not-a-key-SECRET"), []string{"dkim.private_key_pem must be an RSA or Ed25519 private key in PEM", "no valid PEM data"}},
		{"CertificateNotKey", with("private_key_pem", testCAPEM(t)), []string{"dkim.private_key_pem must be", `unsupported PEM block type "CERTIFICATE"`}},
		{"BrokenDER", with("private_key_pem", "-----BEGIN PRIVATE KEY-----\nU0VDUkVUU0VDUkVU\n-----END PRIVATE KEY-----\n"), []string{"dkim.private_key_pem must be"}},
		{"ECDSAKey", with("private_key_pem", ecKey), []string{"dkim.private_key_pem must be", "unsupported key type"}},
		{"ShortRSAKey", with("private_key_pem", rsa512PEM), []string{"dkim.private_key_pem", "512-bit"}},
		{"DomainIsIP", with("domain", "192.0.2.1"), []string{`dkim.domain "192.0.2.1" must be a domain name`}},
		{"SelectorWithSpace", with("selector", "my key"), []string{`dkim.selector "my key" must be`}},
		{"BadCanonicalization", with("canonicalization", "loose"), []string{`dkim.canonicalization "loose" must be one of`}},
		{"BadBodyCanonicalization", with("canonicalization", "relaxed/strict"), []string{`dkim.canonicalization "relaxed/strict"`}},
		{"HeadersWithoutFrom", with("signed_headers", []string{"To", "Subject"}), []string{"dkim.signed_headers must include From"}},
		{"HeaderWithColon", with("signed_headers", []string{"From", "X-Bad:"}), []string{`dkim.signed_headers[1] "X-Bad:" is not a header field name`}},
		{"HeadersNotList", with("signed_headers", "From"), []string{"dkim.signed_headers must be a list of strings"}},
		{"SelectorNotString", with("selector", 5), []string{"dkim.selector must be a string"}},
		{"UnknownKey", with("private_key", "x"), []string{`unknown field "dkim.private_key"`}},
		{"NotObject", "yes", []string{"dkim must be a JSON object"}},
		{"Several", map[string]any{"private_key_pem": "junk"}, []string{"dkim.domain is required", "dkim.selector is required", "dkim.private_key_pem must be"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseConfig(base(tt.dkim))
			require.Error(t, err)
			for _, p := range tt.problems {
				require.Contains(t, err.Error(), p)
			}
			require.NotContains(t, err.Error(), "SECRET", "the key leaks into the error")
			require.NotContains(t, err.Error(), "U0VDUkVU", "the key leaks into the error")
			require.ErrorContains(t, New().ValidateConfig(base(tt.dkim)), tt.problems[0])
		})
	}

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		for _, d := range []any{
			good,
			nil, // "dkim": null is no DKIM
			with("canonicalization", "Simple/Relaxed"),
			with("signed_headers", []string{"from", "subject"}),
			with("selector", "s1.mail"),
		} {
			cfg, err := ParseConfig(base(d))
			require.NoError(t, err, "dkim %v", d)
			require.Equal(t, d == nil, cfg.DKIM == nil)
		}
	})
}

func TestDKIMKeyNotShown(t *testing.T) {
	t.Parallel()
	ed := ed25519KeyPair(t)
	cfg := Config{Host: "smtp.example.com", From: from,
		DKIM: &DKIMConfig{Domain: dkimDomain, Selector: dkimSelector, PrivateKeyPEM: ed.pem}}
	body := strings.Split(strings.TrimSpace(ed.pem), "\n")[1]
	for _, s := range []string{cfg.String(), fmt.Sprintf("%v", cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg)} {
		require.NotContains(t, s, body)
		require.NotContains(t, s, "PRIVATE KEY")
		require.Contains(t, s, dkimSelector)
	}
}

// A signing failure at send time (a key go-mail refuses) must fail the
// send before anything is accepted, never send the message unsigned.
func TestDKIMSigningFailureFailsSend(t *testing.T) {
	t.Parallel()
	fake := smtpfake.New(t)
	s := newSender(t, fakeConfig(fake, TLSNone))
	s.dkim = &dkimSigning{domain: dkimDomain, selector: dkimSelector, key: unsupportedSigner{},
		header: mail.CanonicalizationRelaxed, body: mail.CanonicalizationRelaxed, headers: DefaultDKIMSignedHeaders, now: s.now}
	_, err := s.Send(context.Background(), message())
	requireClass(t, err, providers.ClassConfig, CodeDKIM)
	require.Empty(t, fake.Sent(), "an unsigned message went out")

	// A key that passes go-mail's checks but cannot sign fails while the
	// message data is written: still nothing is delivered.
	broken, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	broken.Primes[0] = new(big.Int).Add(broken.Primes[0], big.NewInt(2))
	broken.Precomputed = rsa.PrecomputedValues{}
	s.dkim.key = broken
	_, err = s.Send(context.Background(), message())
	requireClass(t, err, providers.ClassConfig, CodeDKIM)
	for _, m := range fake.Sent() {
		require.False(t, m.Answered, "a message the key could not sign was delivered")
	}
}

type unsupportedSigner struct{}

func (unsupportedSigner) Public() crypto.PublicKey { return nil }
func (unsupportedSigner) Sign(_ io.Reader, _ []byte, _ crypto.SignerOpts) ([]byte, error) {
	return nil, errors.New("unsupported")
}
