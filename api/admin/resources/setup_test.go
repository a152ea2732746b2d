package resources

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"github.com/heraldhq/herald/store/storetest"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/adminhttp/adminhttptest"
	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/providers/sandbox"
	"github.com/heraldhq/herald/providers/smtp"
	"github.com/heraldhq/herald/store"
)

// testPostgresURL creates a fresh PostgreSQL database for one test and
// returns its URL; it is dropped when the test ends. An unreachable server
// fails the test under CI and skips it elsewhere.
func testPostgresURL(t *testing.T) string {
	t.Helper()
	return storetest.PostgresURL(t, "herald_admin_resources_test")
}

// testServer is the resource routes on a real PostgreSQL store, behind a
// stand-in for the admin server's authentication: "Bearer test-<role>"
// signs in as user <role> with that role.
type testServer struct {
	t   *testing.T
	db  *store.DB
	e   *echo.Echo
	srv *httptest.Server
}

func newTestServer(t *testing.T) *testServer {
	t.Helper()
	key := make([]byte, 32)
	_, err := rand.Read(key)
	require.NoError(t, err)
	c, err := store.NewCipher(key)
	require.NoError(t, err)
	db, err := store.Open(t.Context(), store.Options{URL: testPostgresURL(t), Cipher: c})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	_, err = db.MigrateUp(t.Context())
	require.NoError(t, err)
	sb := sandbox.New()
	t.Cleanup(func() { _ = sb.Close() })

	e := echo.New()
	e.HideBanner = true
	e.HTTPErrorHandler = adminhttptest.WriteProblem
	g := e.Group("/admin/api/v1", adminhttptest.Auth(""))
	Register(g, Deps{Store: db, Providers: providers.NewRegistry(sb, smtp.New()), PublicURL: "http://127.0.0.1:8080", AccountTester: &recordingTester{}})
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return &testServer{t: t, db: db, e: e, srv: srv}
}

// answer is one response.
type answer struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

// do sends a request as role ("" for none) with body (nil, a string, or
// a value to encode) and header pairs.
func (s *testServer) do(role, method, path string, body any, header ...string) answer {
	s.t.Helper()
	var rd *bytes.Reader
	switch b := body.(type) {
	case nil:
		rd = bytes.NewReader(nil)
	case string:
		rd = bytes.NewReader([]byte(b))
	default:
		raw, err := json.Marshal(b)
		require.NoError(s.t, err)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(s.t.Context(), method, s.srv.URL+"/admin/api/v1"+path, rd)
	require.NoError(s.t, err)
	req.Header.Set("Content-Type", "application/json")
	if role != "" {
		req.Header.Set("Authorization", "Bearer test-"+role)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(s.t, err)
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, err = buf.ReadFrom(resp.Body)
	require.NoError(s.t, err)
	a := answer{status: resp.StatusCode, header: resp.Header, raw: buf.String()}
	if buf.Len() > 0 {
		_ = json.Unmarshal(buf.Bytes(), &a.body)
	}
	return a
}

// must sends a request as operator and requires the status.
func (s *testServer) must(status int, method, path string, body any, header ...string) answer {
	s.t.Helper()
	a := s.do("operator", method, path, body, header...)
	require.Equal(s.t, status, a.status, "%s %s: %s", method, path, a.raw)
	return a
}

// recordingTester stands in for the send path at the AccountTester seam:
// it records what it was asked and answers a task id.
type recordingTester struct {
	mu    sync.Mutex
	tests []AccountTest
}

func (r *recordingTester) TestAccount(_ context.Context, t AccountTest) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tests = append(r.tests, t)
	return fmt.Sprintf("test-task-%d", len(r.tests)), nil
}
