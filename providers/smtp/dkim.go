package smtp

import (
	"crypto"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	mail "github.com/wneessen/go-mail"

	"github.com/heraldhq/herald/providers"
)

// DKIM canonicalizations of DKIMConfig.Canonicalization, written as in
// the c= tag: header algorithm, slash, body algorithm.
const (
	DKIMRelaxedRelaxed = "relaxed/relaxed"
	DKIMRelaxedSimple  = "relaxed/simple"
	DKIMSimpleRelaxed  = "simple/relaxed"
	DKIMSimpleSimple   = "simple/simple"
	// DefaultDKIMCanonicalization survives the header refolding and
	// whitespace changes relays commonly make.
	DefaultDKIMCanonicalization = DKIMRelaxedRelaxed
)

// MinDKIMRSABits is the smallest RSA key accepted: RFC 8301 has verifiers
// ignore signatures made with shorter keys.
const MinDKIMRSABits = 1024

// DefaultDKIMSignedHeaders are the headers signed when signed_headers is
// not set: those a reader sees or that decide how the body is read. The
// X-Herald-* headers are left out; they are bookkeeping a relay may strip.
var DefaultDKIMSignedHeaders = []string{
	"From", "To", "Subject", "Date", "Message-ID", "Content-Type", "MIME-Version",
}

// DKIMConfig makes an account sign every message it sends with DKIM
// (RFC 6376). The private key is a credential like the password: it is
// stored sealed with the rest of the account config and never shown by the
// admin API.
type DKIMConfig struct {
	// Domain is the signing domain, the d= tag. For DMARC it must be the
	// From address's domain or share its organizational domain.
	Domain string `json:"domain"`
	// Selector names the key, the s= tag: verifiers look up the public
	// key at <selector>._domainkey.<domain>.
	Selector string `json:"selector"`
	// PrivateKeyPEM is an RSA (PKCS #1 or PKCS #8, at least 1024 bits,
	// 2048 advised) or Ed25519 (PKCS #8) private key in PEM.
	PrivateKeyPEM string `json:"private_key_pem"`
	// Canonicalization is "header/body", each "relaxed" or "simple";
	// a single word applies to the header and body is "simple", as in the
	// c= tag. Default "relaxed/relaxed".
	Canonicalization string `json:"canonicalization,omitempty"`
	// SignedHeaders lists the header fields signed, in order; it must
	// include From. Default DefaultDKIMSignedHeaders.
	SignedHeaders []string `json:"signed_headers,omitempty"`
}

// parseDKIM decodes the dkim object of an account config. Problems are
// named by their full key ("dkim.selector") so the operator knows which
// setting to fix.
func parseDKIM(raw json.RawMessage) (*DKIMConfig, []string) {
	var d DKIMConfig
	decoded := providers.DecodeConfig(raw, map[string]providers.ConfigField{
		"domain":           {Into: &d.Domain, Want: "a string"},
		"selector":         {Into: &d.Selector, Want: "a string"},
		"private_key_pem":  {Into: &d.PrivateKeyPEM, Want: "a string"},
		"canonicalization": {Into: &d.Canonicalization, Want: "a string"},
		"signed_headers":   {Into: &d.SignedHeaders, Want: "a list of strings"},
	})
	problems := make([]string, 0, len(decoded))
	for _, p := range decoded {
		switch {
		case p == "config must be a JSON object":
			problems = append(problems, "dkim must be a JSON object")
		case strings.HasPrefix(p, "unknown field "):
			name, err := strconv.Unquote(strings.TrimPrefix(p, "unknown field "))
			if err != nil {
				name = strings.TrimPrefix(p, "unknown field ")
			}
			problems = append(problems, fmt.Sprintf("unknown field %q", "dkim."+name))
		default:
			problems = append(problems, "dkim."+p)
		}
	}
	if len(problems) > 0 {
		return nil, problems
	}
	return &d, nil
}

// problems checks a DKIM config; messages never quote the key.
func (d *DKIMConfig) problems() []string {
	var p []string
	switch {
	case strings.TrimSpace(d.Domain) == "":
		p = append(p, "dkim.domain is required")
	case net.ParseIP(d.Domain) != nil || !validHost(d.Domain):
		p = append(p, fmt.Sprintf("dkim.domain %q must be a domain name", d.Domain))
	}
	switch {
	case strings.TrimSpace(d.Selector) == "":
		p = append(p, "dkim.selector is required")
	case !validSelector(d.Selector):
		p = append(p, fmt.Sprintf("dkim.selector %q must be one or more DNS labels (letters, digits, '-', '_', dots)", d.Selector))
	}
	if strings.TrimSpace(d.PrivateKeyPEM) == "" {
		p = append(p, "dkim.private_key_pem is required")
	} else if _, err := dkimKey(d.PrivateKeyPEM); err != nil {
		p = append(p, "dkim.private_key_pem "+err.Error())
	}
	if _, _, err := dkimCanonicalization(d.Canonicalization); err != nil {
		p = append(p, err.Error())
	}
	p = append(p, signedHeadersProblems(d.SignedHeaders)...)
	return p
}

