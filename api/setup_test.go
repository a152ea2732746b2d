package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/heraldhq/herald/api/apiclient"
	"github.com/heraldhq/herald/api/internal/signing"
	"github.com/heraldhq/herald/internal/admission"
	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/providers/aliyun"
	"github.com/heraldhq/herald/providers/zrwinfo"
	"github.com/heraldhq/herald/store"
)

// testRedis returns a client for this test's Redis: the one at
// HERALD_TEST_REDIS_URL (default 127.0.0.1:6379) when it answers, or else
// an in-process Redis-protocol server of the kind `herald dev` runs, so the
// tests run everywhere and never skip. CI must test against the real Redis:
// there an unreachable one fails the test. Keys never collide between tests
// on the shared Redis because every fixture has its own random app id.
func testRedis(t *testing.T) *redis.Client {
	t.Helper()
	opts, err := sharedRedisOptions()
	if err != nil && os.Getenv("CI") != "" {
		t.Fatalf("CI tests against a real Redis: %v", err)
	}
	if err != nil {
		opts = &redis.Options{Addr: miniredis.RunT(t).Addr()}
	}
	c := redis.NewClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// sharedRedisOptions reports, once per test binary, how to reach the shared
// Redis, or why it cannot be used.
var sharedRedisOptions = sync.OnceValues(func() (*redis.Options, error) {
	url := os.Getenv("HERALD_TEST_REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379/0"
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("parse HERALD_TEST_REDIS_URL: %w", err)
	}
	c := redis.NewClient(opts)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		return nil, fmt.Errorf("reach Redis at %s: %w", opts.Addr, err)
	}
	return opts, nil
})

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Fixture ids.
const (
	chSMS           int64 = 1
	chEmail         int64 = 2
	chWeCom         int64 = 3
	chDisabled      int64 = 4
	chNoTemplate    int64 = 5
	chBadTemplate   int64 = 6
	chNoAccount     int64 = 7
	chDegraded      int64 = 8
	chWebhook       int64 = 9
	chUngranted     int64 = 10 // a working channel the test app holds no grant for
	chUngrantedOff  int64 = 11 // a disabled one
	accSMS          int64 = 1
	accEmail        int64 = 2
	accWeCom        int64 = 3
	accDisabled     int64 = 4
	accWebhook      int64 = 5
	accSilent       int64 = 6
	tplOTP          int64 = 1
	tplMail         int64 = 2
	tplAlert        int64 = 3
	tplBroken       int64 = 4
	tplPing         int64 = 5
	providerKind          = "fakeprov"
	callbackToken         = "tok-secret-1"
	testPhone             = "+8613800138000"
	testPhoneLocal        = "13800138000"
	testPhoneAlt          = "+8613900139000"
	testEmail             = "user@example.com"
	otpParamsJSON         = `{"code":"123456","minutes":"5"}`
	otpRenderedText       = "Your code is 123456, valid 5 minutes"
)

type fixture struct {
	store  *fakeStore
	engine *fakeEngine
	redis  *redis.Client
	srv    *Server
	ts     *httptest.Server
	app    store.App
	logs   *observer.ObservedLogs
	// keys keys receivers as the server's admission service does.
	keys *store.ReceiverKeyer
}

type setupOptions struct {
	cfg     Config
	redis   *redis.Client
	editApp func(*store.App)
	// wrapStore and engine, when set, replace the fakes the server uses.
	wrapStore func(*fakeStore) Store
	engine    Engine
	// admissionRedis, when set, is the admission service's Redis.
	admissionRedis *redis.Client
	receipts       ReceiptCounter
}

type setupOption func(*setupOptions)

func withConfig(edit func(*Config)) setupOption {
	return func(o *setupOptions) { edit(&o.cfg) }
}

func withApp(edit func(*store.App)) setupOption {
	return func(o *setupOptions) { o.editApp = edit }
}

func withRedis(c *redis.Client) setupOption { return func(o *setupOptions) { o.redis = c } }

