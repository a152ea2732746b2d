package tencent

import (
	"encoding/json"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/providers"
)

// Config defaults.
const (
	DefaultRegion         = "ap-guangzhou"
	DefaultScheme         = "https"
	DefaultTimeoutSeconds = 10
	// maxTimeoutSeconds bounds the per-request timeout: a send activity
	// holding a connection longer than this is better off giving up and
	// asking for the status.
	maxTimeoutSeconds = 120
)

// Config is one Tencent Cloud SMS account, stored as JSON on the provider
// account and encrypted at rest.
type Config struct {
	SecretID  string `json:"secret_id"`
	SecretKey string `json:"secret_key"`
	// Region is the API region sent as X-TC-Region; default ap-guangzhou.
	Region   string `json:"region,omitempty"`
	SdkAppID string `json:"sdk_app_id"`
	// SignName is the signature used when a message brings none.
	SignName string `json:"sign_name,omitempty"`
	// Endpoint overrides the API host ("host" or "host:port"), for a
	// regional host or a local fake.
	Endpoint string `json:"endpoint,omitempty"`
	// Scheme is "https" (default) or "http".
	Scheme         string `json:"scheme,omitempty"`
	TimeoutSeconds int    `json:"timeout_seconds,omitempty"`
}

// ParseConfig decodes an account's JSON config, reports unknown keys and
// every invalid field in one error, and fills in defaults.
func ParseConfig(raw json.RawMessage) (Config, error) {
	var cfg Config
	problems := providers.DecodeConfig(raw, map[string]providers.ConfigField{
		"secret_id":       {Into: &cfg.SecretID, Want: "a string"},
		"secret_key":      {Into: &cfg.SecretKey, Want: "a string"},
		"region":          {Into: &cfg.Region, Want: "a string"},
		"sdk_app_id":      {Into: &cfg.SdkAppID, Want: "a string"},
		"sign_name":       {Into: &cfg.SignName, Want: "a string"},
		"endpoint":        {Into: &cfg.Endpoint, Want: "a string"},
		"scheme":          {Into: &cfg.Scheme, Want: "a string"},
		"timeout_seconds": {Into: &cfg.TimeoutSeconds, Want: "an integer"},
	})
	problems = append(problems, cfg.problems()...)
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
	return fmt.Errorf("invalid tencent config: %s", strings.Join(problems, "; "))
}

func (c Config) problems() []string {
	var p []string
	if strings.TrimSpace(c.SecretID) == "" {
		p = append(p, "secret_id is required")
	}
	if strings.TrimSpace(c.SecretKey) == "" {
		p = append(p, "secret_key is required")
	}
	switch {
	case c.SdkAppID == "":
		p = append(p, "sdk_app_id is required")
	case !isDigits(c.SdkAppID):
		p = append(p, "sdk_app_id must be the numeric SmsSdkAppId (like 1400006666)")
	}
	if c.Region != "" && !regionPattern().MatchString(c.Region) {
		p = append(p, fmt.Sprintf("region %q is not a Tencent Cloud region (like ap-guangzhou)", c.Region))
	}
	if c.Endpoint != "" {
		if problem := endpointProblem(c.Endpoint); problem != "" {
			p = append(p, problem)
		}
	}
	switch strings.ToLower(c.Scheme) {
	case "", "https", "http":
	default:
		p = append(p, fmt.Sprintf("scheme %q must be https or http", c.Scheme))
	}
	if c.TimeoutSeconds < 0 || c.TimeoutSeconds > maxTimeoutSeconds {
		p = append(p, fmt.Sprintf("timeout_seconds must be between 1 and %d (0 means %d)", maxTimeoutSeconds, DefaultTimeoutSeconds))
	}
	return p
}

func (c Config) withDefaults() Config {
	if c.Region == "" {
		c.Region = DefaultRegion
	}
	c.Scheme = strings.ToLower(c.Scheme)
	if c.Scheme == "" {
		c.Scheme = DefaultScheme
	}
	if c.TimeoutSeconds == 0 {
		c.TimeoutSeconds = DefaultTimeoutSeconds
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

// String describes c without its secret key, so a config that ends up in a
// log line or an error leaks nothing.
func (c Config) String() string {
	return fmt.Sprintf("tencent.Config{secret_id:%q secret_key:[redacted] region:%q sdk_app_id:%q sign_name:%q endpoint:%q scheme:%q timeout_seconds:%d}",
		c.SecretID, c.Region, c.SdkAppID, c.SignName, c.Endpoint, c.Scheme, c.TimeoutSeconds)
}

// GoString keeps %#v from printing the secret key.
func (c Config) GoString() string { return c.String() }

func regionPattern() *regexp.Regexp { return regexp.MustCompile(`^[a-z]{2,3}(-[a-z]+)+(-[0-9]+)?$`) }

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// endpointProblem checks a host[:port] override; the SDK adds the scheme
// and path itself, so a URL here would produce "https://https://...".
func endpointProblem(ep string) string {
	if strings.Contains(ep, "://") || strings.ContainsAny(ep, "/?# ") {
		return fmt.Sprintf("endpoint %q must be a host or host:port, without scheme or path", ep)
	}
	host := ep
	if h, port, err := net.SplitHostPort(ep); err == nil {
		n, perr := strconv.Atoi(port)
		if perr != nil || n < 1 || n > 65535 {
			return fmt.Sprintf("endpoint %q has an invalid port", ep)
		}
		host = h
	}
	if host == "" {
		return fmt.Sprintf("endpoint %q has no host", ep)
	}
	return ""
}
