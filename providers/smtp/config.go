package smtp

import (
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	netmail "net/mail"
	"strings"
	"time"

	"github.com/heraldhq/herald/providers"
)

// TLS modes of Config.TLSMode.
const (
	// TLSStartTLS connects in clear text and upgrades with STARTTLS before
	// anything else is sent; a server that does not offer STARTTLS is a
	// config error. This is the default (submission on port 587).
	TLSStartTLS = "starttls"
	// TLSStartTLSOptional upgrades with STARTTLS when the server offers it
	// and carries on in clear text otherwise. Credentials are still never
	// sent in clear text to a host other than localhost.
	TLSStartTLSOptional = "starttls_optional"
	// TLSImplicit speaks TLS from the first byte (port 465).
	TLSImplicit = "implicit"
	// TLSNone never encrypts. It is only accepted for a host on the local
	// machine (a relay on localhost).
	TLSNone = "none"
)

// Config defaults and limits.
const (
	DefaultTLSMode        = TLSStartTLS
	DefaultTimeoutSeconds = 10
	MaxTimeoutSeconds     = 300
	// DefaultMaxAttachmentBytes caps the total size of one message's
	// attachments before encoding: 10 MiB, which base64 turns into about
	// 13.5 MiB on the wire, under the 20–25 MB most providers accept.
	DefaultMaxAttachmentBytes = 10 << 20
	// MaxAttachmentBytesLimit is the highest max_attachment_bytes accepted.
	MaxAttachmentBytesLimit = 100 << 20
)

// Default ports by TLS mode.
const (
	PortSubmission = 587
	PortImplicit   = 465
	PortRelay      = 25
)

// Config is one SMTP account, stored as JSON on the provider account and
// encrypted at rest.
type Config struct {
	// Host is the SMTP server's host name or IP address, without port.
	Host string `json:"host"`
	// Port defaults by TLSMode: 587, 465 for implicit, 25 for none.
	Port int `json:"port,omitempty"`
	// Username and Password are the AUTH credentials; both or neither.
	// Without them Herald sends without AUTH (an open internal relay).
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	// From is the sender address, bare ("noreply@example.com"); it is
	// used for MAIL FROM and the From header, and its domain ends every
	// Message-ID.
	From string `json:"from"`
	// FromName is the optional display name of the From header.
	FromName string `json:"from_name,omitempty"`
	// TLSMode is one of TLSStartTLS (default), TLSStartTLSOptional,
	// TLSImplicit or TLSNone.
	TLSMode string `json:"tls_mode,omitempty"`
	// TLSServerName is the name the server certificate is verified
	// against; default Host.
	TLSServerName string `json:"tls_server_name,omitempty"`
	// CAPEM holds extra PEM certificates trusted besides the system roots,
	// for a relay with a private CA.
	CAPEM string `json:"ca_pem,omitempty"`
	// InsecureSkipVerify turns off certificate verification. It exists for
	// tests and must never be set on a production account.
	InsecureSkipVerify bool `json:"insecure_skip_verify,omitempty"`
	// TimeoutSeconds bounds dialling and each phase of a send: connecting
	// with TLS and AUTH, then the whole mail transaction up to the
	// server's reply to the message data. Default 30, at most 300.
	TimeoutSeconds int `json:"timeout_seconds,omitempty"`
	// MaxAttachmentBytes caps the total size of a message's attachments,
	// checked before connecting. Default 10 MiB.
	MaxAttachmentBytes int64 `json:"max_attachment_bytes,omitempty"`
	// HELOName is the name given in EHLO; default the machine's host name.
	HELOName string `json:"helo_name,omitempty"`
	// MessageIDDomain ends every Message-ID (default herald.invalid). The
	// Message-ID is the task's, the same on every attempt and account, so
	// give every account of a channel the same value.
	MessageIDDomain string `json:"message_id_domain,omitempty"`
	// OnUnknownOutcome is "resend" or "fail": what Herald does when a send's
	// outcome is unknown, since this provider cannot be asked (default "fail":
	// a resend could deliver the e-mail twice).
	OnUnknownOutcome string `json:"on_unknown_outcome,omitempty"`
	// DKIM, when set, signs every message the account sends.
	DKIM *DKIMConfig `json:"dkim,omitempty"`
}

