package config_test

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/store"
)

// load registers the settings on a fresh flag set, parses args and loads
// with env as the whole environment.
func load(t *testing.T, args []string, env map[string]string) (config.Config, error) {
	t.Helper()
	fs := pflag.NewFlagSet("herald", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	l := config.NewLoader(fs)
	require.NoError(t, fs.Parse(args))
	return l.Load(func(k string) string { return env[k] })
}

// writeFile writes a YAML file into a fresh temporary directory.
func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "herald.yaml")
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	return path
}

// yamlFor nests value under a dotted key: "api.max-body-bytes" becomes
// "api:\n  max-body-bytes: value\n".
func yamlFor(key, value string) string {
	var b strings.Builder
	parts := strings.Split(key, ".")
	for i, p := range parts {
		b.WriteString(strings.Repeat("  ", i) + p + ":")
		if i == len(parts)-1 {
			b.WriteString(" " + value)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// validKey is a well-formed master key.
func validKey() string {
	return base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
}

// otherKey and thirdKey are well-formed master keys other than validKey.
func otherKey() string {
	return base64.StdEncoding.EncodeToString([]byte("abcdef0123456789abcdef0123456789"))
}

func thirdKey() string {
	return base64.StdEncoding.EncodeToString([]byte("ABCDEF0123456789ABCDEF0123456789"))
}

// problems returns the problems of a *config.Error, failing otherwise.
func problems(t *testing.T, err error) []string {
	t.Helper()
	require.Error(t, err)
	var cerr *config.Error
	require.ErrorAs(t, err, &cerr)
	return cerr.Problems
}

// requireMentioned checks that each word appears in exactly one problem.
func requireMentioned(t *testing.T, probs []string, words ...string) {
	t.Helper()
	for _, w := range words {
		n := 0
		for _, p := range probs {
			if strings.Contains(p, w) {
				n++
			}
		}
		require.Equal(t, 1, n, "%q should appear in exactly one of %q", w, probs)
	}
}

// everySetting is each setting with a sample value and how to read it back.
// It doubles as the contract for flag and environment names.
var everySetting = []struct {
	key  string
	flag string
	env  string
	text string // as a flag or environment value
	yaml string // as a YAML value
	get  func(config.Config) any
	want any
}{
	{"data-dir", "data-dir", "HERALD_DATA_DIR", "/var/lib/herald", "/var/lib/herald", func(c config.Config) any { return c.DataDir }, "/var/lib/herald"},
	{"master-key", "master-key", "HERALD_MASTER_KEY", validKey(), validKey(), func(c config.Config) any { return c.MasterKey }, validKey()},
	{"previous-master-keys", "previous-master-keys", "HERALD_PREVIOUS_MASTER_KEYS", otherKey() + "," + thirdKey(), "[" + otherKey() + ", " + thirdKey() + "]", func(c config.Config) any { return c.PreviousMasterKeys }, []string{otherKey(), thirdKey()}},
	{"receiver-index-key", "receiver-index-key", "HERALD_RECEIVER_INDEX_KEY", thirdKey(), thirdKey(), func(c config.Config) any { return c.ReceiverIndexKey }, thirdKey()},
	{"http.addr", "addr", "HERALD_HTTP_ADDR", "127.0.0.1:9000", "127.0.0.1:9000", func(c config.Config) any { return c.HTTP.Addr }, "127.0.0.1:9000"},
	{"http.public-url", "public-url", "HERALD_HTTP_PUBLIC_URL", "https://herald.example.com", "https://herald.example.com", func(c config.Config) any { return c.HTTP.PublicURL }, "https://herald.example.com"},
	{"database.url", "database-url", "HERALD_DATABASE_URL", "postgres://db.example.com/herald", "postgres://db.example.com/herald", func(c config.Config) any { return c.Database.URL }, "postgres://db.example.com/herald"},
	{"redis.url", "redis-url", "HERALD_REDIS_URL", "redis://cache.example.com:6379/2", "redis://cache.example.com:6379/2", func(c config.Config) any { return c.Redis.URL }, "redis://cache.example.com:6379/2"},
	{"redis.embedded-addr", "redis-embedded-addr", "HERALD_REDIS_EMBEDDED_ADDR", "127.0.0.1:7000", "127.0.0.1:7000", func(c config.Config) any { return c.Redis.EmbeddedAddr }, "127.0.0.1:7000"},
	{"http.read-header-timeout", "read-header-timeout", "HERALD_HTTP_READ_HEADER_TIMEOUT", "5s", "5s", func(c config.Config) any { return c.HTTP.ReadHeaderTimeout }, 5 * time.Second},
	{"http.read-timeout", "read-timeout", "HERALD_HTTP_READ_TIMEOUT", "30s", "30s", func(c config.Config) any { return c.HTTP.ReadTimeout }, 30 * time.Second},
	{"http.idle-timeout", "idle-timeout", "HERALD_HTTP_IDLE_TIMEOUT", "90s", "90s", func(c config.Config) any { return c.HTTP.IdleTimeout }, 90 * time.Second},
	{"temporal.address", "temporal-address", "HERALD_TEMPORAL_ADDRESS", "temporal.example.com:7233", "temporal.example.com:7233", func(c config.Config) any { return c.Temporal.Address }, "temporal.example.com:7233"},
	{"temporal.namespace", "temporal-namespace", "HERALD_TEMPORAL_NAMESPACE", "herald-prod", "herald-prod", func(c config.Config) any { return c.Temporal.Namespace }, "herald-prod"},
	{"temporal.port", "temporal-port", "HERALD_TEMPORAL_PORT", "7300", "7300", func(c config.Config) any { return c.Temporal.Port }, 7300},
	{"temporal.ui-port", "temporal-ui-port", "HERALD_TEMPORAL_UI_PORT", "8300", "8300", func(c config.Config) any { return c.Temporal.UIPort }, 8300},
	{"temporal.database-url", "temporal-database-url", "HERALD_TEMPORAL_DATABASE_URL", "postgres://db.example.com/temporal", "postgres://db.example.com/temporal", func(c config.Config) any { return c.Temporal.DatabaseURL }, "postgres://db.example.com/temporal"},
	{"temporal.retention", "temporal-retention", "HERALD_TEMPORAL_RETENTION", "168h", "168h", func(c config.Config) any { return c.Temporal.Retention }, 168 * time.Hour},
	{"admin.codec-origins", "admin-codec-origins", "HERALD_ADMIN_CODEC_ORIGINS", "https://temporal.example.com,http://127.0.0.1:8233", "[https://temporal.example.com, http://127.0.0.1:8233]", func(c config.Config) any { return c.Admin.CodecOrigins }, []string{"https://temporal.example.com", "http://127.0.0.1:8233"}},
	{"api.max-body-bytes", "api-max-body-bytes", "HERALD_API_MAX_BODY_BYTES", "8589934592", "8589934592", func(c config.Config) any { return c.API.MaxBodyBytes }, int64(8 << 30)},
	{"api.timestamp-window", "api-timestamp-window", "HERALD_API_TIMESTAMP_WINDOW", "90s", "90s", func(c config.Config) any { return c.API.TimestampWindow }, 90 * time.Second},
	{"api.default-rate-limit", "api-default-rate-limit", "HERALD_API_DEFAULT_RATE_LIMIT", "250", "250", func(c config.Config) any { return c.API.DefaultRateLimit }, 250},
	{"api.default-messages-per-minute", "api-default-messages-per-minute", "HERALD_API_DEFAULT_MESSAGES_PER_MINUTE", "6000", "6000", func(c config.Config) any { return c.API.DefaultMessagesPerMinute }, 6000},
	{"api.auth-failure-limit", "api-auth-failure-limit", "HERALD_API_AUTH_FAILURE_LIMIT", "5", "5", func(c config.Config) any { return c.API.AuthFailureLimit }, 5},
	{"api.auth-failure-window", "api-auth-failure-window", "HERALD_API_AUTH_FAILURE_WINDOW", "10m", "10m", func(c config.Config) any { return c.API.AuthFailureWindow }, 10 * time.Minute},
	{"api.max-attachment-bytes", "api-max-attachment-bytes", "HERALD_API_MAX_ATTACHMENT_BYTES", "1048576", "1048576", func(c config.Config) any { return c.API.MaxAttachmentBytes }, int64(1 << 20)},
	{"api.batch-max-size", "api-batch-max-size", "HERALD_API_BATCH_MAX_SIZE", "50", "50", func(c config.Config) any { return c.API.BatchMaxSize }, 50},
	{"api.batch-max-body-bytes", "api-batch-max-body-bytes", "HERALD_API_BATCH_MAX_BODY_BYTES", "67108864", "67108864", func(c config.Config) any { return c.API.BatchMaxBodyBytes }, int64(64 << 20)},
	{"api.max-schedule-ahead", "api-max-schedule-ahead", "HERALD_API_MAX_SCHEDULE_AHEAD", "48h", "48h", func(c config.Config) any { return c.API.MaxScheduleAhead }, 48 * time.Hour},
	{"api.trusted-proxies", "api-trusted-proxies", "HERALD_API_TRUSTED_PROXIES", "10.0.0.1,10.1.0.0/16", "[10.0.0.1, 10.1.0.0/16]", func(c config.Config) any { return c.API.TrustedProxies }, []string{"10.0.0.1", "10.1.0.0/16"}},
	{"admin.addr", "admin-addr", "HERALD_ADMIN_ADDR", "10.0.0.5:8081", "10.0.0.5:8081", func(c config.Config) any { return c.Admin.Addr }, "10.0.0.5:8081"},
	{"admin.access-token-ttl", "admin-access-token-ttl", "HERALD_ADMIN_ACCESS_TOKEN_TTL", "5m", "5m", func(c config.Config) any { return c.Admin.AccessTokenTTL }, 5 * time.Minute},
	{"admin.session-idle-timeout", "admin-session-idle-timeout", "HERALD_ADMIN_SESSION_IDLE_TIMEOUT", "1h", "1h", func(c config.Config) any { return c.Admin.SessionIdleTimeout }, time.Hour},
	{"admin.session-max-age", "admin-session-max-age", "HERALD_ADMIN_SESSION_MAX_AGE", "24h", "24h", func(c config.Config) any { return c.Admin.SessionMaxAge }, 24 * time.Hour},
	{"admin.temporal-ui-url", "admin-temporal-ui-url", "HERALD_ADMIN_TEMPORAL_UI_URL", "https://temporal.example.com", "https://temporal.example.com", func(c config.Config) any { return c.Admin.TemporalUIURL }, "https://temporal.example.com"},
	{"alerts.webhook-url", "alerts-webhook-url", "HERALD_ALERTS_WEBHOOK_URL", "https://alerts.example.com/in", "https://alerts.example.com/in", func(c config.Config) any { return c.Alerts.WebhookURL }, "https://alerts.example.com/in"},
	{"alerts.webhook-secret", "alerts-webhook-secret", "HERALD_ALERTS_WEBHOOK_SECRET", "whsec_abc", "whsec_abc", func(c config.Config) any { return c.Alerts.WebhookSecret }, "whsec_abc"},
	{"worker.sweep-interval", "worker-sweep-interval", "HERALD_WORKER_SWEEP_INTERVAL", "2m", "2m", func(c config.Config) any { return c.Worker.SweepInterval }, 2 * time.Minute},
	{"worker.per-kind-send-queues", "worker-per-kind-send-queues", "HERALD_WORKER_PER_KIND_SEND_QUEUES", "true", "true", func(c config.Config) any { return c.Worker.PerKindSendQueues }, true},
	{"log.level", "log-level", "HERALD_LOG_LEVEL", "debug", "debug", func(c config.Config) any { return c.Log.Level }, "debug"},
	{"log.format", "log-format", "HERALD_LOG_FORMAT", "json", "json", func(c config.Config) any { return c.Log.Format }, "json"},
	{"worker.bulk-slots", "worker-bulk-slots", "HERALD_WORKER_BULK_SLOTS", "8", "8", func(c config.Config) any { return c.Worker.BulkSlots }, 8},
	{"worker.stop-timeout", "worker-stop-timeout", "HERALD_WORKER_STOP_TIMEOUT", "3m", "3m", func(c config.Config) any { return c.Worker.StopTimeout }, 3 * time.Minute},
	{"worker.retention-interval", "worker-retention-interval", "HERALD_WORKER_RETENTION_INTERVAL", "10m", "10m", func(c config.Config) any { return c.Worker.RetentionInterval }, 10 * time.Minute},
	{"worker.retention-batch-size", "worker-retention-batch-size", "HERALD_WORKER_RETENTION_BATCH_SIZE", "200", "200", func(c config.Config) any { return c.Worker.RetentionBatchSize }, 200},
	{"http.health-addr", "health-addr", "HERALD_HTTP_HEALTH_ADDR", "127.0.0.1:9100", "127.0.0.1:9100", func(c config.Config) any { return c.HTTP.HealthAddr }, "127.0.0.1:9100"},
	{"tracing.otlp-endpoint", "tracing-otlp-endpoint", "HERALD_TRACING_OTLP_ENDPOINT", "otel.example.com:4317", "otel.example.com:4317", func(c config.Config) any { return c.Tracing.OTLPEndpoint }, "otel.example.com:4317"},
	{"tracing.insecure", "tracing-insecure", "HERALD_TRACING_INSECURE", "true", "true", func(c config.Config) any { return c.Tracing.Insecure }, true},
	{"tracing.sample-ratio", "tracing-sample-ratio", "HERALD_TRACING_SAMPLE_RATIO", "0.25", "0.25", func(c config.Config) any { return c.Tracing.SampleRatio }, 0.25},
	{"tracing.service-name", "tracing-service-name", "HERALD_TRACING_SERVICE_NAME", "herald-eu", "herald-eu", func(c config.Config) any { return c.Tracing.ServiceName }, "herald-eu"},
}

func TestConfigDefaults(t *testing.T) {
	t.Parallel()

	t.Run("LoadWithNothingSet", func(t *testing.T) {
		t.Parallel()
		cfg, err := load(t, nil, nil)
		require.NoError(t, err)
		require.Equal(t, config.Defaults(), cfg)
	})

	t.Run("Values", func(t *testing.T) {
		t.Parallel()
		d := config.Defaults()
		require.Equal(t, ".herald", d.DataDir)
		require.Empty(t, d.MasterKey)
		require.Equal(t, ":8080", d.HTTP.Addr)
		require.Empty(t, d.HTTP.PublicURL)
		require.Empty(t, d.Database.URL)
		require.Empty(t, d.Redis.URL)
		require.Equal(t, "127.0.0.1:6380", d.Redis.EmbeddedAddr)
		require.Empty(t, d.Temporal.Address)
		require.Equal(t, "default", d.Temporal.Namespace)
		require.Equal(t, 7233, d.Temporal.Port)
		require.Equal(t, 8233, d.Temporal.UIPort)
		require.Equal(t, int64(4<<20), d.API.MaxBodyBytes)
		require.Equal(t, 5*time.Minute, d.API.TimestampWindow)
		require.Equal(t, 100, d.API.DefaultRateLimit)
		require.Equal(t, 100000, d.API.BatchMaxSize)
		require.Equal(t, int64(32<<20), d.API.BatchMaxBodyBytes)
		require.Equal(t, 30*24*time.Hour, d.API.MaxScheduleAhead)
		require.Empty(t, d.API.TrustedProxies)
		require.Zero(t, d.API.DefaultMessagesPerMinute, "no message rate unless configured")
		require.Equal(t, 20, d.API.AuthFailureLimit)
		require.Equal(t, time.Minute, d.API.AuthFailureWindow)
		require.Equal(t, int64(3<<20), d.API.MaxAttachmentBytes)
		require.Equal(t, 10*time.Second, d.HTTP.ReadHeaderTimeout)
		require.Equal(t, time.Minute, d.HTTP.ReadTimeout)
		require.Equal(t, 2*time.Minute, d.HTTP.IdleTimeout)
		require.Equal(t, 30*time.Second, d.Worker.SweepInterval)
		require.Equal(t, "info", d.Log.Level)
		require.Equal(t, "console", d.Log.Format)
		require.Equal(t, ":9090", d.HTTP.HealthAddr)
		require.Empty(t, d.Tracing.OTLPEndpoint, "tracing is off unless configured")
		require.InDelta(t, 1.0, d.Tracing.SampleRatio, 0)
	})

	t.Run("FlagDefaultsShowTheDefaults", func(t *testing.T) {
		t.Parallel()
		fs := pflag.NewFlagSet("herald", pflag.ContinueOnError)
		config.NewLoader(fs)
		for flag, want := range map[string]string{
			"addr":                 ":8080",
			"data-dir":             ".herald",
			"temporal-namespace":   "default",
			"temporal-port":        "7233",
			"api-max-body-bytes":   "4194304",
			"api-timestamp-window": "5m0s",
			"log-level":            "info",
		} {
			f := fs.Lookup(flag)
			require.NotNil(t, f, flag)
			require.Equal(t, want, f.DefValue, flag)
		}
	})
}

func TestConfigEverySetting(t *testing.T) {
	t.Parallel()

	t.Run("Names", func(t *testing.T) {
		t.Parallel()
		fs := pflag.NewFlagSet("herald", pflag.ContinueOnError)
		config.NewLoader(fs)
		require.NotNil(t, fs.Lookup("config"), "--config")
		n := 0
		fs.VisitAll(func(*pflag.Flag) { n++ })
		require.Equal(t, len(everySetting)+1, n, "one flag per setting plus --config")
		for _, s := range everySetting {
			require.Equal(t, s.flag, config.FlagName(s.key), s.key)
			require.Equal(t, s.env, config.EnvName(s.key), s.key)
			f := fs.Lookup(s.flag)
			require.NotNil(t, f, s.key)
			require.Contains(t, f.Usage, "(env "+s.env+")", "help names the environment variable")
		}
	})

	for _, s := range everySetting {
		t.Run(s.key, func(t *testing.T) {
			t.Parallel()
			require.NotEqual(t, s.want, s.get(config.Defaults()), "the sample must differ from the default")

			cfg, err := load(t, []string{"--" + s.flag + "=" + s.text}, nil)
			require.NoError(t, err)
			require.Equal(t, s.want, s.get(cfg), "flag")

			cfg, err = load(t, nil, map[string]string{s.env: s.text})
			require.NoError(t, err)
			require.Equal(t, s.want, s.get(cfg), "env")

			path := writeFile(t, yamlFor(s.key, s.yaml))
			cfg, err = load(t, []string{"--config", path}, nil)
			require.NoError(t, err)
			require.Equal(t, s.want, s.get(cfg), "file")
		})
	}
}

func TestConfigPrecedence(t *testing.T) {
	t.Parallel()
	// One setting of each type, with a distinct value per source.
	types := []struct {
		name, key, flag, env  string
		file, envVal, flagVal string
		get                   func(config.Config) any
		def, fromFile         any
		fromEnv, fromFlag     any
	}{
		{
			name: "String", key: "database.url", flag: "database-url", env: "HERALD_DATABASE_URL",
			file: "sqlite:///file.db", envVal: "postgres://env/herald", flagVal: "postgres://flag/herald",
			get: func(c config.Config) any { return c.Database.URL },
			def: "", fromFile: "sqlite:///file.db", fromEnv: "postgres://env/herald", fromFlag: "postgres://flag/herald",
		},
		{
			name: "Int", key: "temporal.port", flag: "temporal-port", env: "HERALD_TEMPORAL_PORT",
			file: "7001", envVal: "7002", flagVal: "7003",
			get: func(c config.Config) any { return c.Temporal.Port },
			def: 7233, fromFile: 7001, fromEnv: 7002, fromFlag: 7003,
		},
		{
			name: "Int64", key: "api.max-body-bytes", flag: "api-max-body-bytes", env: "HERALD_API_MAX_BODY_BYTES",
			file: "2048", envVal: "4096", flagVal: "8192",
			get: func(c config.Config) any { return c.API.MaxBodyBytes },
			def: int64(4 << 20), fromFile: int64(2048), fromEnv: int64(4096), fromFlag: int64(8192),
		},
		{
			name: "Duration", key: "api.timestamp-window", flag: "api-timestamp-window", env: "HERALD_API_TIMESTAMP_WINDOW",
			file: "1m", envVal: "2m", flagVal: "3m",
			get: func(c config.Config) any { return c.API.TimestampWindow },
			def: 5 * time.Minute, fromFile: time.Minute, fromEnv: 2 * time.Minute, fromFlag: 3 * time.Minute,
		},
		{
			name: "StringList", key: "api.trusted-proxies", flag: "api-trusted-proxies", env: "HERALD_API_TRUSTED_PROXIES",
			file: "[10.0.0.1]", envVal: " 10.0.0.2 , 10.0.0.3 ", flagVal: "10.0.0.4",
			get: func(c config.Config) any { return c.API.TrustedProxies },
			def: []string(nil), fromFile: []string{"10.0.0.1"}, fromEnv: []string{"10.0.0.2", "10.0.0.3"}, fromFlag: []string{"10.0.0.4"},
		},
	}
	for _, tt := range types {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := writeFile(t, yamlFor(tt.key, tt.file))
			flag := "--" + tt.flag + "=" + tt.flagVal
			cases := []struct {
				name string
				args []string
				env  map[string]string
				want any
			}{
				{"Default", nil, nil, tt.def},
				{"FileByFlag", []string{"--config", path}, nil, tt.fromFile},
				{"FileByEnv", nil, map[string]string{"HERALD_CONFIG": path}, tt.fromFile},
				{"EnvOverFile", []string{"--config", path}, map[string]string{tt.env: tt.envVal}, tt.fromEnv},
				{"FlagOverEnvAndFile", []string{"--config", path, flag}, map[string]string{tt.env: tt.envVal}, tt.fromFlag},
				{"FlagOverEnv", []string{flag}, map[string]string{tt.env: tt.envVal}, tt.fromFlag},
				{"EmptyEnvIsUnset", []string{"--config", path}, map[string]string{tt.env: ""}, tt.fromFile},
			}
			for _, c := range cases {
				cfg, err := load(t, c.args, c.env)
				require.NoError(t, err, c.name)
				require.Equal(t, c.want, tt.get(cfg), c.name)
			}
		})
	}

	t.Run("ConfigFlagOverConfigEnv", func(t *testing.T) {
		t.Parallel()
		byFlag := writeFile(t, "log:\n  level: warn\n")
		byEnv := writeFile(t, "log:\n  level: error\n")
		cfg, err := load(t, []string{"--config", byFlag}, map[string]string{"HERALD_CONFIG": byEnv})
		require.NoError(t, err)
		require.Equal(t, "warn", cfg.Log.Level)
	})

	t.Run("FlagClearsList", func(t *testing.T) {
		t.Parallel()
		cfg, err := load(t, []string{"--api-trusted-proxies="}, map[string]string{"HERALD_API_TRUSTED_PROXIES": "10.0.0.1"})
		require.NoError(t, err)
		require.Empty(t, cfg.API.TrustedProxies)
	})

	t.Run("RepeatedListFlag", func(t *testing.T) {
		t.Parallel()
		cfg, err := load(t, []string{"--api-trusted-proxies=10.0.0.1,10.0.0.2", "--api-trusted-proxies=10.0.0.3"}, nil)
		require.NoError(t, err)
		require.Equal(t, []string{"10.0.0.1", "10.0.0.2", "10.0.0.3"}, cfg.API.TrustedProxies)
	})
}

func TestConfigFile(t *testing.T) {
	t.Parallel()

	t.Run("DashOrUnderscore", func(t *testing.T) {
		t.Parallel()
		path := writeFile(t, `
data_dir: /srv/herald
master-key: `+validKey()+`
http:
  public_url: https://herald.example.com
  addr: ":9090"
redis:
  embedded_addr: 127.0.0.1:7001
api:
  max_body_bytes: 2048
  batch-max-size: 7
  trusted_proxies: 10.0.0.1, 10.0.0.2
temporal:
  ui_port: 0
`)
		cfg, err := load(t, []string{"--config", path}, nil)
		require.NoError(t, err)
		require.Equal(t, "/srv/herald", cfg.DataDir)
		require.Equal(t, validKey(), cfg.MasterKey)
		require.Equal(t, "https://herald.example.com", cfg.HTTP.PublicURL)
		require.Equal(t, ":9090", cfg.HTTP.Addr)
		require.Equal(t, "127.0.0.1:7001", cfg.Redis.EmbeddedAddr)
		require.Equal(t, int64(2048), cfg.API.MaxBodyBytes)
		require.Equal(t, 7, cfg.API.BatchMaxSize)
		require.Equal(t, []string{"10.0.0.1", "10.0.0.2"}, cfg.API.TrustedProxies, "a comma list in one string")
		require.Equal(t, 0, cfg.Temporal.UIPort)
	})

	t.Run("EmptyValueKeepsDefault", func(t *testing.T) {
		t.Parallel()
		path := writeFile(t, "log:\n  level:\n  format: json\ntemporal:\n  port:\n")
		cfg, err := load(t, []string{"--config", path}, nil)
		require.NoError(t, err)
		require.Equal(t, "info", cfg.Log.Level)
		require.Equal(t, "json", cfg.Log.Format)
		require.Equal(t, 7233, cfg.Temporal.Port)
	})

	t.Run("EmptyFile", func(t *testing.T) {
		t.Parallel()
		cfg, err := load(t, []string{"--config", writeFile(t, "")}, nil)
		require.NoError(t, err)
		require.Equal(t, config.Defaults(), cfg)
	})

	t.Run("ErrMissing", func(t *testing.T) {
		t.Parallel()
		missing := filepath.Join(t.TempDir(), "absent.yaml")
		_, err := load(t, nil, map[string]string{"HERALD_CONFIG": missing})
		require.ErrorContains(t, err, "read config file")
		require.ErrorIs(t, err, os.ErrNotExist)
	})

	t.Run("ErrMalformed", func(t *testing.T) {
		t.Parallel()
		path := writeFile(t, "database:\n  url: [unclosed\n")
		_, err := load(t, []string{"--config", path}, nil)
		require.ErrorContains(t, err, "parse config file "+path)
	})

	t.Run("ErrNotAMapping", func(t *testing.T) {
		t.Parallel()
		_, err := load(t, []string{"--config", writeFile(t, "- a\n- b\n")}, nil)
		require.ErrorContains(t, err, "parse config file")
	})
}

func TestConfigProblemsListedTogether(t *testing.T) {
	t.Parallel()
	path := writeFile(t, `
bogus: 1
master-key: [a, b]
database:
  url: sqlite:///srv/herald.db
  user: admin
http:
  public-url:
    host: example.com
temporal:
  port: seven
api:
  max_body_bytes: big
  timestamp-window: 300
  trusted-proxies: [10.0.0.1]
  callback-auth-failure-limit: 30
`)
	env := map[string]string{
		"HERALD_API_BATCH_MAX_SIZE":    "many",
		"HERALD_WORKER_SWEEP_INTERVAL": "soon",
		"HERALD_LOG_LEVEL":             "debug",
	}
	cfg, err := load(t, []string{"--config", path}, env)
	probs := problems(t, err)
	requireMentioned(t, probs,
		"bogus: unknown setting",
		"database.user: unknown setting",
		"http.public-url.host: unknown setting",
		"http.public-url in "+path+": a mapping is not a single value",
		"master-key in "+path+": a list is not a single value",
		`temporal.port in `+path+`: "seven" is not a whole number`,
		`api.max-body-bytes in `+path+`: "big" is not a whole number`,
		`api.timestamp-window in `+path+`: "300" is not a duration`,
		`HERALD_API_BATCH_MAX_SIZE: "many" is not a whole number`,
		`HERALD_WORKER_SWEEP_INTERVAL: "soon" is not a duration`,
		"api.callback-auth-failure-limit in "+path+": no longer a setting; failed callbacks count as failed authentications under api.auth-failure-limit",
	)
	require.Len(t, probs, 11)
	for _, p := range probs {
		require.Contains(t, err.Error(), p, "the message lists every problem")
	}
	// The settings that were fine are still loaded, so Validate can add its
	// own findings.
	require.Equal(t, "sqlite:///srv/herald.db", cfg.Database.URL)
	require.Equal(t, []string{"10.0.0.1"}, cfg.API.TrustedProxies)
	require.Equal(t, "debug", cfg.Log.Level)
	require.Empty(t, cfg.MasterKey)
}

// complete returns settings that satisfy every mode.
func complete() config.Config {
	c := config.Defaults()
	c.MasterKey = validKey()
	c.Database.URL = "postgres://herald:pw@db.example.com:5432/herald"
	c.Redis.URL = "redis://cache.example.com:6379/0"
	c.Temporal.Address = "temporal.example.com:7233"
	c.HTTP.PublicURL = "https://herald.example.com"
	return c
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()

	t.Run("DevNeedsNothing", func(t *testing.T) {
		t.Parallel()
		require.NoError(t, config.Defaults().Validate(config.ModeDev))
	})

	t.Run("ToolNeedsNothing", func(t *testing.T) {
		t.Parallel()
		require.NoError(t, config.Defaults().Validate(config.ModeTool))
	})

	t.Run("CompleteIsValidInEveryMode", func(t *testing.T) {
		t.Parallel()
		for _, m := range []config.Mode{config.ModeDev, config.ModeServe, config.ModeWorker, config.ModeTool} {
			require.NoError(t, complete().Validate(m), m)
		}
	})

	t.Run("ServeListsEveryMissingSetting", func(t *testing.T) {
		t.Parallel()
		probs := problems(t, config.Defaults().Validate(config.ModeServe))
		requireMentioned(t, probs, "HERALD_MASTER_KEY", "HERALD_DATABASE_URL", "HERALD_REDIS_URL", "HERALD_TEMPORAL_ADDRESS")
		require.Len(t, probs, 4)
	})

	t.Run("AdminSessions", func(t *testing.T) {
		t.Parallel()
		c := complete()
		c.Admin.AccessTokenTTL = 2 * time.Hour
		c.Admin.SessionIdleTimeout = 30 * 24 * time.Hour
		probs := problems(t, c.Validate(config.ModeServe))
		requireMentioned(t, probs, "admin.access-token-ttl", "admin.session-idle-timeout")
		require.Len(t, probs, 2)
	})

	t.Run("ServeNeedsNoPublicURL", func(t *testing.T) {
		t.Parallel()
		c := complete()
		c.HTTP.PublicURL = ""
		require.NoError(t, c.Validate(config.ModeServe))
	})

	t.Run("WorkerNeedsRedisForPacing", func(t *testing.T) {
		t.Parallel()
		probs := problems(t, config.Defaults().Validate(config.ModeWorker))
		requireMentioned(t, probs, "HERALD_MASTER_KEY", "HERALD_DATABASE_URL", "HERALD_REDIS_URL", "HERALD_TEMPORAL_ADDRESS", "HERALD_HTTP_PUBLIC_URL")
		require.Len(t, probs, 5)
		c := complete()
		c.Redis.URL = ""
		probs = problems(t, c.Validate(config.ModeWorker))
		require.Len(t, probs, 1)
		require.Contains(t, probs[0], "HERALD_REDIS_URL")
	})

	t.Run("WorkerNeedsPublicURL", func(t *testing.T) {
		t.Parallel()
		c := complete()
		c.HTTP.PublicURL = ""
		probs := problems(t, c.Validate(config.ModeWorker))
		require.Len(t, probs, 1)
		require.Contains(t, probs[0], "--public-url")
		require.Contains(t, probs[0], "HERALD_HTTP_PUBLIC_URL")
	})

	t.Run("HealthAddr", func(t *testing.T) {
		t.Parallel()
		c := complete()
		c.HTTP.HealthAddr = ""
		require.NoError(t, c.Validate(config.ModeWorker), "empty turns the listener off")
		c.HTTP.HealthAddr = "9090"
		requireMentioned(t, problems(t, c.Validate(config.ModeWorker)), "http.health-addr")
		c.HTTP.HealthAddr = c.HTTP.Addr
		requireMentioned(t, problems(t, c.Validate(config.ModeWorker)), "must differ from http.addr")
	})

	t.Run("AdminAddr", func(t *testing.T) {
		t.Parallel()
		c := complete()
		c.Admin.Addr = "127.0.0.1:8081"
		require.NoError(t, c.Validate(config.ModeServe))
		c.Admin.Addr = "8081"
		requireMentioned(t, problems(t, c.Validate(config.ModeServe)), "admin.addr \"8081\" must be host:port")
		c.Admin.Addr = c.HTTP.Addr
		requireMentioned(t, problems(t, c.Validate(config.ModeServe)), "admin.addr must differ from http.addr")
		c.Admin.Addr = c.HTTP.HealthAddr
		requireMentioned(t, problems(t, c.Validate(config.ModeServe)), "admin.addr must differ")
	})

	t.Run("TemporalPayloadKeysAndRetention", func(t *testing.T) {
		t.Parallel()
		c := complete()
		c.Temporal.Retention = 12 * time.Hour
		c.Admin.CodecOrigins = []string{"https://temporal.example.com", "https://temporal.example.com/ui", "temporal.example.com"}
		probs := problems(t, c.Validate(config.ModeServe))
		requireMentioned(t, probs, "temporal.retention 12h0m0s must be at least 24h0m0s",
			`admin.codec-origins: "https://temporal.example.com/ui"`, `admin.codec-origins: "temporal.example.com"`)
		require.Len(t, probs, 3)
	})

	t.Run("TemporalDatabaseURL", func(t *testing.T) {
		t.Parallel()
		for _, bad := range []string{"sqlite:///tmp/temporal.db", "postgres://db.example.com", "postgres://db.example.com/", "db.example.com/temporal"} {
			c := config.Defaults()
			c.Temporal.DatabaseURL = bad
			requireMentioned(t, problems(t, c.Validate(config.ModeDev)), "temporal.database-url")
		}
		for _, good := range []string{"postgres://u:secret@db.example.com:5432/temporal?sslmode=disable", "postgresql://db.example.com/temporal"} {
			c := config.Defaults()
			c.Temporal.DatabaseURL = good
			require.NoError(t, c.Validate(config.ModeDev), good)
		}
		c := config.Defaults()
		c.Temporal.DatabaseURL = "postgres://db.example.com/temporal"
		c.Temporal.Address = "temporal.example.com:7233"
		requireMentioned(t, problems(t, c.Validate(config.ModeDev)), "set only one of them")
	})

	t.Run("TracingSampleRatio", func(t *testing.T) {
		t.Parallel()
		c := complete()
		c.Tracing.SampleRatio = 1.5
		requireMentioned(t, problems(t, c.Validate(config.ModeServe)), "tracing.sample-ratio")
		c.Tracing.SampleRatio = 0
		require.NoError(t, c.Validate(config.ModeServe))
	})

	t.Run("EmbeddedPortsCheckedOnlyWhenEmbedded", func(t *testing.T) {
		t.Parallel()
		c := config.Defaults()
		c.Temporal.Port = 70000
		c.Temporal.UIPort = -1
		probs := problems(t, c.Validate(config.ModeDev))
		requireMentioned(t, probs, "temporal.port 70000", "temporal.ui-port -1")
		require.Len(t, probs, 2)

		c.Temporal.Address = "temporal.example.com:7233"
		require.NoError(t, c.Validate(config.ModeDev), "no embedded server, so its ports do not matter")
	})

	t.Run("EveryProblemInOneError", func(t *testing.T) {
		t.Parallel()
		c := config.Defaults()
		c.MasterKey = "short"
		c.Database.URL = "mysql://db.example.com/herald"
		c.Redis.URL = "memcached://cache.example.com"
		c.HTTP.Addr = ""
		c.HTTP.PublicURL = "herald.example.com"
		c.Temporal.Namespace = ""
		c.Temporal.Port = -1
		c.Temporal.UIPort = 65536
		c.API.MaxBodyBytes = 1023
		c.API.TimestampWindow = 2 * time.Hour
		c.API.DefaultRateLimit = 0
		c.API.BatchMaxSize = 100001
		c.API.MaxScheduleAhead = 59 * time.Second
		c.Worker.SweepInterval = 999 * time.Millisecond
		c.Worker.RetentionInterval = 999 * time.Millisecond
		c.Worker.RetentionBatchSize = 1001
		c.Alerts.WebhookURL = "ftp://alerts.example.com/in"
		c.Log.Level = "loud"
		c.Log.Format = "xml"
		probs := problems(t, c.Validate(config.ModeDev))
		requireMentioned(t, probs,
			"master-key", "database.url", "redis.url", "http.addr", "http.public-url",
			"temporal.namespace", "temporal.port", "temporal.ui-port",
			"api.max-body-bytes", "api.timestamp-window", "api.default-rate-limit",
			"api.batch-max-size", "api.max-schedule-ahead", "worker.sweep-interval",
			"worker.retention-interval", "worker.retention-batch-size",
			"alerts.webhook-url", "log.level", "log.format",
		)
		require.Len(t, probs, 19)
	})

	t.Run("Bounds", func(t *testing.T) {
		t.Parallel()
		c := complete()
		c.API.MaxBodyBytes = 1024
		c.API.TimestampWindow = 10 * time.Second
		c.API.DefaultRateLimit = 1
		c.API.BatchMaxSize = 100000
		c.API.MaxScheduleAhead = time.Minute
		c.Worker.SweepInterval = time.Second
		c.Temporal.Port = 0
		c.Temporal.UIPort = 65535
		require.NoError(t, c.Validate(config.ModeDev))
		c.API.TimestampWindow = time.Hour
		c.API.BatchMaxSize = 1
		require.NoError(t, c.Validate(config.ModeServe))
	})

	t.Run("URLSchemes", func(t *testing.T) {
		t.Parallel()
		for _, u := range []string{"postgres://h/db", "postgresql://h/db", "sqlite:///abs/herald.db", "sqlite://rel.db"} {
			c := complete()
			c.Database.URL = u
			require.NoError(t, c.Validate(config.ModeServe), u)
		}
		for _, u := range []string{"redis://h:6379/0", "rediss://h:6380/1"} {
			c := complete()
			c.Redis.URL = u
			require.NoError(t, c.Validate(config.ModeServe), u)
		}
	})
}

func TestConfigMasterKey(t *testing.T) {
	t.Parallel()
	raw := []byte("0123456789abcdef0123456789abcdef")
	ok := map[string]string{
		"Std":           base64.StdEncoding.EncodeToString(raw),
		"RawStd":        base64.RawStdEncoding.EncodeToString(raw),
		"URL":           base64.URLEncoding.EncodeToString([]byte("\xfb\xff0123456789abcdef0123456789abcd")),
		"RawURL":        base64.RawURLEncoding.EncodeToString([]byte("\xfb\xff0123456789abcdef0123456789abcd")),
		"SurroundSpace": "  " + base64.StdEncoding.EncodeToString(raw) + "\n",
	}
	for name, key := range ok {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := complete()
			c.MasterKey = key
			require.NoError(t, c.Validate(config.ModeServe))
			got, err := store.ParseMasterKey(key)
			require.NoError(t, err)
			require.Len(t, got, 32)
		})
	}
	bad := map[string]string{
		"TooShort":  base64.StdEncoding.EncodeToString(raw[:16]),
		"TooLong":   base64.StdEncoding.EncodeToString(append(raw, 'x')),
		"NotBase64": "this is not a key, it has spaces and !!",
		"Hex":       hex.EncodeToString(raw), // valid base64 too, but of 48 bytes
	}
	for name, key := range bad {
		t.Run("Err"+name, func(t *testing.T) {
			t.Parallel()
			c := complete()
			c.MasterKey = key
			probs := problems(t, c.Validate(config.ModeServe))
			require.Len(t, probs, 1)
			require.Contains(t, probs[0], "master-key must be base64 of exactly 32 bytes")
			require.NotContains(t, probs[0], key, "the key itself is never shown")
		})
	}
	t.Run("ParseMasterKeyErrNotBase64", func(t *testing.T) {
		t.Parallel()
		_, err := store.ParseMasterKey("%%%")
		require.Error(t, err)
	})
}

