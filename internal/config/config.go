// Package config loads Herald's settings once at start-up: flags override
// environment variables (HERALD_...), which override an optional YAML file,
// which overrides the defaults. Validation lists every problem at once.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"

	"github.com/heraldhq/herald/store"
)

// Mode is the role a process runs in; it decides which settings are
// required.
type Mode string

// Modes.
const (
	ModeDev    Mode = "dev"
	ModeServe  Mode = "serve"
	ModeWorker Mode = "worker"
	ModeTool   Mode = "tool"
)

// Config is every setting of a Herald process.
type Config struct {
	// DataDir holds dev mode's files: the SQLite store, the Temporal
	// database and the generated master key.
	DataDir string
	// MasterKey encrypts credentials and personal data at rest: base64 of
	// 32 bytes.
	MasterKey string
	// PreviousMasterKeys are master keys being rotated out: they open what
	// they sealed and seal nothing (see `herald keys rotate`).
	PreviousMasterKeys []string
	// ReceiverIndexKey, when set, keys receivers (the blind index that
	// finds a receiver without storing it) instead of a subkey of
	// MasterKey, so a master key rotation leaves receiver keys as they
	// are: base64 of 32 bytes, as `herald keys index-key` prints it.
	ReceiverIndexKey string

	HTTP     HTTP
	Database Database
	Redis    Redis
	Temporal Temporal
	API      API
	Admin    Admin
	Alerts   Alerts
	Worker   Worker
	Log      Log
	Tracing  Tracing
}

// HTTP configures the API listener.
type HTTP struct {
	Addr string
	// PublicURL is how providers reach this service, for receipt
	// callback URLs.
	PublicURL string
	// ReadHeaderTimeout, ReadTimeout and IdleTimeout bound how long a
	// connection may take to send its headers, its whole request (body
	// included), and how long an idle keep-alive connection stays open.
	// There is no server-wide write timeout: a streaming route sets its
	// own deadline per request (http.ResponseController).
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	IdleTimeout       time.Duration
	// HealthAddr is the operations listener of serve, worker and dev:
	// /health and /metrics, apart from the API so neither is exposed
	// where the API is; empty turns it off.
	HealthAddr string
}

// Database selects the store.
type Database struct {
	// URL is postgres://... or sqlite://...; empty in dev mode means the
	// embedded SQLite file in DataDir.
	URL string
}

// Redis selects the counter store.
type Redis struct {
	// URL is redis://...; empty in dev mode starts an in-process
	// Redis-protocol server.
	URL string
	// EmbeddedAddr is where dev mode's in-process server listens.
	EmbeddedAddr string
}

// Temporal selects the workflow engine.
type Temporal struct {
	// Address of a Temporal frontend; empty in dev mode starts an
	// in-process server.
	Address   string
	Namespace string
	// Port and UIPort are the embedded server's frontend and Web UI ports.
	Port   int
	UIPort int
	// Retention is how long the namespace keeps closed workflow histories
	// (their payloads encrypted, but still personal data): set by
	// `herald temporal setup` and by dev mode on its embedded server.
	Retention time.Duration
	// DatabaseURL is the PostgreSQL database dev mode's embedded server
	// keeps its data in (visibility in <database>_visibility); empty uses
	// SQLite.
	DatabaseURL string
}

// API tunes request handling.
type API struct {
	MaxBodyBytes     int64
	TimestampWindow  time.Duration
	DefaultRateLimit int
	// DefaultMessagesPerMinute is the message rate of apps that set none;
	// 0 means none.
	DefaultMessagesPerMinute int
	// AuthFailureLimit failed authentications per client IP within
	// AuthFailureWindow get the IP refused; 0 disables the limit. Failed
	// provider callbacks count too.
	AuthFailureLimit   int
	AuthFailureWindow  time.Duration
	MaxAttachmentBytes int64
	BatchMaxSize       int
	// BatchMaxBodyBytes is the body limit of a batch send, which lists
	// up to BatchMaxSize receivers.
	BatchMaxBodyBytes int64
	MaxScheduleAhead  time.Duration
	TrustedProxies    []string
}

