package messages

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"github.com/heraldhq/herald/store/storetest"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/adminhttp/adminhttptest"
	"github.com/heraldhq/herald/internal/redrive"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/workflows"
)

// fakeEngine records what the routes ask of the workflow engine.
type fakeEngine struct {
	mu        sync.Mutex
	started   []workflows.SendInput
	cancelled []string
	cancelErr error
	// updates records batch updates as "<batch>/<update>", and members
	// the batch members cancelled as "<batch>/<task>"; updateErr fails
	// the updates.
	updates   []string
	members   []string
	updateErr error
}

func (e *fakeEngine) UpdateBatch(_ context.Context, batchID, update string) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.updateErr != nil {
		return "", e.updateErr
	}
	e.updates = append(e.updates, batchID+"/"+update)
	switch update {
	case workflows.BatchPauseUpdate:
		return store.BatchPaused, nil
	case workflows.BatchCancelUpdate:
		return store.BatchCancelled, nil
	}
	return store.BatchRunning, nil
}

func (e *fakeEngine) CancelBatchMember(_ context.Context, batchID, taskID string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.members = append(e.members, batchID+"/"+taskID)
	return nil
}

func (e *fakeEngine) StartSend(_ context.Context, in workflows.SendInput) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.started = append(e.started, in)
	return nil
}

func (e *fakeEngine) CancelSend(_ context.Context, taskID string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cancelErr != nil {
		return e.cancelErr
	}
	e.cancelled = append(e.cancelled, taskID)
	return nil
}

type fixture struct {
	db     *store.DB
	keys   *store.ReceiverKeyer
	engine *fakeEngine
	redr   *runRedrives
	srv    *httptest.Server
	now    time.Time
}

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// setup starts the routes on a real server over a fresh store of dialect.
func setup(t *testing.T, dialect string) *fixture {
	t.Helper()
	keys := store.NewReceiverKeyer([]byte("messages test master key"))
	db := openTestStore(t, testDatabaseURL(t, dialect), keys)
	f := &fixture{db: db, keys: keys, engine: &fakeEngine{}, now: testNow}
	n := 0
	newID := func() string {
		n++
		return fmt.Sprintf("99999999-0000-4000-8000-%012d", n)
	}
	f.redr = &runRedrives{acts: &redrive.Activities{DB: db, Engine: f.engine, Now: func() time.Time { return f.now }, NewID: newID}}
	e := echo.New()
	e.HTTPErrorHandler = adminhttptest.WriteProblem
	g := e.Group("/admin/api/v1", adminhttptest.Auth("-user"))
	Register(g, Deps{
		Store: db, Engine: f.engine, Keys: keys, TemporalUIURL: "http://ui.test/", Namespace: "herald",
		Redrives: f.redr, Now: func() time.Time { return f.now }, NewID: newID,
	})
	f.srv = httptest.NewServer(e)
	t.Cleanup(f.srv.Close)
	return f
}

func testDialects() []string { return []string{store.DialectPostgres, store.DialectSQLite} }

func testDatabaseURL(t *testing.T, dialect string) string {
	t.Helper()
	if dialect == store.DialectSQLite {
		return "sqlite://" + t.TempDir() + "/herald.db"
	}
	return storetest.PostgresURL(t, "herald_admin_messages_test")
}

func openTestStore(t *testing.T, rawURL string, keys *store.ReceiverKeyer) *store.DB {
	t.Helper()
	key := make([]byte, 32)
	_, err := rand.Read(key)
	require.NoError(t, err)
	c, err := store.NewCipher(key)
	require.NoError(t, err)
	db, err := store.Open(context.Background(), store.Options{URL: rawURL, Cipher: c, ReceiverKeys: keys})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	_, err = db.MigrateUp(context.Background())
	require.NoError(t, err)
	return db
}

// call sends a request as role ("" for none) and decodes a JSON answer
// into out when out is not nil.
func (f *fixture) call(t *testing.T, role, method, path string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		require.NoError(t, err)
		rd = strings.NewReader(string(raw))
	}
	req, err := http.NewRequestWithContext(t.Context(), method, f.srv.URL+"/admin/api/v1"+path, rd)
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if role != "" {
		req.Header.Set("Authorization", "Bearer test-"+role)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	if out != nil {
		require.NoError(t, json.Unmarshal(raw, out), "body %s", raw)
	}
	return res.StatusCode
}

// seed stores n messages accepted a minute apart before f.now, the newest
// last, alternating failed and success.
func (f *fixture) seed(t *testing.T, n int) []*store.Message {
	t.Helper()
	var ms []*store.Message
	for i := range n {
		m := &store.Message{
			TaskID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), AppID: "shop", ChannelID: 1 + int64(i%2),
			MessageType: store.ChannelSMS, Receiver: fmt.Sprintf("+86138001380%02d", i%4), Content: "code 1234",
			Status: workflows.StatusSuccess, MaxAttempts: 3, CreatedAt: f.now.Add(-time.Duration(n-i) * time.Minute),
		}
		if i%2 == 0 {
			m.Status, m.LastError = workflows.StatusFailed, "provider said no"
		}
		fin := m.CreatedAt.Add(time.Second)
		m.FinishedAt = &fin
		exp := m.CreatedAt.Add(time.Hour)
		m.ExpiresAt = &exp
		ms = append(ms, m)
	}
	require.NoError(t, f.db.CreateMessages(t.Context(), ms, nil))
	return ms
}

// status sends a request as role and returns only the status, closing the
// body unread (a live tail never ends on its own).
func (f *fixture) status(t *testing.T, role, method, path string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, f.srv.URL+"/admin/api/v1"+path, nil)
	require.NoError(t, err)
	if role != "" {
		req.Header.Set("Authorization", "Bearer test-"+role)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.NoError(t, res.Body.Close())
	return res.StatusCode
}
