package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun/driver/pgdriver"
	"go.uber.org/zap"

	"github.com/heraldhq/herald/activities"
	"github.com/heraldhq/herald/api/apiclient"
	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/tracing"
	"github.com/heraldhq/herald/providers/tencent/tencentfake"
	"github.com/heraldhq/herald/providers/webhook"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/workflows"
)

// runMainEnv makes the test binary behave as the herald command, so tests
// can run a real worker process and kill it.
const runMainEnv = "HERALD_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
	}
	code := m.Run()
	sharedMu.Lock()
	if shared != nil {
		shared.close()
	}
	sharedMu.Unlock()
	os.Exit(code)
}

const (
	defaultTestDatabaseURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	defaultTestRedisURL    = "redis://127.0.0.1:6379/0"
)

// harness is a whole Herald (API, worker, embedded Temporal) started the
// way `herald dev` starts it, on free ports, against real PostgreSQL and
// Redis when they are there.
type harness struct {
	s   *stack
	cfg config.Config
	// db writes through the running service's configuration cache, as an
	// operator tool in the same process would.
	db       *store.Cached
	apiURL   string
	alerts   *alertSink
	cleanups []func()
}

var (
	sharedMu sync.Mutex
	shared   *harness
)

// sharedHarness returns the harness most tests share; each test creates its
// own apps, channels and accounts in it.
func sharedHarness(t *testing.T) *harness {
	t.Helper()
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if shared == nil {
		h, err := startHarness(harnessOptions{worker: true})
		require.NoError(t, err)
		shared = h
	}
	return shared
}

type harnessOptions struct {
	worker bool
	log    *zap.Logger
	// tracing, when set, records the stack's spans.
	tracing *tracing.Provider
	// adminAddr, when set, serves the operators' API and the console on
	// a listener of their own (admin.addr).
	adminAddr string
	// temporalUIPort, when positive, starts the embedded Temporal Web UI
	// on that port.
	temporalUIPort int
}

func startHarness(o harnessOptions) (*harness, error) {
	h := &harness{alerts: newAlertSink()}
	h.cleanups = append(h.cleanups, h.alerts.srv.Close)
	dbURL, dropDB, err := testDatabase()
	if err != nil {
		return nil, err
	}
	h.cleanups = append(h.cleanups, dropDB)

	cfg := config.Defaults()
	cfg.DataDir = ""
	cfg.MasterKey = randomKey()
	cfg.Database.URL = dbURL
	cfg.Redis.URL = testRedisURL()
	cfg.Redis.EmbeddedAddr = "127.0.0.1:0"
	cfg.Temporal.Port = 0
	cfg.Temporal.UIPort = o.temporalUIPort
	cfg.Admin.Addr = o.adminAddr
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.HTTP.HealthAddr = "127.0.0.1:0"
	cfg.Worker.StopTimeout = 0
	cfg.Worker.SweepInterval = time.Second
	// Short, so the retention test sees the schedule run within seconds;
	// apps without retention_days make a pass a single query.
	cfg.Worker.RetentionInterval = time.Second
	cfg.Alerts.WebhookURL = h.alerts.srv.URL
	cfg.Alerts.WebhookSecret = h.alerts.secret
	cfg.Log.Level = "warn"
	if err := cfg.Validate(config.ModeDev); err != nil {
		return nil, err
	}
	log := o.log
	if log == nil {
		log = zap.NewNop()
		if os.Getenv("HERALD_TEST_LOG") != "" {
			log, _ = zap.NewDevelopment()
		}
	}
	h.cfg = cfg
	h.s = &stack{cfg: cfg, mode: config.ModeDev, log: log, tracing: o.tracing}
	ctx := context.Background()
	if o.worker {
		err = h.s.startAll(ctx)
	} else {
		// Workers run in separate processes in these tests.
		err = h.s.startAPI(ctx, schemaMigrate)
	}
	if err != nil {
		h.close()
		return nil, err
	}
	h.db = h.s.cached
	h.apiURL = h.s.apiURL
	return h, nil
}

func (h *harness) close() {
	if h.s != nil {
		_ = h.s.Close()
	}
	for i := len(h.cleanups) - 1; i >= 0; i-- {
		h.cleanups[i]()
	}
}