// Admin tunes the operators' API (/admin/api/v1). Its client IPs follow
// API.TrustedProxies.
type Admin struct {
	// AccessTokenTTL is an access token's lifetime.
	AccessTokenTTL time.Duration
	// SessionIdleTimeout ends a sign-in not refreshed for this long.
	SessionIdleTimeout time.Duration
	// SessionMaxAge ends a sign-in this long after the login.
	SessionMaxAge time.Duration
	// TemporalUIURL is the Temporal Web UI's base URL, for the links from
	// a message to its workflow; dev mode defaults it to its embedded UI.
	// Its origin may also call /codec from the browser.
	TemporalUIURL string
	// Addr, when set, is a listener of its own for the operators' API and
	// the console, which the API listener then no longer serves: operators
	// reach them on a private network while clients and providers reach
	// the API. Empty serves them on HTTP.Addr.
	Addr string
	// CodecOrigins are further browser origins (scheme://host[:port]) of
	// Temporal Web UIs allowed to call /codec with the operator's cookie.
	CodecOrigins []string
}

// Alerts configures where rule alerts go.
type Alerts struct {
	WebhookURL    string
	WebhookSecret string
}

// Worker tunes the worker.
type Worker struct {
	// SweepInterval is how often accepted messages without a running
	// workflow are looked for and started.
	SweepInterval time.Duration
	// PerKindSendQueues runs sends on one task queue per provider kind
	// (herald-send-<kind>) instead of Herald's own queue.
	PerKindSendQueues bool
	// StopTimeout is how long a stopping worker lets running activities
	// (provider sends) finish before cancelling them; set it above the
	// longest send timeout so a rolling upgrade drains instead of leaving
	// sends of unknown outcome.
	StopTimeout time.Duration
	// RetentionInterval is how often the retention schedule erases the
	// personal data of messages past their app's retention period.
	RetentionInterval time.Duration
	// RetentionBatchSize is how many messages one retention transaction
	// erases.
	RetentionBatchSize int
	// BulkSlots bounds the batch chunks (each up to 200 members) one
	// worker runs at once on the bulk queue, so campaigns never take the
	// slots that single sends need.
	BulkSlots int
}

// Tracing configures OpenTelemetry tracing, off unless an OTLP endpoint
// is set here or in the standard OTEL_EXPORTER_OTLP_ENDPOINT variables.
type Tracing struct {
	// OTLPEndpoint is the OTLP/gRPC collector, host:port or a URL.
	OTLPEndpoint string
	// Insecure sends spans without TLS.
	Insecure bool
	// SampleRatio is the share of new traces sampled, 0 to 1.
	SampleRatio float64
	// ServiceName names this service in traces.
	ServiceName string
}

// Log configures logging.
type Log struct {
	Level  string
	Format string
}

// Defaults returns the settings used when nothing overrides them.
func Defaults() Config {
	return Config{
		DataDir: ".herald",
		HTTP: HTTP{Addr: ":8080", ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, IdleTimeout: 2 * time.Minute,
			HealthAddr: DefaultHealthAddr},
		Redis:    Redis{EmbeddedAddr: "127.0.0.1:6380"},
		Temporal: Temporal{Namespace: "default", Port: 7233, UIPort: 8233, Retention: DefaultRetention},
		API: API{
			MaxBodyBytes:     4 << 20,
			TimestampWindow:  5 * time.Minute,
			DefaultRateLimit: 100,
			BatchMaxSize:     100000,
			// 100,000 receivers of up to about 250 bytes, and attachments.
			BatchMaxBodyBytes: 32 << 20,
			MaxScheduleAhead:  30 * 24 * time.Hour,
			// The per-IP failure limit and the attachment cap match the
			// api package's defaults.
			AuthFailureLimit:   20,
			AuthFailureWindow:  time.Minute,
			MaxAttachmentBytes: 3 << 20,
		},
		Admin:   Admin{AccessTokenTTL: 15 * time.Minute, SessionIdleTimeout: 12 * time.Hour, SessionMaxAge: 7 * 24 * time.Hour},
		Worker:  Worker{SweepInterval: 30 * time.Second, RetentionInterval: time.Hour, RetentionBatchSize: 500, BulkSlots: 4},
		Log:     Log{Level: "info", Format: "console"},
		Tracing: Tracing{SampleRatio: 1, ServiceName: "herald"},
	}
}

