package messagescli

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/api/admin/messages"
	"github.com/heraldhq/herald/internal/adminclient"
	"github.com/heraldhq/herald/internal/adminhttp"
	"github.com/heraldhq/herald/internal/redrive"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/workflows"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

type engine struct {
	mu      sync.Mutex
	started []workflows.SendInput
}

func (e *engine) StartSend(_ context.Context, in workflows.SendInput) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.started = append(e.started, in)
	return nil
}

func (e *engine) CancelSend(context.Context, string) error { return nil }

func (e *engine) CancelBatchMember(context.Context, string, string) error { return nil }

// UpdateBatch answers the status an update leads to, as a batch workflow
// does.
func (e *engine) UpdateBatch(_ context.Context, _, update string) (string, error) {
	switch update {
	case workflows.BatchPauseUpdate:
		return store.BatchPaused, nil
	case workflows.BatchCancelUpdate:
		return store.BatchCancelled, nil
	}
	return store.BatchRunning, nil
}

// inline runs a re-drive to its end when it is started.
type inline struct{ acts *redrive.Activities }

func (r inline) StartRedrive(ctx context.Context, in workflows.RedriveInput) error {
	f := in.Filter
	f.Limit = 2
	for {
		res, err := r.acts.Page(ctx, workflows.RedrivePageInput{RedriveID: in.RedriveID, Filter: f, ForceAccountID: in.ForceAccountID, Actor: in.Actor})
		if err != nil {
			return err
		}
		if res.Next == nil {
			return r.acts.Finish(ctx, workflows.RedriveFinishInput{RedriveID: in.RedriveID, Status: store.RedriveDone})
		}
		f.After = res.Next
	}
}

func (inline) SignalRedrive(context.Context, string, string) error { return nil }

func (inline) RedriveProgress(context.Context, string) (workflows.RedriveProgress, error) {
	return workflows.RedriveProgress{}, workflows.ErrWorkflowClosed
}

type world struct {
	db  *store.DB
	url string
	dir string
}

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// setup serves the message routes over a fresh SQLite store, with a test
// token check ("Bearer test-<role>"), and seeds four messages.
func setup(t *testing.T) *world {
	t.Helper()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	c, err := store.NewCipher(key)
	require.NoError(t, err)
	keys := store.NewReceiverKeyer(key)
	db, err := store.Open(t.Context(), store.Options{URL: "sqlite://" + t.TempDir() + "/h.db", Cipher: c, ReceiverKeys: keys})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	_, err = db.MigrateUp(t.Context())
	require.NoError(t, err)

	n := 0
	newID := func() string { n++; return fmt.Sprintf("aaaaaaaa-0000-4000-8000-%012d", n) }
	eng := &engine{}
	e := echo.New()
	e.HTTPErrorHandler = func(err error, c echo.Context) {
		if p, ok := adminhttp.AsProblem(err); ok {
			_ = c.JSON(p.Status, p)
			return
		}
		e.DefaultHTTPErrorHandler(err, c)
	}
	g := e.Group("/admin/api/v1", func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if role, ok := strings.CutPrefix(c.Request().Header.Get("Authorization"), "Bearer test-"); ok {
				adminhttp.SetPrincipal(c, adminhttp.Principal{Username: role, Role: adminhttp.Role(role)})
			}
			return next(c)
		}
	})
	messages.Register(g, messages.Deps{
		Store: db, Engine: eng, Keys: keys, TemporalUIURL: "http://ui.test", Now: func() time.Time { return now }, NewID: newID,
		Redrives: inline{acts: &redrive.Activities{DB: db, Engine: eng, Now: func() time.Time { return now }, NewID: newID}},
	})
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)

	var ms []*store.Message
	acct := int64(3)
	for i := range 4 {
		m := &store.Message{
			TaskID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), AppID: "shop", ChannelID: 1, MessageType: store.ChannelSMS,
			Receiver: fmt.Sprintf("+861380013800%d", i), Content: "code 1234", Status: workflows.StatusSuccess, MaxAttempts: 3,
			AttemptCount: 1, AccountID: &acct, CreatedAt: now.Add(-time.Duration(4-i) * time.Minute),
		}
		if i%2 == 0 {
			m.Status, m.LastError, m.AttemptCount = workflows.StatusFailed, "throttled: isv.BUSINESS_LIMIT_CONTROL: too many", 3
		}
		ms = append(ms, m)
	}
	require.NoError(t, db.CreateMessages(t.Context(), ms, nil))
	require.NoError(t, db.AddEvent(t.Context(), &store.MessageEvent{TaskID: ms[0].TaskID, Seq: 1, Kind: "accepted", Status: "pending", CreatedAt: ms[0].CreatedAt}))
	require.NoError(t, db.AddEvent(t.Context(), &store.MessageEvent{TaskID: ms[0].TaskID, Seq: 2, Kind: "attempt_failed", Status: "failed", AccountID: &acct, Code: "isv.BUSINESS_LIMIT_CONTROL", Detail: "too many", CreatedAt: ms[0].CreatedAt.Add(time.Second)}))
	return &world{db: db, url: srv.URL, dir: t.TempDir()}
}