// testDatabase returns a fresh PostgreSQL database, or under a machine
// without PostgreSQL (and outside CI) a fresh SQLite file.
func testDatabase() (string, func(), error) {
	base := os.Getenv("HERALD_TEST_DATABASE_URL")
	if base == "" {
		base = defaultTestDatabaseURL
	}
	admin := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(base)))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := admin.PingContext(ctx); err != nil {
		_ = admin.Close()
		if os.Getenv("CI") != "" {
			return "", nil, fmt.Errorf("PostgreSQL at %s is required in CI: %w", base, err)
		}
		dir, derr := os.MkdirTemp("", "herald-it-")
		if derr != nil {
			return "", nil, derr
		}
		return "sqlite://" + filepath.Join(dir, "herald.db"), func() { _ = os.RemoveAll(dir) }, nil
	}
	name := "herald_it_" + randomHex8()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		_ = admin.Close()
		return "", nil, fmt.Errorf("create test database: %w", err)
	}
	u, err := url.Parse(base)
	if err != nil {
		return "", nil, err
	}
	u.Path = "/" + name
	drop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		_ = admin.Close()
	}
	return u.String(), drop, nil
}

// testRedisURL returns the real Redis when it answers (always in CI), or
// "" for dev mode's in-process server.
func testRedisURL() string {
	u := os.Getenv("HERALD_TEST_REDIS_URL")
	if u == "" {
		u = defaultTestRedisURL
	}
	if os.Getenv("CI") != "" {
		return u
	}
	opts, err := redis.ParseURL(u)
	if err != nil {
		return ""
	}
	c := redis.NewClient(opts)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if c.Ping(ctx).Err() != nil {
		return ""
	}
	return u
}

func randomKey() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

func randomHex8() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// alertSink is the alert webhook: it verifies signatures and keeps bodies.
type alertSink struct {
	srv    *httptest.Server
	secret string
	signer *webhook.Signer

	mu     sync.Mutex
	bodies []map[string]any
	bad    int
}

func newAlertSink() *alertSink {
	secret, err := webhook.GenerateSecret()
	if err != nil {
		panic(err)
	}
	signer, err := webhook.NewSigner(secret)
	if err != nil {
		panic(err)
	}
	a := &alertSink{secret: secret, signer: signer}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		a.mu.Lock()
		defer a.mu.Unlock()
		if err := a.signer.Verify(r.Header, body, time.Now(), time.Minute); err != nil {
			a.bad++
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		var m map[string]any
		_ = json.Unmarshal(body, &m)
		a.bodies = append(a.bodies, m)
	}))
	return a
}

// forTask returns the alerts about taskID and their raw JSON.
func (a *alertSink) forTask(taskID string) ([]map[string]any, string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []map[string]any
	var raw []string
	for _, b := range a.bodies {
		if d, ok := b["data"].(map[string]any); ok && d["task_id"] == taskID {
			out = append(out, b)
			j, _ := json.Marshal(b)
			raw = append(raw, string(j))
		}
	}
	return out, strings.Join(raw, "\n")
}

// fixture builds apps, templates, channels and accounts for one test.
// Every app it creates is granted every channel it creates.
type fixture struct {
	t        *testing.T
	h        *harness
	apps     []string
	channels []int64
}

func (h *harness) fixture(t *testing.T) *fixture { return &fixture{t: t, h: h} }

// app creates an enabled app and returns a client signing as it.
func (f *fixture) app(opts ...apiclient.Option) (*store.App, *apiclient.Client) {
	f.t.Helper()
	secret := randomHex8() + randomHex8()
	app := &store.App{ID: "app-" + randomHex8(), Name: f.t.Name(), Secret: secret, Enabled: true, RateLimitPerSecond: 1000}
	require.NoError(f.t, f.h.db.CreateApp(context.Background(), app))
	for _, ch := range f.channels {
		require.NoError(f.t, f.h.db.GrantChannel(context.Background(), app.ID, ch))
	}
	f.apps = append(f.apps, app.ID)
	return app, apiclient.New(f.h.apiURL, app.ID, secret, opts...)
}

// template creates a template with the given content and variables.
func (f *fixture) template(content string, vars ...string) *store.Template {
	f.t.Helper()
	tpl := &store.Template{Name: "tpl-" + randomHex8(), ContentType: "text", Content: content, Variables: vars}
	require.NoError(f.t, f.h.db.CreateTemplate(context.Background(), tpl))
	return tpl
}