func TestConfigKeyRotation(t *testing.T) {
	t.Parallel()
	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		c := complete()
		c.PreviousMasterKeys = []string{otherKey()}
		c.ReceiverIndexKey = thirdKey()
		require.NoError(t, c.Validate(config.ModeServe))
	})
	t.Run("ErrNoReceiverIndexKey", func(t *testing.T) {
		t.Parallel()
		c := complete()
		c.PreviousMasterKeys = []string{otherKey()}
		probs := problems(t, c.Validate(config.ModeServe))
		require.Len(t, probs, 1)
		require.Contains(t, probs[0], "receiver-index-key is required with previous-master-keys")
		require.Contains(t, probs[0], "HERALD_RECEIVER_INDEX_KEY")
	})
	t.Run("ErrBadKeys", func(t *testing.T) {
		t.Parallel()
		c := complete()
		c.PreviousMasterKeys = []string{otherKey(), "bad-key", validKey()}
		c.ReceiverIndexKey = "short"
		probs := problems(t, c.Validate(config.ModeServe))
		requireMentioned(t, probs, "key 2 must be base64", "key 3 is master-key itself", "receiver-index-key must be base64")
		for _, p := range probs {
			require.NotContains(t, p, "bad-key", "keys are never shown")
			require.NotContains(t, p, validKey(), "keys are never shown")
		}
	})
}