// DefaultRetention is how long closed workflow histories are kept unless
// temporal.retention says otherwise.
const DefaultRetention = 72 * time.Hour

// MinRetention is the shortest retention Temporal accepts.
const MinRetention = 24 * time.Hour

// DefaultHealthAddr is where /health and /metrics are served by default,
// and where `herald healthcheck` looks.
const DefaultHealthAddr = ":9090"

// setting binds one field to its flag, environment variable and YAML path.
type setting struct {
	key  string // YAML path and flag name source: "database.url"
	help string
	ptr  any
}

func (c *Config) settings() []setting {
	return []setting{
		{"data-dir", "directory for dev mode's store, Temporal database and generated master key", &c.DataDir},
		{"master-key", "base64 of 32 random bytes; encrypts credentials and personal data at rest (required outside dev)", &c.MasterKey},
		{"previous-master-keys", "comma list of master keys being rotated out: they only decrypt what they encrypted, until `herald keys rotate` has encrypted it again under master-key", &c.PreviousMasterKeys},
		{"receiver-index-key", "base64 of 32 bytes that keys receivers for lookups, as `herald keys index-key` prints it; required with previous-master-keys so rotating the master key keeps receiver keys (default: derived from master-key)", &c.ReceiverIndexKey},
		{"http.addr", "API listen address", &c.HTTP.Addr},
		{"http.public-url", "base URL providers use to reach this service (receipt callbacks); default http://127.0.0.1:<port>", &c.HTTP.PublicURL},
		{"http.read-header-timeout", "longest time a client may take to send a request's headers", &c.HTTP.ReadHeaderTimeout},
		{"http.read-timeout", "longest time a client may take to send a whole request, body included", &c.HTTP.ReadTimeout},
		{"http.idle-timeout", "how long an idle keep-alive connection stays open", &c.HTTP.IdleTimeout},
		{"http.health-addr", "listen address of /health and /metrics (operations; keep it off the public network); empty turns it off", &c.HTTP.HealthAddr},
		{"database.url", "postgres://user@host:5432/db or sqlite:///path/herald.db (dev default: SQLite in the data dir)", &c.Database.URL},
		{"redis.url", "redis://host:6379/0 (dev default: in-process Redis-protocol server)", &c.Redis.URL},
		{"redis.embedded-addr", "listen address of dev mode's in-process Redis-protocol server", &c.Redis.EmbeddedAddr},
		{"temporal.address", "Temporal frontend host:port (dev default: in-process server)", &c.Temporal.Address},
		{"temporal.namespace", "Temporal namespace", &c.Temporal.Namespace},
		{"temporal.port", "frontend port of dev mode's in-process Temporal server (0 picks a free one)", &c.Temporal.Port},
		{"temporal.ui-port", "Web UI port of dev mode's in-process Temporal server (0 disables the UI)", &c.Temporal.UIPort},
		{"temporal.database-url", "dev mode only: postgres:// URL of the database the in-process Temporal server stores its data in, visibility in <database>_visibility; both are created and their schema set up or updated on start (default: SQLite)", &c.Temporal.DatabaseURL},
		{"temporal.retention", "how long the namespace keeps closed workflow histories (at least 24h); applied by `herald temporal setup` and by dev mode", &c.Temporal.Retention},
		{"api.max-body-bytes", "largest accepted request body", &c.API.MaxBodyBytes},
		{"api.timestamp-window", "accepted clock skew of signed requests", &c.API.TimestampWindow},
		{"api.default-rate-limit", "requests per second per app when the app sets none", &c.API.DefaultRateLimit},
		{"api.default-messages-per-minute", "messages per minute per app (a batch counts its receivers) when the app sets none; 0 means no message rate", &c.API.DefaultMessagesPerMinute},
		{"api.auth-failure-limit", "failed authentications (signed requests and provider callbacks) per client IP within the window before its requests are refused (429) unread; a callback with a valid token is never refused; 0 disables", &c.API.AuthFailureLimit},
		{"api.auth-failure-window", "how long failed authentications of a client IP are remembered, from the latest", &c.API.AuthFailureWindow},
		{"api.max-attachment-bytes", "largest total decoded size of a request's attachments (at most 3/4 of api.max-body-bytes, as they travel base64-encoded)", &c.API.MaxAttachmentBytes},
		{"api.batch-max-size", "most receivers in one batch (1 to 100000)", &c.API.BatchMaxSize},
		{"api.batch-max-body-bytes", "largest accepted body of a batch send (POST /api/v1/messages/batch), which lists its receivers; at least api.max-body-bytes", &c.API.BatchMaxBodyBytes},
		{"api.max-schedule-ahead", "latest accepted scheduled_at, from now", &c.API.MaxScheduleAhead},
		{"api.trusted-proxies", "comma list of proxy IPs/CIDRs whose X-Forwarded-For is believed", &c.API.TrustedProxies},
		{"admin.addr", "listen address of the operators' API (/admin/api/v1) and the web console (/console/), apart from the API; empty serves them on http.addr", &c.Admin.Addr},
		{"admin.access-token-ttl", "lifetime of an operators' API access token", &c.Admin.AccessTokenTTL},
		{"admin.session-idle-timeout", "an operators' API sign-in ends when not refreshed for this long", &c.Admin.SessionIdleTimeout},
		{"admin.session-max-age", "an operators' API sign-in ends this long after the login, however active", &c.Admin.SessionMaxAge},
		{"admin.temporal-ui-url", "base URL of the Temporal Web UI, for links from a message to its workflow; dev mode defaults to its embedded UI; its origin may call /codec", &c.Admin.TemporalUIURL},
		{"admin.codec-origins", "comma list of further origins (scheme://host[:port]) of Temporal Web UIs allowed to call /codec with a signed-in operator's cookie", &c.Admin.CodecOrigins},
		{"alerts.webhook-url", "URL that receives rule alerts", &c.Alerts.WebhookURL},
		{"alerts.webhook-secret", "whsec_ secret that signs rule alerts", &c.Alerts.WebhookSecret},
		{"worker.sweep-interval", "how often accepted messages without a workflow are started", &c.Worker.SweepInterval},
		{"worker.per-kind-send-queues", "run sends on one task queue per provider kind (herald-send-<kind>) instead of Herald's own queue; every worker of a deployment must agree", &c.Worker.PerKindSendQueues},
		{"worker.retention-interval", "how often the retention schedule erases the personal data of messages past their app's retention_days (at least 1s)", &c.Worker.RetentionInterval},
		{"worker.retention-batch-size", "messages erased per retention transaction (1 to 1000)", &c.Worker.RetentionBatchSize},
		{"worker.bulk-slots", "batch chunks (up to 200 receivers each) one worker sends at once on the bulk task queue herald-bulk (1 to 256)", &c.Worker.BulkSlots},
		{"worker.stop-timeout", "how long a stopping worker lets running sends finish before cancelling them; above the longest send timeout (at least 1m)", &c.Worker.StopTimeout},
		{"log.level", "debug, info, warn or error", &c.Log.Level},
		{"log.format", "console or json", &c.Log.Format},
		{"tracing.otlp-endpoint", "OTLP/gRPC collector (host:port or URL) that receives traces; empty uses OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT, and without any tracing is off", &c.Tracing.OTLPEndpoint},
		{"tracing.insecure", "send traces without TLS", &c.Tracing.Insecure},
		{"tracing.sample-ratio", "share of new traces recorded, 0 to 1", &c.Tracing.SampleRatio},
		{"tracing.service-name", "service name in traces", &c.Tracing.ServiceName},
	}
}

