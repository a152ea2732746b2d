package activities

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/heraldhq/herald/providers/webhook"
)

// hookRequest is one request a test endpoint received.
type hookRequest struct {
	header http.Header
	body   []byte
}

// endpoint is an httptest server answering status with every request
// recorded.
type endpoint struct {
	url    string
	mu     sync.Mutex
	status int
	got    []hookRequest
}

func newEndpoint(t *testing.T, status int) *endpoint {
	t.Helper()
	e := &endpoint{status: status}
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		e.mu.Lock()
		e.got = append(e.got, hookRequest{header: r.Header.Clone(), body: body})
		code := e.status
		e.mu.Unlock()
		rw.WriteHeader(code)
	}))
	t.Cleanup(srv.Close)
	e.url = srv.URL
	return e
}

func (e *endpoint) requests() []hookRequest {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]hookRequest(nil), e.got...)
}

// refuseTransport fails every request, counting them.
type refuseTransport struct {
	mu    sync.Mutex
	calls int
}

func (rt *refuseTransport) RoundTrip(*http.Request) (*http.Response, error) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.calls++
	return nil, errors.New("no request expected")
}

func (rt *refuseTransport) count() int {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.calls
}

func newSecret(t *testing.T) (string, *webhook.Signer) {
	t.Helper()
	secret, err := webhook.GenerateSecret()
	require.NoError(t, err)
	signer, err := webhook.NewSigner(secret)
	require.NoError(t, err)
	return secret, signer
}

// finishedWorld is a world whose message succeeded after two attempts and
// whose app wants status callbacks at e.
func finishedWorld(t *testing.T, e *endpoint, secret string) *world {
	t.Helper()
	w := setup(t)
	app := w.st.apps["app-1"]
	app.StatusCallbackURL, app.CallbackSecret = e.url+"/herald/status", secret
	w.st.apps["app-1"] = app
	m := w.st.messages[taskID]
	finished := now.Add(-time.Minute)
	m.BatchID, m.Status, m.CallbackStatus, m.AttemptCount, m.FinishedAt = "batch-1", "success", "delivered", 2, &finished
	w.st.messages[taskID] = m
	return w
}

func requireNonRetryable(t *testing.T, err error, typ string) {
	t.Helper()
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	require.True(t, appErr.NonRetryable())
	require.Equal(t, typ, appErr.Type())
}

func TestNotifyStatus(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	req := NotifyRequest{TaskID: taskID}

	t.Run("Signed", func(t *testing.T) {
		t.Parallel()
		e := newEndpoint(t, http.StatusNoContent)
		secret, signer := newSecret(t)
		w := finishedWorld(t, e, secret)

		require.NoError(t, w.acts.NotifyStatus(ctx, req))
		got := e.requests()
		require.Len(t, got, 1)
		r := got[0]
		require.NoError(t, signer.Verify(r.header, r.body, now, 0))
		require.Equal(t, "msg_"+taskID+"_success", r.header.Get(webhook.HeaderID))
		require.Equal(t, strconv.FormatInt(now.Unix(), 10), r.header.Get(webhook.HeaderTimestamp))
		require.Equal(t, "application/json", r.header.Get("Content-Type"))

		var body struct {
			Type      string         `json:"type"`
			Timestamp string         `json:"timestamp"`
			Data      map[string]any `json:"data"`
		}
		require.NoError(t, json.Unmarshal(r.body, &body))
		require.Equal(t, "message.success", body.Type)
		require.Equal(t, "2025-03-01T09:00:00Z", body.Timestamp)
		require.Equal(t, map[string]any{
			"task_id":         taskID,
			"batch_id":        "batch-1",
			"app_id":          "app-1",
			"channel_id":      float64(3),
			"message_type":    "sms",
			"status":          "success",
			"callback_status": "delivered",
			"retry_count":     float64(1),
			"last_error":      "",
			"finished_at":     "2025-03-01T08:59:00Z",
		}, body.Data)
		require.NotContains(t, string(r.body), "+8613800138000", "status events carry no receiver")
	})

	t.Run("ResendNamesOriginal", func(t *testing.T) {
		t.Parallel()
		e := newEndpoint(t, http.StatusNoContent)
		secret, _ := newSecret(t)
		w := finishedWorld(t, e, secret)
		m := w.st.messages[taskID]
		m.RedrivenFrom = "orig-task"
		w.st.messages[taskID] = m
		require.NoError(t, w.acts.NotifyStatus(ctx, req))
		got := e.requests()
		require.Len(t, got, 1)
		var body struct {
			Data map[string]any `json:"data"`
		}
		require.NoError(t, json.Unmarshal(got[0].body, &body))
		require.Equal(t, "orig-task", body.Data["redriven_from"])
	})

	t.Run("SameIDOnRetry", func(t *testing.T) {
		t.Parallel()
		e := newEndpoint(t, http.StatusOK)
		secret, _ := newSecret(t)
		w := finishedWorld(t, e, secret)
		require.NoError(t, w.acts.NotifyStatus(ctx, req))
		require.NoError(t, w.acts.NotifyStatus(ctx, req))
		got := e.requests()
		require.Len(t, got, 2)
		require.Equal(t, got[0].header.Get(webhook.HeaderID), got[1].header.Get(webhook.HeaderID))
	})

	t.Run("GoneStopsRetries", func(t *testing.T) {
		t.Parallel()
		e := newEndpoint(t, http.StatusGone)
		secret, _ := newSecret(t)
		w := finishedWorld(t, e, secret)
		requireNonRetryable(t, w.acts.NotifyStatus(ctx, req), "webhook.gone")
	})

	t.Run("ServerErrorRetried", func(t *testing.T) {
		t.Parallel()
		e := newEndpoint(t, http.StatusBadGateway)
		secret, _ := newSecret(t)
		w := finishedWorld(t, e, secret)
		err := w.acts.NotifyStatus(ctx, req)
		require.ErrorContains(t, err, "502")
		var appErr *temporal.ApplicationError
		require.False(t, errors.As(err, &appErr) && appErr.NonRetryable())
	})

	t.Run("Unsigned", func(t *testing.T) {
		t.Parallel()
		e := newEndpoint(t, http.StatusOK)
		w := finishedWorld(t, e, "")
		require.NoError(t, w.acts.NotifyStatus(ctx, req))
		r := e.requests()[0]
		require.Equal(t, "msg_"+taskID+"_success", r.header.Get(webhook.HeaderID))
		require.NotEmpty(t, r.header.Get(webhook.HeaderTimestamp))
		require.Empty(t, r.header.Get(webhook.HeaderSignature))
	})

	t.Run("ErrBadSecret", func(t *testing.T) {
		t.Parallel()
		e := newEndpoint(t, http.StatusOK)
		w := finishedWorld(t, e, "not-a-secret")
		err := w.acts.NotifyStatus(ctx, req)
		requireNonRetryable(t, err, "webhook.invalid_secret")
		require.NotContains(t, err.Error(), "not-a-secret")
		require.Empty(t, e.requests())
	})

	t.Run("NoCallbackURL", func(t *testing.T) {
		t.Parallel()
		rt := &refuseTransport{}
		w := setup(t, WithHTTPClient(&http.Client{Transport: rt}))
		require.NoError(t, w.acts.NotifyStatus(ctx, req))
		require.Zero(t, rt.count())
	})

	t.Run("ErrMessageNotFound", func(t *testing.T) {
		t.Parallel()
		w := setup(t)
		require.Error(t, w.acts.NotifyStatus(ctx, NotifyRequest{TaskID: "nope"}))
	})
}

