package wechatwork

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/providers"
)

// Config defaults and limits.
const (
	// DefaultBaseURL is the WeCom API host.
	DefaultBaseURL        = "https://qyapi.weixin.qq.com"
	DefaultTimeoutSeconds = 10
	MaxTimeoutSeconds     = 60
	// MaxDuplicateCheckInterval is WeCom's longest duplicate check window.
	MaxDuplicateCheckInterval = 4 * 3600
)

// Config is one WeCom application ("wechatwork" kind), stored as JSON on
// the provider account and encrypted at rest.
type Config struct {
	// CorpID is the enterprise id (企业ID), "ww..." in the admin console.
	CorpID string `json:"corp_id"`
	// CorpSecret is the application's Secret. It is never logged.
	CorpSecret string `json:"corp_secret"`
	// AgentID is the application's AgentId. In JSON it may be a number or a
	// string of digits.
	AgentID int64 `json:"agent_id"`
	// BaseURL overrides DefaultBaseURL, for a proxy or a local fake. The
	// API paths (/cgi-bin/...) are appended to it.
	BaseURL string `json:"base_url,omitempty"`
	// TimeoutSeconds bounds each HTTP request (default
	// DefaultTimeoutSeconds, at most MaxTimeoutSeconds).
	TimeoutSeconds int `json:"timeout_seconds,omitempty"`
	// EnableDuplicateCheck asks WeCom to drop a message identical to one
	// sent within DuplicateCheckInterval (enable_duplicate_check), which
	// makes a resend after an unknown outcome safe.
	EnableDuplicateCheck bool `json:"enable_duplicate_check,omitempty"`
	// DuplicateCheckInterval is that window in seconds (WeCom's default
	// 1800 when zero, at most 4 hours).
	DuplicateCheckInterval int `json:"duplicate_check_interval,omitempty"`
	// OnUnknownOutcome is "resend" or "fail": what Herald does when a send's
	// outcome is unknown, since this provider cannot be asked (default "resend"
	// with enable_duplicate_check, "fail" without).
	OnUnknownOutcome string `json:"on_unknown_outcome,omitempty"`
}

// ParseConfig decodes an application account's JSON config, reports
// unknown keys and every invalid field in one error, and fills in
// defaults. The error never quotes the secret.
func ParseConfig(raw json.RawMessage) (Config, error) {
	var cfg Config
	problems := providers.DecodeConfig(raw, map[string]providers.ConfigField{
		"corp_id":                  {Into: &cfg.CorpID, Want: "a string"},
		"corp_secret":              {Into: &cfg.CorpSecret, Want: "a string"},
		"agent_id":                 {Into: (*agentID)(&cfg.AgentID), Want: "an integer (a number or a string of digits)"},
		"base_url":                 {Into: &cfg.BaseURL, Want: "a string"},
		"timeout_seconds":          {Into: &cfg.TimeoutSeconds, Want: "an integer"},
		"enable_duplicate_check":   {Into: &cfg.EnableDuplicateCheck, Want: "a boolean"},
		"duplicate_check_interval": {Into: &cfg.DuplicateCheckInterval, Want: "an integer"},
		"on_unknown_outcome":       {Into: &cfg.OnUnknownOutcome, Want: "a string"},
	})
	problems = append(problems, cfg.problems()...)
	problems = append(problems, providers.UnknownOutcomeProblems(cfg.OnUnknownOutcome)...)
	if cfg.DuplicateCheckInterval < 0 || cfg.DuplicateCheckInterval > MaxDuplicateCheckInterval {
		problems = append(problems, fmt.Sprintf("duplicate_check_interval must be between 1 and %d seconds (0 means WeCom's 1800)", MaxDuplicateCheckInterval))
	}
	if cfg.DuplicateCheckInterval != 0 && !cfg.EnableDuplicateCheck {
		// Alone, the interval would be ignored, and the account would
		// neither deduplicate nor, by default, resend after an unknown
		// outcome: surely not what was meant.
		problems = append(problems, "duplicate_check_interval only applies with enable_duplicate_check: true; set enable_duplicate_check: true or remove duplicate_check_interval")
	}
	if len(problems) > 0 {
		return Config{}, configError("wechatwork", problems)
	}
	return cfg.withDefaults(), nil
}

// Validate reports every problem with c in one error. Empty optional
// fields are valid: they take their defaults.
func (c Config) Validate() error {
	if p := c.problems(); len(p) > 0 {
		return configError("wechatwork", p)
	}
	return nil
}

