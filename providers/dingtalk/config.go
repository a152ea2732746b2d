package dingtalk

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/heraldhq/herald/providers"
)

// Config defaults and limits.
const (
	// DefaultBaseURL is DingTalk's open API host.
	DefaultBaseURL = "https://oapi.dingtalk.com"
	// SendPath is the robot send path under the base URL.
	SendPath         = "/robot/send"
	DefaultTimeoutMS = 10000
	MaxTimeoutMS     = 60000
	// secretPrefix starts every robot signing secret DingTalk hands out.
	secretPrefix = "SEC"
)

// Config is one DingTalk custom group robot, stored as JSON on the provider
// account and encrypted at rest. The robot is named either by its
// AccessToken (on BaseURL) or by its full WebhookURL, never both.
type Config struct {
	// AccessToken is the access_token query parameter of the robot's
	// webhook URL.
	AccessToken string `json:"access_token,omitempty"`
	// WebhookURL is the robot's whole webhook URL,
	// "https://oapi.dingtalk.com/robot/send?access_token=...".
	WebhookURL string `json:"webhook_url,omitempty"`
	// Secret is the "SEC..." signing secret, set when the robot's security
	// setting is "sign" (加签). Empty means requests are not signed.
	Secret string `json:"secret,omitempty"`
	// BaseURL overrides DefaultBaseURL (scheme, host and optional path
	// prefix), for a proxy or a local fake. Only with AccessToken.
	BaseURL string `json:"base_url,omitempty"`
	// TimeoutMS bounds one send, from dialling to the end of the answer
	// (default DefaultTimeoutMS, at most MaxTimeoutMS).
	TimeoutMS int `json:"timeout_ms,omitempty"`
	// OnUnknownOutcome is "resend" or "fail": what Herald does when a send's
	// outcome is unknown, since this provider cannot be asked (default "fail":
	// a group robot cannot deduplicate, and a duplicate alert in a group is
	// worse than one the sender is told was not confirmed).
	OnUnknownOutcome string `json:"on_unknown_outcome,omitempty"`
}

// ParseConfig decodes an account's JSON config, reports unknown keys and
// every invalid field in one error, and fills in defaults.
func ParseConfig(raw json.RawMessage) (Config, error) {
	var cfg Config
	problems := providers.DecodeConfig(raw, map[string]providers.ConfigField{
		"access_token":       {Into: &cfg.AccessToken, Want: "a string"},
		"webhook_url":        {Into: &cfg.WebhookURL, Want: "a string"},
		"secret":             {Into: &cfg.Secret, Want: "a string"},
		"base_url":           {Into: &cfg.BaseURL, Want: "a string"},
		"timeout_ms":         {Into: &cfg.TimeoutMS, Want: "an integer"},
		"on_unknown_outcome": {Into: &cfg.OnUnknownOutcome, Want: "a string"},
	})
	problems = append(problems, cfg.problems()...)
	problems = append(problems, providers.UnknownOutcomeProblems(cfg.OnUnknownOutcome)...)
	if len(problems) > 0 {
		return Config{}, problemsError(problems)
	}
	return cfg.withDefaults(), nil
}

// Validate reports every problem with c in one error. Empty optional fields
// are valid: they take their defaults.
func (c Config) Validate() error {
	if p := c.problems(); len(p) > 0 {
		return problemsError(p)
	}
	return nil
}

func problemsError(problems []string) error {
	return errors.New("invalid dingtalk config: " + strings.Join(problems, "; "))
}