// FlagName is the command-line flag of a setting key.
func FlagName(key string) string {
	key = strings.TrimPrefix(key, "http.")
	return strings.ReplaceAll(key, ".", "-")
}

// EnvName is the environment variable of a setting key.
func EnvName(key string) string {
	return "HERALD_" + strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(key))
}

// Loader reads settings from flags, environment and file into a Config.
type Loader struct {
	cfg   Config
	flags *pflag.FlagSet
	file  string
}

// NewLoader registers one flag per setting on fs (plus --config) and
// returns a loader that fills cfg when Load is called after parsing.
func NewLoader(fs *pflag.FlagSet) *Loader {
	l := &Loader{cfg: Defaults(), flags: fs}
	fs.StringVar(&l.file, "config", "", "YAML configuration file (env HERALD_CONFIG)")
	def := Defaults()
	for i, s := range l.cfg.settings() {
		name := FlagName(s.key)
		help := fmt.Sprintf("%s (env %s)", s.help, EnvName(s.key))
		defVal := def.settings()[i].ptr
		switch p := s.ptr.(type) {
		case *string:
			fs.String(name, *defVal.(*string), help)
		case *int:
			fs.Int(name, *defVal.(*int), help)
		case *int64:
			fs.Int64(name, *defVal.(*int64), help)
		case *time.Duration:
			fs.Duration(name, *defVal.(*time.Duration), help)
		case *[]string:
			fs.StringSlice(name, nil, help)
		case *bool:
			fs.Bool(name, *defVal.(*bool), help)
		case *float64:
			fs.Float64(name, *defVal.(*float64), help)
		default:
			panic(fmt.Sprintf("config: unsupported setting type %T", p))
		}
	}
	return l
}