func TestConfigRedactsURLs(t *testing.T) {
	t.Parallel()
	const secret = "s3cr3t"
	cases := []struct {
		name, setting string
		set           func(*config.Config, string)
		url           string
		shows         string // what is still shown, so the problem stays recognisable
	}{
		{"DatabaseUserInfo", "database.url", func(c *config.Config, u string) { c.Database.URL = u }, "mysql://root:" + secret + "@db.example.com/herald", "mysql://root:xxxxx@db.example.com/herald"},
		{"DatabaseNoSlashes", "database.url", func(c *config.Config, u string) { c.Database.URL = u }, "root:" + secret + "@db.example.com:5432/herald", "root:<redacted>"},
		{"DatabaseMissingColon", "database.url", func(c *config.Config, u string) { c.Database.URL = u }, "postgres//root:" + secret + "@db.example.com/herald", "<redacted>"},
		{"DatabaseQueryPassword", "database.url", func(c *config.Config, u string) { c.Database.URL = u }, "postgress://root@db.example.com/herald?password=" + secret, "postgress://root@db.example.com/herald"},
		{"DatabaseUnparseable", "database.url", func(c *config.Config, u string) { c.Database.URL = u }, " postgres://root:" + secret + "@db.example.com/herald", "<unparseable URL>"},
		{"RedisUserInfo", "redis.url", func(c *config.Config, u string) { c.Redis.URL = u }, "http://:" + secret + "@cache.example.com:6379", "http://:xxxxx@cache.example.com:6379"},
		{"WebhookUserInfo", "alerts.webhook-url", func(c *config.Config, u string) { c.Alerts.WebhookURL = u }, "ftp://bot:" + secret + "@alerts.example.com/in", "ftp://bot:xxxxx@alerts.example.com/in"},
		{"PublicURLUserInfo", "http.public-url", func(c *config.Config, u string) { c.HTTP.PublicURL = u }, "ws://admin:" + secret + "@herald.example.com", "ws://admin:xxxxx@herald.example.com"},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := complete()
			tt.set(&c, tt.url)
			err := c.Validate(config.ModeServe)
			probs := problems(t, err)
			require.Len(t, probs, 1)
			require.Contains(t, probs[0], tt.setting)
			require.Contains(t, probs[0], `"`+tt.shows+`"`)
			require.NotContains(t, err.Error(), secret)
		})
	}
}

func TestConfigErrorMessage(t *testing.T) {
	t.Parallel()
	err := error(&config.Error{Problems: []string{"first", "second"}})
	require.Equal(t, "invalid configuration:\n  - first\n  - second", err.Error())
	var cerr *config.Error
	require.True(t, errors.As(err, &cerr))
}