func withStore(wrap func(*fakeStore) Store) setupOption {
	return func(o *setupOptions) { o.wrapStore = wrap }
}

// newAdmission builds the admission service of a test server over fs.
func newAdmission(t testing.TB, fs *fakeStore, rdb *redis.Client) *admission.Service {
	master := make([]byte, 32)
	_, _ = rand.Read(master)
	a, err := admission.New(admission.Config{}, admission.Deps{Store: fs, Redis: rdb, Keys: store.NewReceiverKeyer(master)})
	require.NoError(t, err)
	return a
}

func withAdmissionRedis(c *redis.Client) setupOption {
	return func(o *setupOptions) { o.admissionRedis = c }
}

func withEngine(e Engine) setupOption { return func(o *setupOptions) { o.engine = e } }

// setup builds a server over fakes and testRedis, with a fresh app and
// a catalogue of channels covering every readiness case.
func setup(t *testing.T, opts ...setupOption) *fixture {
	t.Helper()
	var o setupOptions
	for _, opt := range opts {
		opt(&o)
	}
	if o.redis == nil {
		o.redis = testRedis(t)
	}
	if o.cfg.AuthFailureLimit == 0 {
		// Every test client shares 127.0.0.1, and many tests fail
		// authentication (signed requests and callbacks) on purpose, in
		// parallel against one Redis: the per-IP limit is tested on its own,
		// from addresses of its own.
		o.cfg.AuthFailureLimit = -1
	}
	fs := newFakeStore()
	app := store.App{
		ID:                 "app-" + randHex(8),
		Name:               "test app",
		Secret:             "secret-" + randHex(16),
		Enabled:            true,
		RateLimitPerSecond: 1000,
	}
	if o.editApp != nil {
		o.editApp(&app)
	}
	fs.putApp(app)
	seedCatalogue(fs)
	fs.grant(app.ID, chSMS, chEmail, chWeCom, chDisabled, chNoTemplate, chBadTemplate, chNoAccount, chDegraded, chWebhook)

	core, logs := observer.New(zapcore.DebugLevel)
	eng := newFakeEngine()
	var st Store = fs
	if o.wrapStore != nil {
		st = o.wrapStore(fs)
	}
	var engine Engine = eng
	if o.engine != nil {
		engine = o.engine
	}
	reg := providers.NewRegistry(replyingProvider{fakeProvider{kind: providerKind}}, fakeProvider{kind: "silent", noReceipts: true}, aliyun.New(), zrwinfo.New())
	// A master key per fixture gives every fixture receiver keys, hence
	// counters on the shared Redis, of its own.
	master := make([]byte, 32)
	_, _ = rand.Read(master)
	keys := store.NewReceiverKeyer(master)
	admitRedis := o.redis
	if o.admissionRedis != nil {
		admitRedis = o.admissionRedis
	}
	admit, err := admission.New(admission.Config{}, admission.Deps{Store: fs, Redis: admitRedis, Keys: keys, Providers: reg})
	require.NoError(t, err)
	srv, err := New(o.cfg, Deps{
		Store:     st,
		Engine:    engine,
		Admission: admit,
		Redis:     o.redis,
		Providers: reg,
		Logger:    zap.New(core),
		Receipts:  o.receipts,
	})
	require.NoError(t, err)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return &fixture{store: fs, engine: eng, redis: o.redis, srv: srv, ts: ts, app: app, logs: logs, keys: keys}
}

func ptr[T any](v T) *T { return &v }