// removedSettings says, for a setting an earlier version had, what to use
// instead, so a config file written for it gets a fix rather than a bare
// "unknown setting".
var removedSettings = map[string]string{
	"api.callback-auth-failure-limit": "failed callbacks count as failed authentications under api.auth-failure-limit and api.auth-failure-window",
}

// Load applies file, environment and flags in that order of increasing
// precedence and returns the result. It does not validate.
func (l *Loader) Load(getenv func(string) string) (Config, error) {
	cfg := Defaults()
	var problems []string
	file := l.file
	if file == "" {
		file = getenv("HERALD_CONFIG")
	}
	if file != "" {
		raw, err := os.ReadFile(file)
		if err != nil {
			return cfg, fmt.Errorf("read config file: %w", err)
		}
		var tree map[string]any
		if err := yaml.Unmarshal(raw, &tree); err != nil {
			return cfg, fmt.Errorf("parse config file %s: %w", file, err)
		}
		known := map[string]bool{}
		for _, s := range cfg.settings() {
			known[s.key] = true
			v, ok := lookup(tree, s.key)
			if !ok || v == nil {
				// "key:" with no value leaves the setting as it is rather
				// than setting it to the text "<nil>".
				continue
			}
			if err := assign(s.ptr, fmt.Sprint(v), v); err != nil {
				problems = append(problems, fmt.Sprintf("%s in %s: %v", s.key, file, err))
			}
		}
		for _, k := range flatten("", tree) {
			switch {
			case removedSettings[k] != "":
				problems = append(problems, fmt.Sprintf("%s in %s: no longer a setting; %s", k, file, removedSettings[k]))
			case !known[k]:
				problems = append(problems, fmt.Sprintf("%s: unknown setting in %s", k, file))
			}
		}
	}
	for _, s := range cfg.settings() {
		if v := getenv(EnvName(s.key)); v != "" {
			if err := assign(s.ptr, v, nil); err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v", EnvName(s.key), err))
			}
		}
	}
	for _, s := range cfg.settings() {
		f := l.flags.Lookup(FlagName(s.key))
		if f == nil || !f.Changed {
			continue
		}
		val := f.Value.String()
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			val = strings.Join(sv.GetSlice(), ",")
		}
		if err := assign(s.ptr, val, nil); err != nil {
			problems = append(problems, fmt.Sprintf("--%s: %v", f.Name, err))
		}
	}
	if len(problems) > 0 {
		return cfg, &Error{Problems: problems}
	}
	return cfg, nil
}

// lookup finds a dotted key ("database.url") in a YAML tree; the last part
// may be spelled with - or _.
func lookup(tree map[string]any, key string) (any, bool) {
	parts := strings.Split(key, ".")
	var cur any = tree
	for _, p := range parts {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		v, ok := m[p]
		if !ok {
			v, ok = m[strings.ReplaceAll(p, "-", "_")]
		}
		if !ok {
			return nil, false
		}
		cur = v
	}
	return cur, true
}

