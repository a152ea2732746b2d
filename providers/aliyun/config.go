package aliyun

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
	DefaultProtocol       = "https"
	DefaultTimeoutSeconds = 10
	// maxTimeoutSeconds bounds the per-request timeout: a send that holds a
	// connection longer than this is better off giving up and asking
	// QuerySendDetails what happened.
	maxTimeoutSeconds = 120
)

// Config is one Aliyun SMS (Dysmsapi) account, stored as JSON on the
// provider account and encrypted at rest.
type Config struct {
	AccessKeyID     string `json:"access_key_id"`
	AccessKeySecret string `json:"access_key_secret"`
	// SignName is the approved signature used when a message brings none.
	SignName string `json:"sign_name,omitempty"`
	// Region picks a regional API host the SDK knows (ap-southeast-1,
	// eu-central-1, us-east-1, ...); any other region, or none, uses the
	// central host dysmsapi.aliyuncs.com.
	Region string `json:"region,omitempty"`
	// Endpoint overrides the API host ("host" or "host:port"), for a host
	// the SDK does not know or for a local fake. It wins over Region.
	Endpoint string `json:"endpoint,omitempty"`
	// Protocol is "https" (default) or "http".
	Protocol       string `json:"protocol,omitempty"`
	TimeoutSeconds int    `json:"timeout_seconds,omitempty"`
}

// ParseConfig decodes an account's JSON config, reports unknown keys and
// every invalid field in one error, and fills in defaults.
func ParseConfig(raw json.RawMessage) (Config, error) {
	var cfg Config
	problems := providers.DecodeConfig(raw, map[string]providers.ConfigField{
		"access_key_id":     {Into: &cfg.AccessKeyID, Want: "a string"},
		"access_key_secret": {Into: &cfg.AccessKeySecret, Want: "a string"},
		"sign_name":         {Into: &cfg.SignName, Want: "a string"},
		"region":            {Into: &cfg.Region, Want: "a string"},
		"endpoint":          {Into: &cfg.Endpoint, Want: "a string"},
		"protocol":          {Into: &cfg.Protocol, Want: "a string"},
		"timeout_seconds":   {Into: &cfg.TimeoutSeconds, Want: "an integer"},
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
	return fmt.Errorf("invalid aliyun config: %s", strings.Join(problems, "; "))
}

func (c Config) problems() []string {
	var p []string
	if strings.TrimSpace(c.AccessKeyID) == "" {
		p = append(p, "access_key_id is required")
	}
	if strings.TrimSpace(c.AccessKeySecret) == "" {
		p = append(p, "access_key_secret is required")
	}
	if c.Region != "" && !regionPattern().MatchString(c.Region) {
		p = append(p, fmt.Sprintf("region %q is not an Alibaba Cloud region id (like cn-hangzhou or ap-southeast-1)", c.Region))
	}
	if c.Endpoint != "" {
		if problem := endpointProblem(c.Endpoint); problem != "" {
			p = append(p, problem)
		}
	}
	switch strings.ToLower(c.Protocol) {
	case "", "https", "http":
	default:
		p = append(p, fmt.Sprintf("protocol %q must be https or http", c.Protocol))
	}
	if c.TimeoutSeconds < 0 || c.TimeoutSeconds > maxTimeoutSeconds {
		p = append(p, fmt.Sprintf("timeout_seconds must be between 1 and %d (0 means %d)", maxTimeoutSeconds, DefaultTimeoutSeconds))
	}
	return p
}

func (c Config) withDefaults() Config {
	c.Protocol = strings.ToLower(c.Protocol)
	if c.Protocol == "" {
		c.Protocol = DefaultProtocol
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

// String describes c without its secret, so a config that ends up in a log
// line or an error leaks nothing.
func (c Config) String() string {
	return fmt.Sprintf("aliyun.Config{access_key_id:%q access_key_secret:[redacted] sign_name:%q region:%q endpoint:%q protocol:%q timeout_seconds:%d}",
		c.AccessKeyID, c.SignName, c.Region, c.Endpoint, c.Protocol, c.TimeoutSeconds)
}

// GoString keeps %#v from printing the secret.
func (c Config) GoString() string { return c.String() }

func regionPattern() *regexp.Regexp { return regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+(-[0-9]+)?$`) }

// endpointProblem checks a host[:port] override; the SDK adds the protocol
// and path itself, so a URL here would produce "https://https://...".
func endpointProblem(ep string) string {
	if strings.Contains(ep, "://") || strings.ContainsAny(ep, "/?# ") {
		return fmt.Sprintf("endpoint %q must be a host or host:port, without protocol or path", ep)
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