func (c Config) problems() []string {
	var p []string
	if strings.TrimSpace(c.CorpID) == "" {
		p = append(p, "corp_id is required")
	} else if strings.ContainsAny(c.CorpID, " \t\r\n") {
		p = append(p, "corp_id must not contain spaces")
	}
	if strings.TrimSpace(c.CorpSecret) == "" {
		p = append(p, "corp_secret is required")
	} else if strings.ContainsAny(c.CorpSecret, " \t\r\n") {
		p = append(p, "corp_secret must not contain spaces")
	}
	if c.AgentID <= 0 {
		p = append(p, "agent_id is required and must be a positive integer (the application's AgentId)")
	}
	p = append(p, baseURLProblems("base_url", c.BaseURL)...)
	p = append(p, timeoutProblems(c.TimeoutSeconds)...)
	return p
}

func (c Config) withDefaults() Config {
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	if c.BaseURL == "" {
		c.BaseURL = DefaultBaseURL
	}
	if c.TimeoutSeconds == 0 {
		c.TimeoutSeconds = DefaultTimeoutSeconds
	}
	return c
}

// Timeout is the per-request timeout, with the default applied.
func (c Config) Timeout() time.Duration { return timeout(c.TimeoutSeconds) }

// String describes c without its secret, so a config that ends up in a log
// line or an error leaks nothing.
func (c Config) String() string {
	return fmt.Sprintf("wechatwork.Config{corp_id:%q corp_secret:[redacted] agent_id:%d base_url:%q timeout_seconds:%d}",
		c.CorpID, c.AgentID, redactURL(c.BaseURL), c.TimeoutSeconds)
}

// GoString keeps %#v from printing the secret.
func (c Config) GoString() string { return c.String() }

// RobotConfig is one group robot ("wechatwork_robot" kind). Give either Key
// or WebhookURL, not both.
type RobotConfig struct {
	// Key is the robot's webhook key, the only credential a robot has. It
	// is never logged.
	Key string `json:"key,omitempty"`
	// WebhookURL is the full webhook address as the group settings show it
	// (".../cgi-bin/webhook/send?key=..."), an alternative to Key.
	WebhookURL string `json:"webhook_url,omitempty"`
	// BaseURL overrides DefaultBaseURL when Key is given, for a proxy or a
	// local fake.
	BaseURL string `json:"base_url,omitempty"`
	// TimeoutSeconds bounds each HTTP request (default
	// DefaultTimeoutSeconds, at most MaxTimeoutSeconds).
	TimeoutSeconds int `json:"timeout_seconds,omitempty"`
	// OnUnknownOutcome is "resend" or "fail": what Herald does when a send's
	// outcome is unknown, since this provider cannot be asked (default "fail":
	// a group robot cannot deduplicate, and a duplicate alert in a group is
	// worse than one the sender is told was not confirmed).
	OnUnknownOutcome string `json:"on_unknown_outcome,omitempty"`
}

// ParseRobotConfig decodes a robot account's JSON config, reports unknown
// keys and every invalid field in one error, and fills in defaults. The
// error never quotes the key.
func ParseRobotConfig(raw json.RawMessage) (RobotConfig, error) {
	var cfg RobotConfig
	problems := providers.DecodeConfig(raw, map[string]providers.ConfigField{
		"key":                {Into: &cfg.Key, Want: "a string"},
		"webhook_url":        {Into: &cfg.WebhookURL, Want: "a string"},
		"base_url":           {Into: &cfg.BaseURL, Want: "a string"},
		"timeout_seconds":    {Into: &cfg.TimeoutSeconds, Want: "an integer"},
		"on_unknown_outcome": {Into: &cfg.OnUnknownOutcome, Want: "a string"},
	})
	problems = append(problems, cfg.problems()...)
	problems = append(problems, providers.UnknownOutcomeProblems(cfg.OnUnknownOutcome)...)
	if len(problems) > 0 {
		return RobotConfig{}, configError("wechatwork_robot", problems)
	}
	return cfg.withDefaults(), nil
}

// Validate reports every problem with c in one error.
func (c RobotConfig) Validate() error {
	if p := c.problems(); len(p) > 0 {
		return configError("wechatwork_robot", p)
	}
	return nil
}