// dkimKey parses the PEM private key. Its errors describe the key's form,
// never its content.
func dkimKey(pemText string) (crypto.Signer, error) {
	key, err := mail.PrivKeyFromPEM([]byte(strings.TrimSpace(pemText)))
	if err != nil {
		return nil, fmt.Errorf("must be an RSA or Ed25519 private key in PEM (\"BEGIN PRIVATE KEY\" or \"BEGIN RSA PRIVATE KEY\"): %s", keyErrorText(err))
	}
	if k, ok := key.(*rsa.PrivateKey); ok {
		if bits := k.N.BitLen(); bits < MinDKIMRSABits {
			return nil, fmt.Errorf("is a %d-bit RSA key; DKIM needs at least %d bits (2048 advised)", bits, MinDKIMRSABits)
		}
	}
	return key, nil
}

// keyErrorText says why a key did not parse. The parsers' messages name
// the structure that failed (and go-mail's the PEM block type), not key
// bytes, but they are kept short and on one line all the same.
func keyErrorText(err error) string {
	s := strings.Join(strings.Fields(err.Error()), " ")
	if len(s) > 120 {
		s = s[:120]
	}
	return s
}

// dkimCanonicalization splits a c= value into its header and body
// algorithms; "" is the default.
func dkimCanonicalization(v string) (header, body mail.Canonicalization, err error) {
	if v == "" {
		v = DefaultDKIMCanonicalization
	}
	h, b, found := strings.Cut(strings.ToLower(v), "/")
	if !found {
		// RFC 6376 3.5: a lone algorithm is the header's; the body's is
		// then simple.
		b = "simple"
	}
	parse := func(s string) (mail.Canonicalization, bool) {
		switch s {
		case "relaxed":
			return mail.CanonicalizationRelaxed, true
		case "simple":
			return mail.CanonicalizationSimple, true
		}
		return "", false
	}
	hc, okH := parse(h)
	bc, okB := parse(b)
	if !okH || !okB {
		return "", "", fmt.Errorf("dkim.canonicalization %q must be one of relaxed/relaxed, relaxed/simple, simple/relaxed, simple/simple", v)
	}
	return hc, bc, nil
}

func signedHeadersProblems(headers []string) []string {
	if len(headers) == 0 {
		return nil
	}
	var p []string
	hasFrom := false
	for i, h := range headers {
		if !validFieldName(h) {
			p = append(p, fmt.Sprintf("dkim.signed_headers[%d] %q is not a header field name", i, h))
		}
		if strings.EqualFold(h, "From") {
			hasFrom = true
		}
		if strings.EqualFold(h, "DKIM-Signature") {
			p = append(p, "dkim.signed_headers must not list DKIM-Signature")
		}
	}
	if !hasFrom {
		p = append(p, "dkim.signed_headers must include From (RFC 6376 requires it)")
	}
	return p
}

// validFieldName accepts an RFC 5322 field name: printable ASCII other
// than the colon.
func validFieldName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 33 || s[i] > 126 || s[i] == ':' {
			return false
		}
	}
	return true
}

// validSelector accepts dot-separated DNS labels, which is what a
// selector becomes in <selector>._domainkey.<domain>.
func validSelector(s string) bool {
	return net.ParseIP(s) == nil && validHost(s) && !strings.HasSuffix(s, ".")
}

// dkimSigning is an account's parsed DKIM setup. go-mail's signer records
// the algorithm on first use, so each message gets a signer of its own
// built from these fields instead of sharing one across sends.
type dkimSigning struct {
	domain, selector string
	key              crypto.Signer
	header, body     mail.Canonicalization
	headers          []string
	now              func() time.Time
}

func newDKIMSigning(d *DKIMConfig, now func() time.Time) (*dkimSigning, error) {
	if p := d.problems(); len(p) > 0 {
		return nil, configError(p)
	}
	key, err := dkimKey(d.PrivateKeyPEM)
	if err != nil {
		return nil, configError([]string{"dkim.private_key_pem " + err.Error()})
	}
	hc, bc, err := dkimCanonicalization(d.Canonicalization)
	if err != nil {
		return nil, configError([]string{err.Error()})
	}
	headers := d.SignedHeaders
	if len(headers) == 0 {
		headers = DefaultDKIMSignedHeaders
	}
	return &dkimSigning{domain: strings.ToLower(d.Domain), selector: d.Selector, key: key,
		header: hc, body: bc, headers: append([]string(nil), headers...), now: now}, nil
}

// signer returns a fresh go-mail signer for one message.
func (s *dkimSigning) signer() *mail.DKIMSigner {
	sg := mail.NewDKIMSigner(s.domain, s.selector, s.key)
	sg.HeaderCanonicalization(s.header)
	sg.BodyCanonicalization(s.body)
	sg.SignHeaders(s.headers...)
	sg.NowFunc = s.now
	return sg
}
