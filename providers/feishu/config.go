package feishu

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
	// DefaultBaseURL is Feishu's open platform host.
	DefaultBaseURL = "https://open.feishu.cn"
	// LarkBaseURL is the host of Lark, Feishu's international edition.
	LarkBaseURL = "https://open.larksuite.com"
	// HookPath is the custom bot path under the base URL; the hook id
	// follows it.
	HookPath         = "/open-apis/bot/v2/hook/"
	DefaultTimeoutMS = 10000
	MaxTimeoutMS     = 60000
)

// Config is one Feishu (or Lark) custom bot, stored as JSON on the provider
// account and encrypted at rest. The bot is named either by its HookID (on
// BaseURL) or by its full WebhookURL, never both.
type Config struct {
	// WebhookURL is the bot's whole webhook URL,
	// "https://open.feishu.cn/open-apis/bot/v2/hook/<hook id>".
	WebhookURL string `json:"webhook_url,omitempty"`
	// HookID is the last path segment of the webhook URL.
	HookID string `json:"hook_id,omitempty"`
	// Secret is the bot's signing secret (签名校验), when the bot has that
	// security setting. Empty means requests are not signed.
	Secret string `json:"secret,omitempty"`
	// BaseURL overrides DefaultBaseURL: LarkBaseURL for Lark, or a proxy or
	// local fake. Only with HookID.
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
		"webhook_url":        {Into: &cfg.WebhookURL, Want: "a string"},
		"hook_id":            {Into: &cfg.HookID, Want: "a string"},
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
	return errors.New("invalid feishu config: " + strings.Join(problems, "; "))
}

func (c Config) problems() []string {
	var p []string
	switch {
	case c.WebhookURL == "" && c.HookID == "":
		p = append(p, "webhook_url or hook_id is required")
	case c.WebhookURL != "" && c.HookID != "":
		p = append(p, "set webhook_url or hook_id, not both")
	case c.HookID != "":
		if !hookIDLike(c.HookID) {
			p = append(p, "hook_id must be the last segment of the webhook URL, without spaces or URL characters")
		}
	default:
		if problem := webhookURLProblem(c.WebhookURL); problem != "" {
			p = append(p, problem)
		}
	}
	if c.BaseURL != "" {
		if c.WebhookURL != "" {
			p = append(p, "base_url cannot be combined with webhook_url, which names the host itself")
		}
		if problem := baseURLProblem(c.BaseURL); problem != "" {
			p = append(p, problem)
		}
	}
	if c.Secret != "" && strings.TrimSpace(c.Secret) != c.Secret {
		p = append(p, "secret has leading or trailing spaces")
	}
	if c.TimeoutMS < 0 || c.TimeoutMS > MaxTimeoutMS {
		p = append(p, fmt.Sprintf("timeout_ms must be between 1 and %d (0 means %d)", MaxTimeoutMS, DefaultTimeoutMS))
	}
	return p
}

func webhookURLProblem(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return "webhook_url is not a valid URL"
	case u.Scheme != "https" && u.Scheme != "http":
		return "webhook_url must use https or http"
	case u.Host == "":
		return "webhook_url must include a host"
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return "webhook_url must not carry user info, a query or a fragment"
	}
	i := strings.Index(u.Path, HookPath)
	if i < 0 || !hookIDLike(u.Path[i+len(HookPath):]) {
		return "webhook_url must end in " + HookPath + "<hook id>"
	}
	return ""
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

// hookIDLike reports whether s could be a hook id: non-empty, one path
// segment.
func hookIDLike(s string) bool {
	return s != "" && !strings.ContainsAny(s, " \t\r\n/?#&%")
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

// hookURL is the URL messages are posted to. c must be valid.
func (c Config) hookURL() string {
	if c.WebhookURL != "" {
		return c.WebhookURL
	}
	base := c.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	return strings.TrimRight(base, "/") + HookPath + c.HookID
}

// String describes c without the hook id or the secret: whoever has the
// hook id can post to the group.
func (c Config) String() string {
	return fmt.Sprintf("feishu.Config{webhook_url:%s hook_id:%s secret:%s base_url:%q timeout_ms:%d}",
		redactURL(c.WebhookURL), redacted(c.HookID), redacted(c.Secret), c.BaseURL, c.TimeoutMS)
}

// GoString keeps %#v from printing the hook id or the secret.
func (c Config) GoString() string { return c.String() }

func redacted(s string) string {
	if s == "" {
		return `""`
	}
	return "[redacted]"
}

// redactURL keeps the scheme, host and path up to the hook id.
func redactURL(raw string) string {
	if raw == "" {
		return `""`
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "(invalid)"
	}
	if i := strings.Index(u.Path, HookPath); i >= 0 {
		return u.Scheme + "://" + u.Host + u.Path[:i+len(HookPath)] + "[redacted]"
	}
	return u.Scheme + "://" + u.Host + "/[redacted]"
}