func flatten(prefix string, tree map[string]any) []string {
	var keys []string
	for k, v := range tree {
		k = strings.ReplaceAll(k, "_", "-")
		full := k
		if prefix != "" {
			full = prefix + "." + k
		}
		if sub, ok := v.(map[string]any); ok {
			keys = append(keys, flatten(full, sub)...)
			continue
		}
		keys = append(keys, full)
	}
	return keys
}

func assign(ptr any, s string, raw any) error {
	switch raw.(type) {
	case map[string]any:
		return errors.New("a mapping is not a single value")
	case []any:
		if _, isList := ptr.(*[]string); !isList {
			return errors.New("a list is not a single value")
		}
	}
	switch p := ptr.(type) {
	case *string:
		*p = s
	case *int:
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("%q is not a whole number", s)
		}
		*p = n
	case *int64:
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not a whole number", s)
		}
		*p = n
	case *time.Duration:
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("%q is not a duration (examples: 30s, 5m, 720h)", s)
		}
		*p = d
	case *float64:
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", s)
		}
		*p = f
	case *bool:
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("%q is not true or false", s)
		}
		*p = b
	case *[]string:
		if list, ok := raw.([]any); ok {
			*p = (*p)[:0]
			for _, v := range list {
				*p = append(*p, fmt.Sprint(v))
			}
			return nil
		}
		*p = nil
		for _, part := range strings.Split(s, ",") {
			if part = strings.TrimSpace(part); part != "" {
				*p = append(*p, part)
			}
		}
	}
	return nil
}

// Error lists every problem found in the configuration.
type Error struct {
	Problems []string
}

func (e *Error) Error() string {
	return "invalid configuration:\n  - " + strings.Join(e.Problems, "\n  - ")
}

// isOrigin reports whether s is a browser origin: http(s)://host[:port]
// with nothing after it.
func isOrigin(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" &&
		u.Path == "" && u.RawQuery == "" && u.Fragment == "" && u.User == nil
}