// run runs `herald messages args...` as role and returns its output.
func (w *world) run(t *testing.T, role string, args ...string) (string, error) {
	t.Helper()
	path := filepath.Join(w.dir, role+".json")
	creds := &adminclient.Credentials{URL: w.url, Username: role, Role: role, AccessToken: "test-" + role, AccessExpiresAt: time.Now().Add(time.Hour), RefreshToken: "unused"}
	require.NoError(t, creds.Save(path))
	var out bytes.Buffer
	cmd := NewCommand(&out, func(string) string { return "" }, nil)
	cmd.SetArgs(append(args, "--credentials", path))
	cmd.SetOut(&out)
	cmd.SetErr(&bytes.Buffer{})
	err := cmd.ExecuteContext(t.Context())
	return out.String(), err
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o750))
		require.NoError(t, os.WriteFile(path, []byte(got), 0o600))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, string(want), got)
}

func TestList(t *testing.T) {
	t.Parallel()
	w := setup(t)
	out, err := w.run(t, "operator", "list", "--status", "failed", "--since", "1h")
	require.NoError(t, err)
	golden(t, "list_operator", out)

	out, err = w.run(t, "viewer", "list", "--limit", "2")
	require.NoError(t, err)
	golden(t, "list_viewer_page", out)

	out, err = w.run(t, "viewer", "list", "--receiver", "+8613800138001", "-o", "json")
	require.NoError(t, err)
	var page messages.ListResponse
	require.NoError(t, json.Unmarshal([]byte(out), &page))
	require.Len(t, page.Items, 1)
	require.Equal(t, "+86138****8001", page.Items[0].Receiver)

	_, err = w.run(t, "viewer", "list", "--since", "yesterday")
	require.ErrorContains(t, err, "field since")
	_, err = w.run(t, "viewer", "list", "-o", "yaml")
	require.ErrorContains(t, err, "--output must be table or json")
}

func TestShow(t *testing.T) {
	t.Parallel()
	w := setup(t)
	out, err := w.run(t, "operator", "show", "00000000-0000-4000-8000-000000000000")
	require.NoError(t, err)
	golden(t, "show", out)
	_, err = w.run(t, "operator", "show", "00000000-0000-4000-8000-000000000009")
	require.ErrorContains(t, err, "HTTP 404")
}

func TestActions(t *testing.T) {
	t.Parallel()
	w := setup(t)
	_, err := w.run(t, "viewer", "resend", "00000000-0000-4000-8000-000000000000")
	require.ErrorContains(t, err, "HTTP 403")
	out, err := w.run(t, "operator", "resend", "00000000-0000-4000-8000-000000000000")
	require.NoError(t, err)
	require.Equal(t, "task 00000000-0000-4000-8000-000000000000 resent as aaaaaaaa-0000-4000-8000-000000000001\n", out)
	_, err = w.run(t, "operator", "cancel", "00000000-0000-4000-8000-000000000001")
	require.ErrorContains(t, err, "can no longer be cancelled")
}

func TestExport(t *testing.T) {
	t.Parallel()
	w := setup(t)
	out, err := w.run(t, "viewer", "export", "--status", "failed")
	require.NoError(t, err)
	golden(t, "export_viewer", out)
}

