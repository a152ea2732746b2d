package resources

import (
	"encoding/json"
	"github.com/heraldhq/herald/internal/breaker"

	"github.com/heraldhq/herald/rules"
	"github.com/heraldhq/herald/store"
	"gopkg.in/yaml.v3"
)

// Set describes configuration objects: the YAML document `herald apply`
// reads, or the one object an admin API request changes.
type Set struct {
	Apps      []App      `yaml:"apps" json:"apps"`
	Templates []Template `yaml:"templates" json:"templates"`
	Accounts  []Account  `yaml:"accounts" json:"accounts"`
	Channels  []Channel  `yaml:"channels" json:"channels"`
	Rules     []Rule     `yaml:"rules" json:"rules"`
}

type App struct {
	// Version, when set, is the version of the stored object the change
	// was made against; another version refuses the change (store.ErrStale).
	Version int64  `yaml:"-" json:"version,omitempty"`
	ID      string `yaml:"id" json:"id"`
	Name    string `yaml:"name" json:"name"`
	// Secret, when empty, keeps the stored one or is generated on create.
	Secret             string   `yaml:"secret" json:"secret"`
	Enabled            *bool    `yaml:"enabled" json:"enabled"`
	IPAllowlist        []string `yaml:"ip_allowlist" json:"ip_allowlist"`
	RateLimitPerSecond int      `yaml:"rate_limit_per_second" json:"rate_limit_per_second"`
	// RequestsPerMinute with Burst is the predecessor's shape of the
	// request limit; when set it replaces rate_limit_per_second.
	RequestsPerMinute int `yaml:"requests_per_minute" json:"requests_per_minute"`
	Burst             int `yaml:"burst" json:"burst"`
	// MessagesPerMinute caps accepted messages, a batch counting its
	// receivers; 0 means the server default.
	MessagesPerMinute int    `yaml:"messages_per_minute" json:"messages_per_minute"`
	StatusCallbackURL string `yaml:"status_callback_url" json:"status_callback_url"`
	// CallbackSecret, when empty, keeps the stored one, or is generated
	// when the app has a status callback URL and no secret yet.
	CallbackSecret string `yaml:"callback_secret" json:"callback_secret"`
	// QuietHours, when set, replace the quiet hours of every channel for
	// the app's messages.
	QuietHours *store.QuietHours `yaml:"quiet_hours" json:"quiet_hours"`
	// TimeZone is the IANA zone of the app's quota periods; empty means
	// Asia/Shanghai.
	TimeZone string `yaml:"time_zone" json:"time_zone"`
	// RetentionDays is how many days the personal data of the app's
	// finished messages is kept (receivers, contents, template params,
	// reply texts) before the worker erases it; 0 keeps it for ever.
	RetentionDays int `yaml:"retention_days" json:"retention_days"`
	// Quota, when set, replaces the app's message quotas; absent keeps
	// them.
	Quota *Quota `yaml:"quota" json:"quota"`
	// Grants names the channels the app may use. Absent keeps the grants
	// the app has; an empty list takes them all away.
	Grants *[]string `yaml:"grants" json:"grants"`
}

// Quota is an app's daily and monthly message quotas, and its quotas
// on single channels by channel name; 0 means none.
type Quota struct {
	Daily    int64                 `yaml:"daily" json:"daily"`
	Monthly  int64                 `yaml:"monthly" json:"monthly"`
	Channels map[string]QuotaLimit `yaml:"channels" json:"channels"`
}

type QuotaLimit struct {
	Daily   int64 `yaml:"daily" json:"daily"`
	Monthly int64 `yaml:"monthly" json:"monthly"`
}

type Template struct {
	// Version, when set, is the version of the stored object the change
	// was made against; another version refuses the change (store.ErrStale).
	Version     int64    `yaml:"-" json:"version,omitempty"`
	Name        string   `yaml:"name" json:"name"`
	ContentType string   `yaml:"content_type" json:"content_type"`
	Subject     string   `yaml:"subject" json:"subject"`
	Content     string   `yaml:"content" json:"content"`
	Variables   []string `yaml:"variables" json:"variables"`
	Description string   `yaml:"description" json:"description"`
	// Kind is "verification" for one-time codes, else empty.
	Kind         string    `yaml:"kind" json:"kind"`
	ReceiverCaps *Caps     `yaml:"receiver_caps" json:"receiver_caps"`
	Mappings     []Mapping `yaml:"mappings" json:"mappings"`
	// TTLSeconds is the expiry of the template's messages whose request
	// sets none; 0 leaves it to the channel.
	TTLSeconds int `yaml:"ttl_seconds" json:"ttl_seconds"`
	// Critical messages ignore quiet hours.
	Critical bool `yaml:"critical" json:"critical"`
}

// Caps are per-receiver caps; an absent or 0 window is unbounded.
type Caps struct {
	PerMinute int `yaml:"per_minute" json:"per_minute"`
	PerHour   int `yaml:"per_hour" json:"per_hour"`
	PerDay    int `yaml:"per_day" json:"per_day"`
}