// ParseConfig decodes an account's JSON config, reports unknown keys and
// every invalid field in one error, and fills in defaults. The error never
// quotes the password.
func ParseConfig(raw json.RawMessage) (Config, error) {
	var cfg Config
	var dkimRaw json.RawMessage
	problems := providers.DecodeConfig(raw, map[string]providers.ConfigField{
		"host":                 {Into: &cfg.Host, Want: "a string"},
		"port":                 {Into: &cfg.Port, Want: "an integer"},
		"username":             {Into: &cfg.Username, Want: "a string"},
		"password":             {Into: &cfg.Password, Want: "a string"},
		"from":                 {Into: &cfg.From, Want: "a string"},
		"from_name":            {Into: &cfg.FromName, Want: "a string"},
		"tls_mode":             {Into: &cfg.TLSMode, Want: "a string"},
		"tls_server_name":      {Into: &cfg.TLSServerName, Want: "a string"},
		"ca_pem":               {Into: &cfg.CAPEM, Want: "a string"},
		"insecure_skip_verify": {Into: &cfg.InsecureSkipVerify, Want: "a boolean"},
		"timeout_seconds":      {Into: &cfg.TimeoutSeconds, Want: "an integer"},
		"max_attachment_bytes": {Into: &cfg.MaxAttachmentBytes, Want: "an integer"},
		"helo_name":            {Into: &cfg.HELOName, Want: "a string"},
		"message_id_domain":    {Into: &cfg.MessageIDDomain, Want: "a string"},
		"on_unknown_outcome":   {Into: &cfg.OnUnknownOutcome, Want: "a string"},
		"dkim":                 {Into: &dkimRaw, Want: "a JSON object"},
	})
	if len(dkimRaw) > 0 {
		d, dp := parseDKIM(dkimRaw)
		cfg.DKIM = d
		problems = append(problems, dp...)
	}
	problems = append(problems, cfg.problems()...)
	problems = append(problems, providers.UnknownOutcomeProblems(cfg.OnUnknownOutcome)...)
	if len(problems) > 0 {
		return Config{}, configError(problems)
	}
	return cfg.withDefaults(), nil
}

// Validate reports every problem with c in one error. Empty optional fields
// are valid: they take their defaults.
func (c Config) Validate() error {
	if p := c.problems(); len(p) > 0 {
		return configError(p)
	}
	return nil
}

func configError(problems []string) error {
	return errors.New("invalid smtp config: " + strings.Join(problems, "; "))
}

func (c Config) problems() []string {
	var p []string
	switch {
	case strings.TrimSpace(c.Host) == "":
		p = append(p, "host is required")
	case !validHost(c.Host):
		p = append(p, fmt.Sprintf("host %q must be a host name or IP address, without scheme or port", c.Host))
	}
	if c.Port < 0 || c.Port > 65535 {
		p = append(p, "port must be between 1 and 65535 (0 means the default of the tls_mode)")
	}
	switch {
	case c.Username != "" && c.Password == "":
		p = append(p, "password is required with username")
	case c.Username == "" && c.Password != "":
		p = append(p, "username is required with password")
	}
	if strings.ContainsAny(c.Username, "\r\n\x00") {
		p = append(p, "username contains a line break or NUL")
	}
	if c.From == "" {
		p = append(p, "from is required")
	} else if problem := fromProblem(c.From); problem != "" {
		p = append(p, problem)
	}
	if hasControl(c.FromName) {
		p = append(p, "from_name contains a control character")
	}
	switch c.TLSMode {
	case "", TLSStartTLS, TLSStartTLSOptional, TLSImplicit:
	case TLSNone:
		if c.Host != "" && !isLoopback(c.Host) {
			p = append(p, "tls_mode none is only allowed when host is localhost or a loopback address")
		}
	default:
		p = append(p, fmt.Sprintf("tls_mode %q must be one of starttls, starttls_optional, implicit, none", c.TLSMode))
	}
	if c.TLSServerName != "" && !validHost(c.TLSServerName) {
		p = append(p, fmt.Sprintf("tls_server_name %q must be a host name or IP address", c.TLSServerName))
	}
	if c.CAPEM != "" && !x509.NewCertPool().AppendCertsFromPEM([]byte(c.CAPEM)) {
		p = append(p, "ca_pem holds no PEM certificate")
	}
	if c.TimeoutSeconds < 0 || c.TimeoutSeconds > MaxTimeoutSeconds {
		p = append(p, fmt.Sprintf("timeout_seconds must be between 1 and %d (0 means %d)", MaxTimeoutSeconds, DefaultTimeoutSeconds))
	}
	if c.MaxAttachmentBytes < 0 || c.MaxAttachmentBytes > MaxAttachmentBytesLimit {
		p = append(p, fmt.Sprintf("max_attachment_bytes must be between 1 and %d (0 means %d)", MaxAttachmentBytesLimit, DefaultMaxAttachmentBytes))
	}
	if c.MessageIDDomain != "" && (net.ParseIP(c.MessageIDDomain) != nil || !validHost(c.MessageIDDomain)) {
		p = append(p, fmt.Sprintf("message_id_domain %q must be a domain name", c.MessageIDDomain))
	}
	if c.HELOName != "" && !validHELO(c.HELOName) {
		p = append(p, fmt.Sprintf("helo_name %q must be a host name or an address literal like [192.0.2.1]", c.HELOName))
	}
	if c.DKIM != nil {
		p = append(p, c.DKIM.problems()...)
	}
	return p
}

