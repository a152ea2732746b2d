package webhook

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/heraldhq/herald/providers"
)

// Timeout limits for Config.TimeoutMS.
const (
	DefaultTimeoutMS = 10000
	MaxTimeoutMS     = 60000
)

// Config is a webhook account's JSON config.
type Config struct {
	// URL receives the POSTs; http or https.
	URL string `json:"url"`
	// Secret is the Standard Webhooks secret ("whsec_..."). It is never
	// logged or echoed in errors.
	Secret string `json:"secret"`
	// TimeoutMS bounds one delivery, from dialling to the end of the
	// response (default DefaultTimeoutMS, at most MaxTimeoutMS).
	TimeoutMS int `json:"timeout_ms"`
	// OnUnknownOutcome is "resend" or "fail": what Herald does when a send's
	// outcome is unknown, since this provider cannot be asked (default
	// "resend": the endpoint can deduplicate by the webhook-id header, the same
	// on every attempt).
	OnUnknownOutcome string `json:"on_unknown_outcome,omitempty"`
	// Headers are extra static headers sent with every request, for example
	// an Authorization the endpoint wants. They may not replace the
	// webhook-* headers or the framing headers Herald sets.
	Headers map[string]string `json:"headers,omitempty"`
}

// String describes c without the secret or header values, so a Config
// that reaches a log line (fmt, or zap.Any, which prefers String) leaks
// nothing.
func (c Config) String() string {
	names := make([]string, 0, len(c.Headers))
	for name := range c.Headers {
		names = append(names, name)
	}
	slices.Sort(names)
	return fmt.Sprintf("webhook.Config{URL:%s Secret:redacted TimeoutMS:%d Headers:%v}", redactURL(c.URL), c.TimeoutMS, names)
}

// GoString hides the same fields from %#v.
func (c Config) GoString() string { return c.String() }

// redactURL drops the user info and query, which may carry credentials.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(invalid)"
	}
	u.User = nil
	if u.RawQuery != "" {
		u.RawQuery = "redacted"
	}
	u.Fragment = ""
	return u.String()
}

// Timeout returns TimeoutMS as a duration.
func (c Config) Timeout() time.Duration { return time.Duration(c.TimeoutMS) * time.Millisecond }

// ParseConfig decodes an account config, fills in defaults and validates it.
// The error names every problem found, and never the secret or header
// values.
func ParseConfig(raw json.RawMessage) (Config, error) {
	cfg := Config{TimeoutMS: DefaultTimeoutMS}
	problems := providers.DecodeConfig(raw, map[string]providers.ConfigField{
		"url":                {Into: &cfg.URL, Want: "a string"},
		"secret":             {Into: &cfg.Secret, Want: "a string"},
		"timeout_ms":         {Into: &cfg.TimeoutMS, Want: "an integer"},
		"on_unknown_outcome": {Into: &cfg.OnUnknownOutcome, Want: "a string"},
		"headers":            {Into: &cfg.Headers, Want: "an object of string values"},
	})
	problems = append(problems, cfg.problems()...)
	problems = append(problems, providers.UnknownOutcomeProblems(cfg.OnUnknownOutcome)...)
	if len(problems) > 0 {
		return Config{}, configError(problems)
	}
	return cfg, nil
}

// Validate checks a Config built in code, listing every problem.
func (c Config) Validate() error {
	if problems := c.problems(); len(problems) > 0 {
		return configError(problems)
	}
	return nil
}

func (c Config) problems() []string {
	var problems []string
	switch u, err := url.Parse(c.URL); {
	case c.URL == "":
		problems = append(problems, "url is required")
	case err != nil:
		problems = append(problems, "url is not a valid URL")
	case u.Scheme != "http" && u.Scheme != "https":
		problems = append(problems, "url must use http or https")
	case u.Host == "":
		problems = append(problems, "url must include a host")
	}
	if c.Secret == "" {
		problems = append(problems, "secret is required")
	} else if _, err := NewSigner(c.Secret); err != nil {
		problems = append(problems, err.Error())
	}
	if c.TimeoutMS < 1 || c.TimeoutMS > MaxTimeoutMS {
		problems = append(problems, fmt.Sprintf("timeout_ms must be between 1 and %d", MaxTimeoutMS))
	}
	names := make([]string, 0, len(c.Headers))
	for name := range c.Headers {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		switch {
		case !validHeaderName(name):
			problems = append(problems, fmt.Sprintf("headers: %q is not a valid header name", name))
		case reservedHeader(name):
			problems = append(problems, fmt.Sprintf("headers: %q would override a header Herald sets", name))
		case strings.ContainsAny(c.Headers[name], "\r\n\x00"):
			problems = append(problems, fmt.Sprintf("headers: the value of %q contains a line break or NUL", name))
		}
	}
	return problems
}

func configError(problems []string) error {
	return errors.New("invalid webhook config: " + strings.Join(problems, "; "))
}

// reservedHeader reports whether a static header would replace one the
// sender sets itself: the signature headers (and any future webhook-*
// header), the body's Content-Type, or the request framing.
func reservedHeader(name string) bool {
	if strings.HasPrefix(strings.ToLower(name), "webhook-") {
		return true
	}
	switch http.CanonicalHeaderKey(name) {
	case "Content-Type", "Content-Length", "Transfer-Encoding", "Host", "Connection":
		return true
	}
	return false
}

// validHeaderName reports whether name is an RFC 9110 token.
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