// storeCaps returns the caps as stored: nil when none are set.
func (c *Caps) storeCaps() *store.ReceiverCaps {
	if c == nil {
		return nil
	}
	return &store.ReceiverCaps{PerMinute: c.PerMinute, PerHour: c.PerHour, PerDay: c.PerDay}
}

// Mapping is how one account sends a template.
type Mapping struct {
	Account      string            `yaml:"account" json:"account"`
	ProviderCode string            `yaml:"provider_code" json:"provider_code"`
	ParamOrder   []string          `yaml:"param_order" json:"param_order"`
	ParamNames   map[string]string `yaml:"param_names" json:"param_names"`
}

type Account struct {
	// Version, when set, is the version of the stored object the change
	// was made against; another version refuses the change (store.ErrStale).
	Version int64  `yaml:"-" json:"version,omitempty"`
	Name    string `yaml:"name" json:"name"`
	Kind    string `yaml:"kind" json:"kind"`
	// Config is kept as a node so it can be turned into the provider's
	// JSON as written, whatever its shape.
	Config yaml.Node `yaml:"config" json:"-"`
	// ConfigJSON is the config as JSON, as the admin API sends it; when
	// set it is used instead of Config.
	ConfigJSON         json.RawMessage `yaml:"-" json:"config,omitempty"`
	Weight             *int            `yaml:"weight" json:"weight"`
	Enabled            *bool           `yaml:"enabled" json:"enabled"`
	RateLimitPerMinute int             `yaml:"rate_limit_per_minute" json:"rate_limit_per_minute"`
	// Breaker sets the account's circuit breaker thresholds; unset
	// fields (or no breaker key) take the defaults.
	Breaker *breaker.Settings `yaml:"breaker" json:"breaker"`
	// Countries limits the phone numbers the account sends to: ISO 3166
	// regions, or "international" alone (every region but mainland
	// China). Absent: every country its provider reaches.
	Countries []string `yaml:"countries" json:"countries"`
	// CallbackToken, when empty, keeps the stored one or is generated.
	CallbackToken string `yaml:"callback_token" json:"callback_token"`

	// config is Config as canonical JSON, filled by validation.
	config json.RawMessage
}

type Channel struct {
	// Version, when set, is the version of the stored object the change
	// was made against; another version refuses the change (store.ErrStale).
	Version               int64    `yaml:"-" json:"version,omitempty"`
	Name                  string   `yaml:"name" json:"name"`
	Type                  string   `yaml:"type" json:"type"`
	Template              string   `yaml:"template" json:"template"`
	SignatureNames        []string `yaml:"signature_names" json:"signature_names"`
	SignatureRequired     bool     `yaml:"signature_required" json:"signature_required"`
	Enabled               *bool    `yaml:"enabled" json:"enabled"`
	ReceiptTimeoutSeconds int      `yaml:"receipt_timeout_seconds" json:"receipt_timeout_seconds"`
	MaxAttempts           int      `yaml:"max_attempts" json:"max_attempts"`
	ReceiverCaps          *Caps    `yaml:"receiver_caps" json:"receiver_caps"`
	// AllowedCountries narrows an SMS channel to these ISO 3166 regions.
	AllowedCountries []string     `yaml:"allowed_countries" json:"allowed_countries"`
	Pool             []PoolMember `yaml:"pool" json:"pool"`
	// DefaultTTLSeconds is the expiry of messages whose request and
	// template set none; 0 means 24 hours.
	DefaultTTLSeconds int `yaml:"default_ttl_seconds" json:"default_ttl_seconds"`
	// QuietHours is when the channel sends only critical messages.
	QuietHours *store.QuietHours `yaml:"quiet_hours" json:"quiet_hours"`
}

type PoolMember struct {
	Account string `yaml:"account" json:"account"`
	// Weight defaults to the account's own weight.
	Weight *int `yaml:"weight" json:"weight"`
}

type Rule struct {
	// Version, when set, is the version of the stored object the change
	// was made against; another version refuses the change (store.ErrStale).
	Version       int64      `yaml:"-" json:"version,omitempty"`
	Name          string     `yaml:"name" json:"name"`
	Scene         string     `yaml:"scene" json:"scene"`
	Priority      int        `yaml:"priority" json:"priority"`
	ProviderKind  string     `yaml:"provider_kind" json:"provider_kind"`
	MessageType   string     `yaml:"message_type" json:"message_type"`
	ErrorCodes    StringList `yaml:"error_codes" json:"error_codes"`
	ErrorKeywords StringList `yaml:"error_keywords" json:"error_keywords"`
	Action        string     `yaml:"action" json:"action"`
	MaxRetry      int        `yaml:"max_retry" json:"max_retry"`
	DelaySeconds  int        `yaml:"delay_seconds" json:"delay_seconds"`
	BackoffRate   float64    `yaml:"backoff_rate" json:"backoff_rate"`
	ThenAction    string     `yaml:"then_action" json:"then_action"`
	Enabled       *bool      `yaml:"enabled" json:"enabled"`
}

// StringList is a YAML list of strings, or one comma-separated string as
// rules store them.
type StringList []string

// UnmarshalYAML accepts a sequence or a comma-separated scalar.
func (l *StringList) UnmarshalYAML(n *yaml.Node) error {
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