func seedCatalogue(fs *fakeStore) {
	now := time.Now().UTC()
	fs.putTemplate(store.Template{ID: tplOTP, Name: "otp", ContentType: "text", Content: "Your code is {{code}}, valid {{ minutes }} minutes", Variables: []string{"code", "minutes"}, Description: "one-time code", CreatedAt: now})
	fs.putTemplate(store.Template{ID: tplMail, Name: "welcome", ContentType: "html", Subject: "Hello {{name}}", Content: "<p>Hi {{name}} & welcome</p>", Variables: []string{"name"}})
	fs.putTemplate(store.Template{ID: tplAlert, Name: "alert", ContentType: "text", Content: "Alert: {{text}}", Variables: []string{"text"}})
	fs.putTemplate(store.Template{ID: tplBroken, Name: "broken", ContentType: "text", Content: "Hello {{a}}", Variables: []string{"b"}})
	fs.putTemplate(store.Template{ID: tplPing, Name: "ping", ContentType: "text", Content: "ping"})

	fs.putChannel(store.Channel{ID: chSMS, Name: "otp sms", Type: store.ChannelSMS, TemplateID: ptr(tplOTP), SignatureNames: []string{"Herald", "Acme"}, Enabled: true, MaxAttempts: 3})
	fs.putChannel(store.Channel{ID: chEmail, Name: "welcome mail", Type: store.ChannelEmail, TemplateID: ptr(tplMail), Enabled: true})
	fs.putChannel(store.Channel{ID: chWeCom, Name: "ops alerts", Type: store.ChannelWeChatWork, TemplateID: ptr(tplAlert), Enabled: true})
	fs.putChannel(store.Channel{ID: chDisabled, Name: "old sms", Type: store.ChannelSMS, TemplateID: ptr(tplOTP), Enabled: false})
	fs.putChannel(store.Channel{ID: chNoTemplate, Name: "no template", Type: store.ChannelSMS, Enabled: true})
	fs.putChannel(store.Channel{ID: chBadTemplate, Name: "bad template", Type: store.ChannelSMS, TemplateID: ptr(tplBroken), Enabled: true})
	fs.putChannel(store.Channel{ID: chNoAccount, Name: "no account", Type: store.ChannelSMS, TemplateID: ptr(tplOTP), Enabled: true})
	fs.putChannel(store.Channel{ID: chDegraded, Name: "degraded", Type: store.ChannelSMS, TemplateID: ptr(tplOTP), SignatureNames: []string{"Herald"}, SignatureRequired: true, Enabled: true})
	fs.putChannel(store.Channel{ID: chWebhook, Name: "hook", Type: store.ChannelWebhook, TemplateID: ptr(tplPing), Enabled: true})
	fs.putChannel(store.Channel{ID: chUngranted, Name: "other sms", Type: store.ChannelSMS, TemplateID: ptr(tplOTP), SignatureNames: []string{"Herald"}, Enabled: true})
	fs.putChannel(store.Channel{ID: chUngrantedOff, Name: "other old sms", Type: store.ChannelSMS, TemplateID: ptr(tplOTP), Enabled: false})

	fs.putAccount(store.ProviderAccount{ID: accSMS, Name: "sms a", Kind: providerKind, Enabled: true, CallbackToken: callbackToken}, chSMS, chNoTemplate, chBadTemplate, chDegraded, chDisabled, chUngranted, chUngrantedOff)
	fs.putAccount(store.ProviderAccount{ID: accEmail, Name: "mail", Kind: providerKind, Enabled: true, CallbackToken: "tok-2"}, chEmail)
	fs.putAccount(store.ProviderAccount{ID: accWeCom, Name: "wecom", Kind: providerKind, Enabled: true, CallbackToken: "tok-3"}, chWeCom)
	fs.putAccount(store.ProviderAccount{ID: accDisabled, Name: "sms b", Kind: providerKind, Enabled: false, CallbackToken: "tok-4"}, chNoAccount, chDegraded)
	fs.putAccount(store.ProviderAccount{ID: accWebhook, Name: "hook", Kind: providerKind, Enabled: true, CallbackToken: "tok-5"}, chWebhook)
	fs.putAccount(store.ProviderAccount{ID: accSilent, Name: "silent", Kind: "silent", Enabled: true, CallbackToken: "tok-6"})
}

// client returns an apiclient for the fixture's app.
func (f *fixture) client(opts ...apiclient.Option) *apiclient.Client {
	return apiclient.New(f.ts.URL, f.app.ID, f.app.Secret, opts...)
}

// result is a decoded response.
type result struct {
	Status  int
	Header  http.Header
	Code    int
	Message string
	Data    json.RawMessage
	Body    []byte
}