func TestAlert(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	req := AlertRequest{
		TaskID: taskID, AppID: "app-1", ChannelID: 3, AccountID: 11, ProviderKind: "tencent", Rule: "default",
		Class: "account", Code: "FailedOperation.InsufficientBalanceInSmsPackage", Message: "package balance exhausted", Decision: "switch",
	}

	t.Run("UnconfiguredIsNoOp", func(t *testing.T) {
		t.Parallel()
		rt := &refuseTransport{}
		w := setup(t, WithHTTPClient(&http.Client{Transport: rt}))
		require.NoError(t, w.acts.Alert(ctx, req))
		require.Zero(t, rt.count())
	})

	t.Run("Posted", func(t *testing.T) {
		t.Parallel()
		e := newEndpoint(t, http.StatusAccepted)
		secret, signer := newSecret(t)
		w := setup(t)
		w.acts.cfg.AlertWebhookURL, w.acts.cfg.AlertWebhookSecret = e.url, secret

		require.NoError(t, w.acts.Alert(ctx, req))
		got := e.requests()
		require.Len(t, got, 1)
		require.NoError(t, signer.Verify(got[0].header, got[0].body, now, 0))

		var body struct {
			Type string         `json:"type"`
			Data map[string]any `json:"data"`
		}
		require.NoError(t, json.Unmarshal(got[0].body, &body))
		require.Equal(t, "herald.alert", body.Type)
		require.Equal(t, map[string]any{
			"task_id": taskID, "app_id": "app-1", "channel_id": float64(3), "account_id": float64(11), "provider_kind": "tencent",
			"rule": "default", "class": "account", "code": "FailedOperation.InsufficientBalanceInSmsPackage",
			"message": "package balance exhausted", "decision": "switch",
		}, body.Data)
		// Alerts leave Herald: no receiver, no content.
		require.NotContains(t, string(got[0].body), "+8613800138000")
		require.NotContains(t, string(got[0].body), "4321")
		require.NotContains(t, body.Data, "receiver")
	})

	t.Run("OneAlertPerAccount", func(t *testing.T) {
		t.Parallel()
		e := newEndpoint(t, http.StatusOK)
		w := setup(t)
		w.acts.cfg.AlertWebhookURL = e.url
		require.NoError(t, w.acts.Alert(ctx, req))
		require.NoError(t, w.acts.Alert(ctx, req)) // a retry of the same alert
		other := req
		other.AccountID = 12
		require.NoError(t, w.acts.Alert(ctx, other))
		got := e.requests()
		require.Len(t, got, 3)
		require.Equal(t, got[0].header.Get(webhook.HeaderID), got[1].header.Get(webhook.HeaderID))
		require.NotEqual(t, got[0].header.Get(webhook.HeaderID), got[2].header.Get(webhook.HeaderID))
	})

	t.Run("ErrEndpointFails", func(t *testing.T) {
		t.Parallel()
		e := newEndpoint(t, http.StatusInternalServerError)
		w := setup(t)
		w.acts.cfg.AlertWebhookURL = e.url
		require.ErrorContains(t, w.acts.Alert(ctx, req), "500")
	})
}