// Validate checks the settings a process of mode needs and lists every
// problem in one error.
func (c Config) Validate(mode Mode) error {
	var p []string
	add := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }

	if mode == ModeServe || mode == ModeWorker {
		if c.MasterKey == "" {
			add("master-key is required outside dev mode (env %s): base64 of 32 random bytes, e.g. `openssl rand -base64 32`", EnvName("master-key"))
		}
		if c.Database.URL == "" {
			add("database.url is required outside dev mode (env %s)", EnvName("database.url"))
		}
		if c.Redis.URL == "" {
			add("redis.url is required outside dev mode (env %s): the API keeps nonces and rate limits there, workers pace accounts", EnvName("redis.url"))
		}
		if mode == ModeWorker && c.HTTP.PublicURL == "" {
			add("http.public-url is required by a worker (flag --%s, env %s): the address at which providers reach `herald serve`", FlagName("http.public-url"), EnvName("http.public-url"))
		}
		if c.Temporal.Address == "" {
			add("temporal.address is required outside dev mode (env %s)", EnvName("temporal.address"))
		}
	}
	if c.MasterKey != "" {
		if _, err := store.ParseMasterKey(c.MasterKey); err != nil {
			add("master-key must be base64 of exactly 32 bytes")
		}
	}
	for i, k := range c.PreviousMasterKeys {
		// Problems name a key by position, never by value.
		switch key, err := store.ParseMasterKey(k); {
		case err != nil:
			add("previous-master-keys: key %d must be base64 of exactly 32 bytes", i+1)
		case c.MasterKey != "" && sameKey(key, c.MasterKey):
			add("previous-master-keys: key %d is master-key itself; list only the keys being rotated out", i+1)
		}
	}
	if c.ReceiverIndexKey != "" {
		if _, err := store.ParseMasterKey(c.ReceiverIndexKey); err != nil {
			add("receiver-index-key must be base64 of exactly 32 bytes")
		}
	} else if len(c.PreviousMasterKeys) > 0 {
		add("receiver-index-key is required with previous-master-keys (env %s): without it receiver keys follow master-key, and suppressions and receiver lookups would stop matching; set it to what `herald keys index-key` prints under the previous master key", EnvName("receiver-index-key"))
	}
	if c.Database.URL != "" && !hasScheme(c.Database.URL, "postgres", "postgresql", "sqlite") {
		add("database.url %q must start with postgres://, postgresql:// or sqlite://", redactURL(c.Database.URL))
	}
	if c.Temporal.DatabaseURL != "" && !isPostgresURL(c.Temporal.DatabaseURL) {
		add("temporal.database-url %q must be a postgres:// or postgresql:// URL naming a database", redactURL(c.Temporal.DatabaseURL))
	}
	if c.Redis.URL != "" && !hasScheme(c.Redis.URL, "redis", "rediss") {
		add("redis.url %q must start with redis:// or rediss://", redactURL(c.Redis.URL))
	}
	if c.HTTP.Addr == "" {
		add("http.addr must not be empty")
	}
	if c.HTTP.PublicURL != "" {
		if u, err := url.Parse(c.HTTP.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add("http.public-url %q must be an absolute http(s) URL", redactURL(c.HTTP.PublicURL))
		}
	}
	if c.Admin.TemporalUIURL != "" {
		if u, err := url.Parse(c.Admin.TemporalUIURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add("admin.temporal-ui-url %q must be an absolute http(s) URL", redactURL(c.Admin.TemporalUIURL))
		}
	}
	if c.Temporal.Namespace == "" {
		add("temporal.namespace must not be empty")
	}
	if c.Temporal.Retention < MinRetention {
		add("temporal.retention %s must be at least %s (Temporal's minimum)", c.Temporal.Retention, MinRetention)
	}
	for _, o := range c.Admin.CodecOrigins {
		if !isOrigin(o) {
			add("admin.codec-origins: %q must be an origin: scheme://host[:port], no path", o)
		}
	}
	if mode == ModeDev && c.Temporal.Address != "" && c.Temporal.DatabaseURL != "" {
		add("temporal.database-url configures the in-process Temporal server, which temporal.address replaces: set only one of them")
	}
	if mode == ModeDev && c.Temporal.Address == "" {
		if c.Temporal.Port < 0 || c.Temporal.Port > 65535 {
			add("temporal.port %d is not a port (0 picks a free one)", c.Temporal.Port)
		}
		if c.Temporal.UIPort < 0 || c.Temporal.UIPort > 65535 {
			add("temporal.ui-port %d is not a port (0 disables the UI)", c.Temporal.UIPort)
		}
	}
	if c.API.MaxBodyBytes < 1024 {
		add("api.max-body-bytes must be at least 1024")
	}
	if c.API.TimestampWindow < 10*time.Second || c.API.TimestampWindow > time.Hour {
		add("api.timestamp-window must be between 10s and 1h")
	}
	if c.API.DefaultRateLimit <= 0 {
		add("api.default-rate-limit must be positive")
	}
	if c.API.DefaultMessagesPerMinute < 0 {
		add("api.default-messages-per-minute must not be negative (0 means no message rate)")
	}
	if c.API.AuthFailureLimit < 0 {
		add("api.auth-failure-limit must not be negative (0 disables the limit)")
	}
	if c.Admin.AccessTokenTTL < time.Minute || c.Admin.AccessTokenTTL > time.Hour {
		add("admin.access-token-ttl must be between 1m and 1h")
	}
	if c.Admin.SessionIdleTimeout < c.Admin.AccessTokenTTL || c.Admin.SessionIdleTimeout > c.Admin.SessionMaxAge {
		add("admin.session-idle-timeout must be at least the access token lifetime and at most admin.session-max-age")
	}
	if c.API.AuthFailureWindow < time.Second {
		add("api.auth-failure-window must be at least 1s")
	}
	if c.API.MaxAttachmentBytes < 1 {
		add("api.max-attachment-bytes must be positive")
	}
	if c.HTTP.ReadHeaderTimeout < time.Second {
		add("http.read-header-timeout must be at least 1s")
	}
	if c.HTTP.ReadTimeout < c.HTTP.ReadHeaderTimeout {
		add("http.read-timeout must be at least http.read-header-timeout")
	}
	if c.HTTP.IdleTimeout < time.Second {
		add("http.idle-timeout must be at least 1s")
	}
	if c.API.BatchMaxSize <= 0 || c.API.BatchMaxSize > 100000 {
		add("api.batch-max-size must be between 1 and 100000")
	}
	if c.API.BatchMaxBodyBytes < c.API.MaxBodyBytes {
		add("api.batch-max-body-bytes must be at least api.max-body-bytes")
	}
	if c.API.MaxScheduleAhead < time.Minute {
		add("api.max-schedule-ahead must be at least 1m")
	}
	if c.Worker.SweepInterval < time.Second {
		add("worker.sweep-interval must be at least 1s")
	}
	if c.Worker.RetentionInterval < time.Second {
		add("worker.retention-interval must be at least 1s")
	}
	if c.Worker.RetentionBatchSize < 1 || c.Worker.RetentionBatchSize > 1000 {
		add("worker.retention-batch-size must be 1 to 1000")
	}
	if c.Worker.BulkSlots < 1 || c.Worker.BulkSlots > 256 {
		add("worker.bulk-slots must be between 1 and 256")
	}
	if c.Worker.StopTimeout < 0 {
		add("worker.stop-timeout must not be negative")
	}
	if c.Alerts.WebhookURL != "" {
		if u, err := url.Parse(c.Alerts.WebhookURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add("alerts.webhook-url %q must be an absolute http(s) URL", redactURL(c.Alerts.WebhookURL))
		}
	}
	if c.HTTP.HealthAddr != "" {
		if _, port, err := net.SplitHostPort(c.HTTP.HealthAddr); err != nil || port == "" {
			add("http.health-addr %q must be host:port or :port (empty turns it off)", c.HTTP.HealthAddr)
		} else if c.HTTP.HealthAddr == c.HTTP.Addr && port != "0" {
			add("http.health-addr must differ from http.addr")
		}
	}
	if c.Admin.Addr != "" {
		if _, port, err := net.SplitHostPort(c.Admin.Addr); err != nil || port == "" {
			add("admin.addr %q must be host:port or :port (empty serves the operators' API on http.addr)", c.Admin.Addr)
		} else if port != "0" && (c.Admin.Addr == c.HTTP.Addr || c.Admin.Addr == c.HTTP.HealthAddr) {
			add("admin.addr must differ from http.addr and http.health-addr")
		}
	}
	if c.Tracing.SampleRatio < 0 || c.Tracing.SampleRatio > 1 {
		add("tracing.sample-ratio must be between 0 and 1")
	}
	if c.Tracing.ServiceName == "" {
		add("tracing.service-name must not be empty")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		add("log.level %q must be debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "console", "json":
	default:
		add("log.format %q must be console or json", c.Log.Format)
	}
	if len(p) > 0 {
		return &Error{Problems: p}
	}
	return nil
}

// isPostgresURL reports whether raw is a postgres:// or postgresql:// URL
// with a host and a database name.
func isPostgresURL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") && u.Host != "" && strings.Trim(u.Path, "/") != ""
}

func hasScheme(raw string, schemes ...string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	for _, s := range schemes {
		if u.Scheme == s {
			return true
		}
	}
	return false
}

// redactURL hides any secret a URL may hold before it is shown: the
// password of its user info and its query (password=...). A URL missing
// its "//" ("user:secret@host" parses as scheme "user" with an opaque
// part, "postgres//user:secret@host" as a bare path) has no user info to
// redact, so only its scheme is shown.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<unparseable URL>"
	}
	if u.Opaque != "" || (u.Host == "" && strings.ContainsAny(u.Path, ":@")) {
		if u.Scheme == "" {
			return "<redacted>"
		}
		return u.Scheme + ":<redacted>"
	}
	u.RawQuery = ""
	u.Fragment = ""
	return u.Redacted()
}

// sameKey reports whether key is what the master key text decodes to.
func sameKey(key []byte, text string) bool {
	other, err := store.ParseMasterKey(text)
	return err == nil && string(other) == string(key)
}