// callOpts shape one raw request.
type callOpts struct {
	appID     string
	secret    string
	timestamp string
	nonce     string
	signature string
	canonical *string
	noAuth    bool
	headers   map[string]string
}

type callOpt func(*callOpts)

func withTimestamp(ts int64) callOpt {
	return func(o *callOpts) { o.timestamp = strconv.FormatInt(ts, 10) }
}
func withNonce(n string) callOpt          { return func(o *callOpts) { o.nonce = n } }
func withSignature(s string) callOpt      { return func(o *callOpts) { o.signature = s } }
func withCanonical(s string) callOpt      { return func(o *callOpts) { o.canonical = &s } }
func withAppID(id string) callOpt         { return func(o *callOpts) { o.appID = id } }
func withSecret(s string) callOpt         { return func(o *callOpts) { o.secret = s } }
func withHeader(k, v string) callOpt      { return func(o *callOpts) { o.headers[k] = v } }
func withIdempotencyKey(k string) callOpt { return withHeader(HeaderIdempotencyKey, k) }
func withoutAuth() callOpt                { return func(o *callOpts) { o.noAuth = true } }

// call sends a request signed like the Go client (unless told otherwise)
// and decodes the envelope, failing the test if the body is not one.
func (f *fixture) call(t *testing.T, method, path, body string, opts ...callOpt) result {
	t.Helper()
	o := callOpts{
		appID:     f.app.ID,
		secret:    f.app.Secret,
		timestamp: strconv.FormatInt(time.Now().Unix(), 10),
		nonce:     uuid.NewString(),
		headers:   map[string]string{},
	}
	for _, opt := range opts {
		opt(&o)
	}
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, f.ts.URL+path, rd)
	require.NoError(t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if !o.noAuth {
		sig := o.signature
		if sig == "" {
			canon := ""
			if o.canonical != nil {
				canon = *o.canonical
			} else {
				canon, err = signing.GoCanonical([]byte(body))
				require.NoError(t, err)
			}
			sig = signing.Sign(o.secret, method, req.URL.Path, canon, o.timestamp, o.nonce)
		}
		req.Header.Set(HeaderAppID, o.appID)
		req.Header.Set(HeaderTimestamp, o.timestamp)
		req.Header.Set(HeaderNonce, o.nonce)
		req.Header.Set(HeaderSignature, sig)
	}
	for k, v := range o.headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	res := result{Status: resp.StatusCode, Header: resp.Header, Body: raw}
	var env struct {
		Code    *int            `json:"code"`
		Message *string         `json:"message"`
		Data    json.RawMessage `json:"data"`
	}
	require.NoError(t, json.Unmarshal(raw, &env), "response is not JSON: %s", raw)
	require.NotNil(t, env.Code, "envelope without code: %s", raw)
	require.NotNil(t, env.Message, "envelope without message: %s", raw)
	res.Code, res.Message, res.Data = *env.Code, *env.Message, env.Data
	return res
}

// requireError asserts an error envelope with its status and code, and
// null data unless the case carries data.
func requireError(t *testing.T, res result, status, code int) {
	t.Helper()
	require.Equal(t, status, res.Status, "body: %s", res.Body)
	require.Equal(t, code, res.Code, "body: %s", res.Body)
	require.NotEmpty(t, res.Message)
}

// decodeData decodes a response's data into a generic map.
func decodeData(t *testing.T, res result) map[string]any {
	t.Helper()
	require.Equal(t, http.StatusOK, res.Status, "body: %s", res.Body)
	require.Equal(t, CodeOK, res.Code, "body: %s", res.Body)
	require.Equal(t, "success", res.Message)
	var m map[string]any
	require.NoError(t, json.Unmarshal(res.Data, &m))
	return m
}

// keysOf lists a JSON object's keys, sorted, for exact shape checks.
func keysOf(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func signWith(secret, method, path, canon, ts, nonce string) string {
	return signing.Sign(secret, method, path, canon, ts, nonce)
}
