package apply

import (
	"encoding/json"
	"github.com/heraldhq/herald/internal/breaker"

	"github.com/heraldhq/herald/rules"
	"github.com/heraldhq/herald/store"
	"gopkg.in/yaml.v3"
)

// document is the YAML document `herald apply` reads.
type document struct {
	Apps      []fileApp      `yaml:"apps"`
	Templates []fileTemplate `yaml:"templates"`
	Accounts  []fileAccount  `yaml:"accounts"`
	Channels  []fileChannel  `yaml:"channels"`
	Rules     []fileRule     `yaml:"rules"`
}

type fileApp struct {
	ID   string `yaml:"id"`
	Name string `yaml:"name"`
	// Secret, when empty, keeps the stored one or is generated on create.
	Secret             string   `yaml:"secret"`
	Enabled            *bool    `yaml:"enabled"`
	IPAllowlist        []string `yaml:"ip_allowlist"`
	RateLimitPerSecond int      `yaml:"rate_limit_per_second"`
	// RequestsPerMinute with Burst is the predecessor's shape of the
	// request limit; when set it replaces rate_limit_per_second.
	RequestsPerMinute int `yaml:"requests_per_minute"`
	Burst             int `yaml:"burst"`
	// MessagesPerMinute caps accepted messages, a batch counting its
	// receivers; 0 means the server default.
	MessagesPerMinute int    `yaml:"messages_per_minute"`
	StatusCallbackURL string `yaml:"status_callback_url"`
	// CallbackSecret, when empty, keeps the stored one, or is generated
	// when the app has a status callback URL and no secret yet.
	CallbackSecret string `yaml:"callback_secret"`
	// QuietHours, when set, replace the quiet hours of every channel for
	// the app's messages.
	QuietHours *store.QuietHours `yaml:"quiet_hours"`
	// TimeZone is the IANA zone of the app's quota periods; empty means
	// Asia/Shanghai.
	TimeZone string `yaml:"time_zone"`
	// Quota, when set, replaces the app's message quotas; absent keeps
	// them.
	Quota *fileQuota `yaml:"quota"`
	// Grants names the channels the app may use. Absent keeps the grants
	// the app has; an empty list takes them all away.
	Grants *[]string `yaml:"grants"`
}

// fileQuota is an app's daily and monthly message quotas, and its quotas
// on single channels by channel name; 0 means none.
type fileQuota struct {
	Daily    int64                     `yaml:"daily"`
	Monthly  int64                     `yaml:"monthly"`
	Channels map[string]fileQuotaLimit `yaml:"channels"`
}

type fileQuotaLimit struct {
	Daily   int64 `yaml:"daily"`
	Monthly int64 `yaml:"monthly"`
}

type fileTemplate struct {
	Name        string   `yaml:"name"`
	ContentType string   `yaml:"content_type"`
	Subject     string   `yaml:"subject"`
	Content     string   `yaml:"content"`
	Variables   []string `yaml:"variables"`
	Description string   `yaml:"description"`
	// Kind is "verification" for one-time codes, else empty.
	Kind         string        `yaml:"kind"`
	ReceiverCaps *fileCaps     `yaml:"receiver_caps"`
	Mappings     []fileMapping `yaml:"mappings"`
	// TTLSeconds is the expiry of the template's messages whose request
	// sets none; 0 leaves it to the channel.
	TTLSeconds int `yaml:"ttl_seconds"`
	// Critical messages ignore quiet hours.
	Critical bool `yaml:"critical"`
}

// fileCaps are per-receiver caps; an absent or 0 window is unbounded.
type fileCaps struct {
	PerMinute int `yaml:"per_minute"`
	PerHour   int `yaml:"per_hour"`
	PerDay    int `yaml:"per_day"`
}

// storeCaps returns the caps as stored: nil when none are set.
func (c *fileCaps) storeCaps() *store.ReceiverCaps {
	if c == nil {
		return nil
	}
	return &store.ReceiverCaps{PerMinute: c.PerMinute, PerHour: c.PerHour, PerDay: c.PerDay}
}