func (c Config) withDefaults() Config {
	if c.TLSMode == "" {
		c.TLSMode = DefaultTLSMode
	}
	if c.Port == 0 {
		switch c.TLSMode {
		case TLSImplicit:
			c.Port = PortImplicit
		case TLSNone:
			c.Port = PortRelay
		default:
			c.Port = PortSubmission
		}
	}
	if c.TimeoutSeconds == 0 {
		c.TimeoutSeconds = DefaultTimeoutSeconds
	}
	if c.MaxAttachmentBytes == 0 {
		c.MaxAttachmentBytes = DefaultMaxAttachmentBytes
	}
	return c
}

// Timeout is the per-phase timeout, with the default applied.
func (c Config) Timeout() time.Duration {
	if c.TimeoutSeconds <= 0 {
		return DefaultTimeoutSeconds * time.Second
	}
	return time.Duration(c.TimeoutSeconds) * time.Second
}

// DefaultMessageIDDomain ends Message-IDs when message_id_domain is not
// set: a reserved name that is never anyone's real domain, the same for
// every account, so the Message-ID does not change with the account.
const DefaultMessageIDDomain = "herald.invalid"

// messageIDDomain is the domain of every Message-ID of the account.
func (c Config) messageIDDomain() string {
	if c.MessageIDDomain != "" {
		return strings.ToLower(c.MessageIDDomain)
	}
	return DefaultMessageIDDomain
}

// String describes c without its password or DKIM key, so a config that
// ends up in a log line or an error leaks nothing. The CA is shown by size
// only.
func (c Config) String() string {
	dkim := "none"
	if c.DKIM != nil {
		dkim = fmt.Sprintf("{domain:%q selector:%q private_key_pem:[redacted] canonicalization:%q signed_headers:%q}",
			c.DKIM.Domain, c.DKIM.Selector, c.DKIM.Canonicalization, c.DKIM.SignedHeaders)
	}
	return fmt.Sprintf("smtp.Config{host:%q port:%d username:%q password:[redacted] from:%q from_name:%q tls_mode:%q tls_server_name:%q ca_pem:(%d bytes) insecure_skip_verify:%t timeout_seconds:%d max_attachment_bytes:%d helo_name:%q dkim:%s}",
		c.Host, c.Port, c.Username, c.From, c.FromName, c.TLSMode, c.TLSServerName, len(c.CAPEM),
		c.InsecureSkipVerify, c.TimeoutSeconds, c.MaxAttachmentBytes, c.HELOName, dkim)
}

// GoString keeps %#v from printing the password.
func (c Config) GoString() string { return c.String() }

// fromProblem checks that from is one bare address with a domain.
func fromProblem(from string) string {
	addr, err := netmail.ParseAddress(from)
	switch {
	case err != nil:
		return "from is not an e-mail address"
	case addr.Name != "" || addr.Address != from:
		return "from must be a bare address like noreply@example.com; put the display name in from_name"
	case !strings.Contains(from, "@") || strings.HasSuffix(from, "@"):
		return "from must have a domain"
	}
	return ""
}

// validHost accepts a DNS name (letters, digits, '-', '_' and dots) or an
// IP address, and nothing with a scheme, port, path or spaces.
func validHost(h string) bool {
	if net.ParseIP(h) != nil {
		return true
	}
	if len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			b := label[i]
			switch {
			case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9', b == '-', b == '_':
			default:
				return false
			}
		}
	}
	return true
}

// validHELO accepts a host name or an RFC 5321 address literal.
func validHELO(h string) bool {
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		inner := strings.TrimPrefix(h[1:len(h)-1], "IPv6:")
		return net.ParseIP(inner) != nil
	}
	return net.ParseIP(h) == nil && validHost(h)
}

// isLoopback reports whether host names this machine: "localhost" or a
// loopback IP address. Other names are not resolved, since what a name
// resolves to can change after the config was accepted.
func isLoopback(host string) bool {
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func hasControl(s string) bool {
	for _, r := range s {
		if r < ' ' || r == 0x7f {
			return true
		}
	}
	return false
}