func TestRedrive(t *testing.T) {
	t.Parallel()
	w := setup(t)
	_, err := w.run(t, "operator", "redrive")
	require.ErrorContains(t, err, "give at least one filter")
	out, err := w.run(t, "operator", "redrive", "--status", "failed", "--since", "2h", "--poll", "10ms")
	require.NoError(t, err)
	require.Contains(t, out, "done: 2 matched, 2 resent, 0 skipped, 0 failed")
	out, err = w.run(t, "operator", "redrive", "--status", "failed", "--since", "2h", "-o", "json")
	require.NoError(t, err)
	var r messages.RedriveView
	require.NoError(t, json.Unmarshal([]byte(out), &r))
	require.Equal(t, 2, r.Skipped, "resent already")
}

func TestWatch(t *testing.T) {
	t.Parallel()
	w := setup(t)
	path := filepath.Join(w.dir, "viewer.json")
	creds := &adminclient.Credentials{URL: w.url, Username: "viewer", Role: "viewer", AccessToken: "test-viewer", AccessExpiresAt: time.Now().Add(time.Hour), RefreshToken: "unused"}
	require.NoError(t, creds.Save(path))
	pr, pw := io.Pipe()
	cmd := NewWatchCommand(pw, func(string) string { return "" }, nil)
	cmd.SetArgs([]string{"--credentials", path, "--status", "failed"})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx); _ = pw.Close() }()

	lines := bufio.NewScanner(pr)
	// Events stored once the tail runs; the poll on SQLite picks them up.
	go func() {
		for i := 1; ctx.Err() == nil; i++ {
			_ = w.db.AddEvent(context.Background(), &store.MessageEvent{TaskID: "00000000-0000-4000-8000-000000000001", Seq: 10 + i, Kind: "receipt"})
			_ = w.db.AddEvent(context.Background(), &store.MessageEvent{TaskID: "00000000-0000-4000-8000-000000000002", Seq: 10 + i, Kind: "retry", Code: "THROTTLED"})
			time.Sleep(200 * time.Millisecond)
		}
	}()
	require.True(t, lines.Scan())
	line := lines.Text()
	require.Contains(t, line, "00000000-0000-4000-8000-000000000002")
	require.Contains(t, line, "retry")
	require.Contains(t, line, "+86138****8002")
	require.NotContains(t, line, "000000000001", "a successful message's events are filtered out")
	cancel()
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	require.NoError(t, <-done)
}

func TestEraseReceiver(t *testing.T) {
	t.Parallel()
	w := setup(t)
	run := func(role string, args ...string) (string, error) {
		t.Helper()
		path := filepath.Join(w.dir, role+".json")
		creds := &adminclient.Credentials{URL: w.url, Username: role, Role: role, AccessToken: "test-" + role, AccessExpiresAt: time.Now().Add(time.Hour), RefreshToken: "unused"}
		require.NoError(t, creds.Save(path))
		var out bytes.Buffer
		cmd := NewEraseCommand(&out, func(string) string { return "" }, nil)
		cmd.SetArgs(append(args, "--credentials", path))
		cmd.SetOut(&out)
		cmd.SetErr(&bytes.Buffer{})
		err := cmd.ExecuteContext(t.Context())
		return out.String(), err
	}
	_, err := run("admin", "receiver", "+8613800138001")
	require.ErrorContains(t, err, "--reason is required")
	_, err = run("operator", "receiver", "+8613800138001", "--reason", "request 1")
	require.ErrorContains(t, err, "HTTP 403")
	m, err := w.db.GetMessage(t.Context(), "00000000-0000-4000-8000-000000000001")
	require.NoError(t, err)
	require.Equal(t, "+8613800138001", m.Receiver)

	out, err := run("admin", "receiver", "+8613800138001", "--reason", "request 1")
	require.NoError(t, err)
	require.Equal(t, "receiver +86138****8001 erased: 1 messages, 0 replies, 0 opt-outs deleted\n", out)
	m, err = w.db.GetMessage(t.Context(), "00000000-0000-4000-8000-000000000001")
	require.NoError(t, err)
	require.Empty(t, m.Receiver)
	require.NotNil(t, m.ErasedAt)

	out, err = run("admin", "receiver", "+8613800138000", "--channel-type", "sms", "--reason", "request 2", "-o", "json")
	require.NoError(t, err)
	var res messages.Erasure
	require.NoError(t, json.Unmarshal([]byte(out), &res))
	require.Equal(t, messages.Erasure{ReceiverMasked: "+86138****8000", MessagesErased: 1}, res)
	recs, err := w.db.ListAudit(t.Context(), store.AuditFilter{Action: "receiver.erase"})
	require.NoError(t, err)
	require.Len(t, recs, 2)
}