func (c RobotConfig) problems() []string {
	var p []string
	switch {
	case c.Key == "" && c.WebhookURL == "":
		p = append(p, "key or webhook_url is required")
	case c.Key != "" && c.WebhookURL != "":
		p = append(p, "give key or webhook_url, not both")
	case c.Key != "":
		if strings.ContainsAny(c.Key, " \t\r\n&?#/") {
			p = append(p, "key must be the bare webhook key (the value after key=)")
		}
		p = append(p, baseURLProblems("base_url", c.BaseURL)...)
	default:
		p = append(p, webhookURLProblems(c.WebhookURL)...)
		if c.BaseURL != "" {
			p = append(p, "base_url only applies with key; put the whole address in webhook_url")
		}
	}
	p = append(p, timeoutProblems(c.TimeoutSeconds)...)
	return p
}

func (c RobotConfig) withDefaults() RobotConfig {
	if c.Key != "" {
		c.BaseURL = strings.TrimRight(c.BaseURL, "/")
		if c.BaseURL == "" {
			c.BaseURL = DefaultBaseURL
		}
	}
	if c.TimeoutSeconds == 0 {
		c.TimeoutSeconds = DefaultTimeoutSeconds
	}
	return c
}

// Timeout is the per-request timeout, with the default applied.
func (c RobotConfig) Timeout() time.Duration { return timeout(c.TimeoutSeconds) }

// SendURL is the address messages are posted to: WebhookURL as given, or
// BaseURL + "/cgi-bin/webhook/send?key=" + Key.
func (c RobotConfig) SendURL() string {
	if c.WebhookURL != "" {
		return c.WebhookURL
	}
	base := strings.TrimRight(c.BaseURL, "/")
	if base == "" {
		base = DefaultBaseURL
	}
	return base + "/cgi-bin/webhook/send?key=" + url.QueryEscape(c.Key)
}

// String describes c without the key.
func (c RobotConfig) String() string {
	key := ""
	if c.Key != "" {
		key = "[redacted]"
	}
	return fmt.Sprintf("wechatwork.RobotConfig{key:%s webhook_url:%q base_url:%q timeout_seconds:%d}",
		key, redactURL(c.WebhookURL), redactURL(c.BaseURL), c.TimeoutSeconds)
}

// GoString keeps %#v from printing the key.
func (c RobotConfig) GoString() string { return c.String() }

func timeout(seconds int) time.Duration {
	if seconds <= 0 {
		return DefaultTimeoutSeconds * time.Second
	}
	return time.Duration(seconds) * time.Second
}

func timeoutProblems(seconds int) []string {
	if seconds < 0 || seconds > MaxTimeoutSeconds {
		return []string{fmt.Sprintf("timeout_seconds must be between 1 and %d (0 means %d)", MaxTimeoutSeconds, DefaultTimeoutSeconds)}
	}
	return nil
}

// baseURLProblems checks an API base address: http or https, a host, and
// neither query nor fragment, since paths and queries are appended to it.
func baseURLProblems(name, raw string) []string {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return []string{name + " is not a valid URL"}
	case u.Scheme != "http" && u.Scheme != "https":
		return []string{name + " must use http or https"}
	case u.Host == "":
		return []string{name + " must include a host"}
	case u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(raw, "?"):
		return []string{name + " must not have a query or fragment"}
	case u.User != nil:
		return []string{name + " must not carry user info"}
	}
	return nil
}

// webhookURLProblems checks a robot's full webhook address.
func webhookURLProblems(raw string) []string {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return []string{"webhook_url is not a valid URL"}
	case u.Scheme != "http" && u.Scheme != "https":
		return []string{"webhook_url must use http or https"}
	case u.Host == "":
		return []string{"webhook_url must include a host"}
	case u.Query().Get("key") == "":
		return []string{"webhook_url must carry the robot key as ?key=..."}
	}
	return nil
}

// redactURL drops the user info and the query, which may carry
// credentials (a robot's key).
func redactURL(raw string) string {
	if raw == "" {
		return ""
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

func configError(kind string, problems []string) error {
	return errors.New("invalid " + kind + " config: " + strings.Join(problems, "; "))
}

// agentID decodes an AgentId given as a JSON number or as a string of
// digits: the console shows it as text, and both spellings are common.
type agentID int64

func (a *agentID) UnmarshalJSON(b []byte) error {
	s := string(bytes.TrimSpace(b))
	if unq, err := strconv.Unquote(s); err == nil {
		s = strings.TrimSpace(unq)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("agent_id %s is not an integer", b)
	}
	*a = agentID(n)
	return nil
}
