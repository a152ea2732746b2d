package admin

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"github.com/heraldhq/herald/store/storetest"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/adminhttp"
	"github.com/heraldhq/herald/store"
)

// testArgon2 keeps test hashes cheap; the format and code path are the
// production ones.
var testArgon2 = Argon2Params{Memory: 64, Time: 1, Threads: 1}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

type harness struct {
	t     *testing.T
	db    *store.DB
	srv   *Server
	clock *clock
}

// eachDialect runs fn on a fresh migrated store of each database.
func eachDialect(t *testing.T, fn func(t *testing.T, h *harness)) {
	t.Helper()
	for _, d := range []string{store.DialectPostgres, store.DialectSQLite} {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			fn(t, setup(t, d, Config{}, nil))
		})
	}
}

func setup(t *testing.T, dialect string, cfg Config, routes []func(g *echo.Group)) *harness {
	t.Helper()
	return setupDeps(t, dialect, cfg, Deps{Routes: routes})
}

// setupDeps is setup with more collaborators; Store and Now are set here.
func setupDeps(t *testing.T, dialect string, cfg Config, deps Deps) *harness {
	t.Helper()
	db := openStore(t, dialect)
	key := make([]byte, store.MasterKeySize)
	_, err := rand.Read(key)
	require.NoError(t, err)
	cfg.MasterKey = key
	if cfg.Argon2 == (Argon2Params{}) {
		cfg.Argon2 = testArgon2
	}
	clk := &clock{t: time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)}
	deps.Store, deps.Now = db, clk.Now
	srv, err := New(cfg, deps)
	require.NoError(t, err)
	return &harness{t: t, db: db, srv: srv, clock: clk}
}

func openStore(t *testing.T, dialect string) *store.DB {
	t.Helper()
	rawURL := "sqlite://" + filepath.Join(t.TempDir(), "herald.db")
	if dialect == store.DialectPostgres {
		rawURL = createPostgresDatabase(t)
	}
	key := make([]byte, store.MasterKeySize)
	_, err := rand.Read(key)
	require.NoError(t, err)
	cipher, err := store.NewCipher(key)
	require.NoError(t, err)
	db, err := store.Open(t.Context(), store.Options{URL: rawURL, Cipher: cipher})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	_, err = db.MigrateUp(t.Context())
	require.NoError(t, err)
	return db
}

func createPostgresDatabase(t *testing.T) string {
	t.Helper()
	return storetest.PostgresURL(t, "herald_admin_test")
}

// addUser creates a user through the user service.
func (h *harness) addUser(name string, role adminhttp.Role) *store.AdminUser {
	h.t.Helper()
	u, err := h.srv.users.Create(h.t.Context(), Actor{Name: "cli:test"}, name, name+"-password-1", role)
	require.NoError(h.t, err)
	return u
}

// response is a recorded answer.
type response struct {
	*httptest.ResponseRecorder
}

func (r response) problem(t *testing.T) adminhttp.Problem {
	t.Helper()
	var p adminhttp.Problem
	require.NoError(t, json.Unmarshal(r.Body.Bytes(), &p), "body %s", r.Body.String())
	return p
}

func (r response) decode(t *testing.T, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(r.Body.Bytes(), v), "body %s", r.Body.String())
}

// request is one call to the server.
type request struct {
	method, path string
	// rawPath, when set, is the whole request path instead of
	// Prefix+path.
	rawPath string
	body    any
	token   string
	remote  string
	header  map[string]string
	cookies []*http.Cookie
}

func (h *harness) do(r request) response {
	h.t.Helper()
	var body *bytes.Reader
	switch b := r.body.(type) {
	case nil:
		body = bytes.NewReader(nil)
	case string:
		body = bytes.NewReader([]byte(b))
	default:
		raw, err := json.Marshal(b)
		require.NoError(h.t, err)
		body = bytes.NewReader(raw)
	}
	target := Prefix + r.path
	if r.rawPath != "" {
		target = r.rawPath
	}
	req := httptest.NewRequest(r.method, target, body)
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if r.token != "" {
		req.Header.Set("Authorization", "Bearer "+r.token)
	}
	req.RemoteAddr = "192.0.2.10:40000"
	if r.remote != "" {
		req.RemoteAddr = r.remote
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	for _, c := range r.cookies {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	h.srv.Handler().ServeHTTP(rec, req)
	return response{rec}
}

// login signs in with body delivery and returns the session.
func (h *harness) login(name string) session {
	h.t.Helper()
	resp := h.do(request{method: http.MethodPost, path: "/auth/login",
		body: map[string]string{"username": name, "password": NormalizeUsername(name) + "-password-1", "token_delivery": "body"}})
	require.Equal(h.t, http.StatusOK, resp.Code, resp.Body.String())
	var s session
	resp.decode(h.t, &s)
	return s
}