// channel creates an enabled channel of typ bound to tpl.
func (f *fixture) channel(typ string, tpl *store.Template, mutate ...func(*store.Channel)) *store.Channel {
	f.t.Helper()
	ch := &store.Channel{
		Name: "ch-" + randomHex8(), Type: typ, TemplateID: &tpl.ID, SignatureNames: []string{"Herald"},
		Enabled: true, ReceiptTimeoutSeconds: 30, MaxAttempts: 5,
	}
	for _, m := range mutate {
		m(ch)
	}
	require.NoError(f.t, f.h.db.CreateChannel(context.Background(), ch))
	for _, app := range f.apps {
		require.NoError(f.t, f.h.db.GrantChannel(context.Background(), app, ch.ID))
	}
	f.channels = append(f.channels, ch.ID)
	return ch
}

// account adds a provider account to ch's pool.
func (f *fixture) account(ch *store.Channel, kind string, cfg any, weight int) *store.ProviderAccount {
	f.t.Helper()
	raw, err := json.Marshal(cfg)
	require.NoError(f.t, err)
	acc := &store.ProviderAccount{Name: kind + "-" + randomHex8(), Kind: kind, Config: raw, Weight: weight, Enabled: true, CallbackToken: randomHex8()}
	ctx := context.Background()
	require.NoError(f.t, f.h.db.CreateAccount(ctx, acc))
	require.NoError(f.t, f.h.db.SetPoolMember(ctx, ch.ID, acc.ID, weight))
	return acc
}

// sandboxAccount adds a fast sandbox account.
func (f *fixture) sandboxAccount(ch *store.Channel, weight int) *store.ProviderAccount {
	return f.account(ch, "sandbox", map[string]any{"latency_ms": 5, "receipt_delay_ms": 50}, weight)
}

// tencentAccount adds an account pointing at fake, maps the channel's
// template to the fake's template code and points the fake's receipts at
// Herald's callback endpoint.
func (f *fixture) tencentAccount(ch *store.Channel, fake *tencentfake.Server, weight int) *store.ProviderAccount {
	f.t.Helper()
	acc := f.account(ch, "tencent", map[string]any{
		"secret_id":       tencentfake.DefaultSecretID,
		"secret_key":      tencentfake.DefaultSecretKey,
		"sdk_app_id":      tencentfake.DefaultSdkAppID,
		"sign_name":       "Herald",
		"endpoint":        fake.Endpoint(),
		"scheme":          "http",
		"timeout_seconds": 5,
	}, weight)
	require.NoError(f.t, f.h.db.UpsertTemplateMapping(context.Background(), &store.TemplateMapping{
		TemplateID: *ch.TemplateID, AccountID: acc.ID, ProviderCode: "1001",
	}))
	fake.SetCallback(activities.CallbackURL(f.h.apiURL, acc.Kind, acc.ID, acc.CallbackToken))
	return acc
}

// rule stores a rule-engine rule for the rest of the test. Rules apply to
// every channel of the harness, and the harness outlives the test (under
// -count=N it serves every run), so the rule is deleted when the test ends:
// neither a later test nor the next run of the same test may be decided by
// it. Tests that run at the same time keep apart by provider kind and error
// code.
func (f *fixture) rule(r store.Rule) {
	f.t.Helper()
	r.Enabled = true
	if r.Name == "" {
		r.Name = "rule-" + randomHex8()
	}
	require.NoError(f.t, f.h.db.CreateRule(context.Background(), &r))
	f.t.Cleanup(func() {
		require.NoError(f.t, f.h.db.DeleteRule(context.Background(), r.ID), "delete rule %q", r.Name)
	})
}

// waitFinal polls a task until it is final.
func waitFinal(t *testing.T, c *apiclient.Client, taskID string) *apiclient.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	for {
		msg, err := c.GetMessage(ctx, taskID)
		require.NoError(t, err)
		if workflows.IsFinal(msg.Status) {
			return msg
		}
		select {
		case <-ctx.Done():
			t.Fatalf("task %s still %s", taskID, msg.Status)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// eventKinds lists a task's timeline kinds in order.
func eventKinds(t *testing.T, c *apiclient.Client, taskID string) ([]string, []apiclient.Event) {
	t.Helper()
	events, err := c.MessageEvents(context.Background(), taskID)
	require.NoError(t, err)
	kinds := make([]string, 0, len(events))
	for _, e := range events {
		kinds = append(kinds, e.Kind)
	}
	return kinds, events
}

func count(list []string, v string) int {
	n := 0
	for _, s := range list {
		if s == v {
			n++
		}
	}
	return n
}