// fileMapping is how one account sends a template.
type fileMapping struct {
	Account      string            `yaml:"account"`
	ProviderCode string            `yaml:"provider_code"`
	ParamOrder   []string          `yaml:"param_order"`
	ParamNames   map[string]string `yaml:"param_names"`
}

type fileAccount struct {
	Name string `yaml:"name"`
	Kind string `yaml:"kind"`
	// Config is kept as a node so it can be turned into the provider's
	// JSON as written, whatever its shape.
	Config             yaml.Node `yaml:"config"`
	Weight             *int      `yaml:"weight"`
	Enabled            *bool     `yaml:"enabled"`
	RateLimitPerMinute int       `yaml:"rate_limit_per_minute"`
	// Breaker sets the account's circuit breaker thresholds; unset
	// fields (or no breaker key) take the defaults.
	Breaker *breaker.Settings `yaml:"breaker"`
	// Countries limits the phone numbers the account sends to: ISO 3166
	// regions, or "international" alone (every region but mainland
	// China). Absent: every country its provider reaches.
	Countries []string `yaml:"countries"`
	// CallbackToken, when empty, keeps the stored one or is generated.
	CallbackToken string `yaml:"callback_token"`

	// config is Config as canonical JSON, filled by validation.
	config json.RawMessage
}

type fileChannel struct {
	Name                  string    `yaml:"name"`
	Type                  string    `yaml:"type"`
	Template              string    `yaml:"template"`
	SignatureNames        []string  `yaml:"signature_names"`
	SignatureRequired     bool      `yaml:"signature_required"`
	Enabled               *bool     `yaml:"enabled"`
	ReceiptTimeoutSeconds int       `yaml:"receipt_timeout_seconds"`
	MaxAttempts           int       `yaml:"max_attempts"`
	ReceiverCaps          *fileCaps `yaml:"receiver_caps"`
	// AllowedCountries narrows an SMS channel to these ISO 3166 regions.
	AllowedCountries []string         `yaml:"allowed_countries"`
	Pool             []filePoolMember `yaml:"pool"`
	// DefaultTTLSeconds is the expiry of messages whose request and
	// template set none; 0 means 24 hours.
	DefaultTTLSeconds int `yaml:"default_ttl_seconds"`
	// QuietHours is when the channel sends only critical messages.
	QuietHours *store.QuietHours `yaml:"quiet_hours"`
}

type filePoolMember struct {
	Account string `yaml:"account"`
	// Weight defaults to the account's own weight.
	Weight *int `yaml:"weight"`
}

type fileRule struct {
	Name          string     `yaml:"name"`
	Scene         string     `yaml:"scene"`
	Priority      int        `yaml:"priority"`
	ProviderKind  string     `yaml:"provider_kind"`
	MessageType   string     `yaml:"message_type"`
	ErrorCodes    stringList `yaml:"error_codes"`
	ErrorKeywords stringList `yaml:"error_keywords"`
	Action        string     `yaml:"action"`
	MaxRetry      int        `yaml:"max_retry"`
	DelaySeconds  int        `yaml:"delay_seconds"`
	BackoffRate   float64    `yaml:"backoff_rate"`
	ThenAction    string     `yaml:"then_action"`
	Enabled       *bool      `yaml:"enabled"`
}

// stringList is a YAML list of strings, or one comma-separated string as
// rules store them.
type stringList []string

// UnmarshalYAML accepts a sequence or a comma-separated scalar.
func (l *stringList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*l = rules.ParseList(n.Value)
		return nil
	}
	var items []string
	if err := n.Decode(&items); err != nil {
		return err
	}
	*l = items
	return nil
}

func boolOr(p *bool, def bool) bool {
	if p == nil {
		return def
	}
	return *p
}

func intOr(p *int, def int) int {
	if p == nil {
		return def
	}
	return *p
}