func (c Config) problems() []string {
	var p []string
	switch {
	case c.AccessToken == "" && c.WebhookURL == "":
		p = append(p, "access_token or webhook_url is required")
	case c.AccessToken != "" && c.WebhookURL != "":
		p = append(p, "set access_token or webhook_url, not both")
	case c.AccessToken != "":
		if !tokenLike(c.AccessToken) {
			p = append(p, "access_token must be the bare token, without spaces or URL characters")
		}
	default:
		p = append(p, webhookURLProblems(c.WebhookURL)...)
	}
	if c.BaseURL != "" {
		if c.WebhookURL != "" {
			p = append(p, "base_url cannot be combined with webhook_url, which names the host itself")
		}
		if problem := baseURLProblem(c.BaseURL); problem != "" {
			p = append(p, problem)
		}
	}
	if c.Secret != "" && (!strings.HasPrefix(c.Secret, secretPrefix) || strings.TrimSpace(c.Secret) != c.Secret) {
		// The access token pasted into the wrong field is the usual cause.
		p = append(p, `secret must be the robot's "SEC..." signing secret`)
	}
	if c.TimeoutMS < 0 || c.TimeoutMS > MaxTimeoutMS {
		p = append(p, fmt.Sprintf("timeout_ms must be between 1 and %d (0 means %d)", MaxTimeoutMS, DefaultTimeoutMS))
	}
	return p
}

func webhookURLProblems(raw string) []string {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return []string{"webhook_url is not a valid URL"}
	case u.Scheme != "https" && u.Scheme != "http":
		return []string{"webhook_url must use https or http"}
	case u.Host == "":
		return []string{"webhook_url must include a host"}
	case u.User != nil || u.Fragment != "":
		return []string{"webhook_url must not carry user info or a fragment"}
	}
	q := u.Query()
	var p []string
	if tok := q.Get("access_token"); tok == "" {
		p = append(p, "webhook_url must carry the access_token query parameter")
	} else if !tokenLike(tok) {
		p = append(p, "webhook_url has a malformed access_token")
	}
	if q.Has("timestamp") || q.Has("sign") {
		p = append(p, "webhook_url must not carry timestamp or sign: they are computed for each send from secret")
	}
	return p
}

func baseURLProblem(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return "base_url is not a valid URL"
	case u.Scheme != "https" && u.Scheme != "http":
		return "base_url must use https or http"
	case u.Host == "":
		return "base_url must include a host"
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return "base_url must not carry user info, a query or a fragment"
	}
	return ""
}

// tokenLike reports whether s could be an access token: non-empty, and
// nothing that would break or change the query string.
func tokenLike(s string) bool {
	return s != "" && !strings.ContainsAny(s, " \t\r\n&?=#/%+")
}

func (c Config) withDefaults() Config {
	if c.TimeoutMS == 0 {
		c.TimeoutMS = DefaultTimeoutMS
	}
	if c.WebhookURL == "" && c.BaseURL == "" {
		c.BaseURL = DefaultBaseURL
	}
	return c
}

// Timeout is the per-send timeout, with the default applied.
func (c Config) Timeout() time.Duration {
	if c.TimeoutMS <= 0 {
		return DefaultTimeoutMS * time.Millisecond
	}
	return time.Duration(c.TimeoutMS) * time.Millisecond
}

// target returns the send URL without its query, and the other query
// parameters the webhook URL carries besides access_token (kept as they
// are), and the access token. c must be valid.
func (c Config) target() (endpoint string, extra url.Values, token string) {
	if c.WebhookURL != "" {
		u, _ := url.Parse(c.WebhookURL) // validated
		q := u.Query()
		token = q.Get("access_token")
		q.Del("access_token")
		u.RawQuery = ""
		return u.String(), q, token
	}
	base := c.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	return strings.TrimRight(base, "/") + SendPath, url.Values{}, c.AccessToken
}

// String describes c without the token or the secret, so a config that ends
// up in a log line or an error leaks nothing.
func (c Config) String() string {
	return fmt.Sprintf("dingtalk.Config{access_token:%s webhook_url:%s secret:%s base_url:%q timeout_ms:%d}",
		redacted(c.AccessToken), redactURL(c.WebhookURL), redacted(c.Secret), c.BaseURL, c.TimeoutMS)
}

// GoString keeps %#v from printing the token or the secret.
func (c Config) GoString() string { return c.String() }

func redacted(s string) string {
	if s == "" {
		return `""`
	}
	return "[redacted]"
}

// redactURL keeps the scheme, host and path and hides the query, which
// holds the access token.
func redactURL(raw string) string {
	if raw == "" {
		return `""`
	}
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
