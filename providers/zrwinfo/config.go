package zrwinfo

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/heraldhq/herald/providers"
)

// Config defaults and limits.
const (
	// DefaultBaseURL is Zrwinfo's SMS API. The service documents plain HTTP
	// too; HTTPS is the default because the secret travels in the body.
	DefaultBaseURL        = "https://api.1cloudsp.com"
	DefaultTimeoutSeconds = 10
	// DefaultBatchSize is the most numbers one batch send carries unless the
	// account says otherwise. Zrwinfo publishes no limit; 100 keeps one
	// request small enough that a refusal costs little.
	DefaultBatchSize = 100
	// MaxBatchSize bounds batch_size.
	MaxBatchSize = 1000
	// maxTimeoutSeconds bounds the per-request timeout: a send holding a
	// connection longer than this is better off giving up and asking for the
	// status.
	maxTimeoutSeconds = 120
)

// Config is one Zrwinfo account, stored as JSON on the provider account and
// encrypted at rest.
type Config struct {
	// AccessKey and Secret are the pair shown under 我的秘钥 in the Zrwinfo
	// console. Zrwinfo takes both in plain text on every request.
	AccessKey string `json:"access_key"`
	Secret    string `json:"secret"`
	// SignName is the signature used when a message brings none: the
	// approved text (with or without 【】) or its numeric signature id.
	SignName string `json:"sign_name,omitempty"`
	// BaseURL overrides the API root ("https://host[:port][/prefix]"), for
	// a mirror host or a local fake.
	BaseURL        string `json:"base_url,omitempty"`
	TimeoutSeconds int    `json:"timeout_seconds,omitempty"`
	// OnUnknownOutcome is "resend" or "fail": what Herald does when the
	// outcome of a batch send is unknown, since the status pull cannot
	// resolve it (default "fail": a second batch request bills and
	// delivers every number again). Single sends are resolved by the pull.
	OnUnknownOutcome string `json:"on_unknown_outcome,omitempty"`
	// BatchSize is the most numbers one batch send carries (default
	// DefaultBatchSize, at most MaxBatchSize).
	BatchSize int `json:"batch_size,omitempty"`
	// CodeClasses overrides the class of Zrwinfo result codes, for codes
	// Herald does not know yet: {"9001": "account"}. Values are failure
	// classes (transient, throttled, account, permanent, config,
	// unknown_outcome).
	CodeClasses map[string]providers.Class `json:"code_classes,omitempty"`
}

// ParseConfig decodes an account's JSON config, reports unknown keys and
// every invalid field in one error, and fills in defaults.
func ParseConfig(raw json.RawMessage) (Config, error) {
	var cfg Config
	problems := providers.DecodeConfig(raw, map[string]providers.ConfigField{
		"access_key":         {Into: &cfg.AccessKey, Want: "a string"},
		"secret":             {Into: &cfg.Secret, Want: "a string"},
		"sign_name":          {Into: &cfg.SignName, Want: "a string"},
		"base_url":           {Into: &cfg.BaseURL, Want: "a string"},
		"timeout_seconds":    {Into: &cfg.TimeoutSeconds, Want: "an integer"},
		"on_unknown_outcome": {Into: &cfg.OnUnknownOutcome, Want: "a string"},
		"batch_size":         {Into: &cfg.BatchSize, Want: "an integer"},
		"code_classes":       {Into: &cfg.CodeClasses, Want: "an object of class names"},
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
	return errors.New("invalid zrwinfo config: " + strings.Join(problems, "; "))
}

func (c Config) problems() []string {
	var p []string
	if strings.TrimSpace(c.AccessKey) == "" {
		p = append(p, "access_key is required")
	}
	if strings.TrimSpace(c.Secret) == "" {
		p = append(p, "secret is required")
	}
	if c.BaseURL != "" {
		if problem := baseURLProblem(c.BaseURL); problem != "" {
			p = append(p, problem)
		}
	}
	if c.TimeoutSeconds < 0 || c.TimeoutSeconds > maxTimeoutSeconds {
		p = append(p, fmt.Sprintf("timeout_seconds must be between 1 and %d (0 means %d)", maxTimeoutSeconds, DefaultTimeoutSeconds))
	}
	if c.BatchSize < 0 || c.BatchSize > MaxBatchSize {
		p = append(p, fmt.Sprintf("batch_size must be between 1 and %d (0 means %d)", MaxBatchSize, DefaultBatchSize))
	}
	codes := make([]string, 0, len(c.CodeClasses))
	for code := range c.CodeClasses {
		codes = append(codes, code)
	}
	slices.Sort(codes)
	for _, code := range codes {
		switch class := c.CodeClasses[code]; {
		case code == "" || code == codeOK:
			p = append(p, fmt.Sprintf("code_classes: %q is not a failure code", code))
		case !class.FromProvider():
			p = append(p, fmt.Sprintf("code_classes: %q maps to %q, which is not a failure class", code, class))
		}
	}
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
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	return c
}

// Timeout is the per-request timeout, with the default applied.
func (c Config) Timeout() time.Duration {
	if c.TimeoutSeconds <= 0 {
		return DefaultTimeoutSeconds * time.Second
	}
	return time.Duration(c.TimeoutSeconds) * time.Second
}

// String describes c without its secret, so a config that ends up in a log
// line or an error leaks nothing.
func (c Config) String() string {
	return fmt.Sprintf("zrwinfo.Config{access_key:%q secret:[redacted] sign_name:%q base_url:%q timeout_seconds:%d batch_size:%d code_classes:%v}",
		c.AccessKey, c.SignName, c.BaseURL, c.TimeoutSeconds, c.BatchSize, c.CodeClasses)
}

// GoString keeps %#v from printing the secret.
func (c Config) GoString() string { return c.String() }

// baseURLProblem checks a base_url override. User info and queries are
// refused: credentials belong in access_key and secret, which are redacted,
// while the URL is not.
func baseURLProblem(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return fmt.Sprintf("base_url %q is not a valid URL", raw)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Sprintf("base_url %q must start with http:// or https://", raw)
	case u.Host == "":
		return fmt.Sprintf("base_url %q has no host", raw)
	case u.User != nil:
		return "base_url must not carry user info; use access_key and secret"
	case u.RawQuery != "" || u.Fragment != "":
		return fmt.Sprintf("base_url %q must not have a query or fragment", raw)
	}
	return ""
}
