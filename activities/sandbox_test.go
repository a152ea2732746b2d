package activities

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/providers/sandbox"
	"github.com/heraldhq/herald/store"
)

// sandboxWorld is a world whose channel sends through one sandbox account,
// with Herald's receipt endpoint played by an httptest server.
type sandboxWorld struct {
	*world
	mu     sync.Mutex
	pushes []string // request URIs of receipt pushes
}

func (sw *sandboxWorld) pushed() []string {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	return append([]string(nil), sw.pushes...)
}

func setupSandbox(t *testing.T) *sandboxWorld {
	t.Helper()
	sw := &sandboxWorld{world: setup(t)}
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		sw.mu.Lock()
		sw.pushes = append(sw.pushes, r.URL.RequestURI())
		sw.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	p := sandbox.New()
	t.Cleanup(func() { _ = p.Close() })

	acc := store.ProviderAccount{
		ID: 31, Name: "sandbox", Kind: sandbox.Kind, Config: json.RawMessage(`{"latency_ms":0,"receipt_delay_ms":0,"seed":1}`),
		Weight: 1, Enabled: true, CallbackToken: "sbx-token", UpdatedAt: now,
	}
	sw.st.accounts[acc.ID] = acc
	sw.st.pools[3] = []store.PoolMember{{Account: acc, Weight: 1}}
	sw.acts = New(Config{CallbackBaseURL: srv.URL}, sw.st, providers.NewRegistry(p), nil, WithClock(func() time.Time { return now }))
	return sw
}

func (sw *sandboxWorld) setReceiver(receiver string) {
	m := sw.st.messages[taskID]
	m.Receiver = receiver
	sw.st.messages[taskID] = m
}

func TestSandboxProvider(t *testing.T) {
	t.Parallel()
	req := SendRequest{TaskID: taskID, AccountID: 31, Attempt: 1}

	t.Run("Plan", func(t *testing.T) {
		t.Parallel()
		sw := setupSandbox(t)
		p, err := sw.acts.LoadPlan(context.Background(), PlanInput{TaskID: taskID, ChannelID: 3})
		require.NoError(t, err)
		require.Equal(t, []PlanAccount{{ID: 31, Kind: sandbox.Kind, Weight: 1, Enabled: true, ExpectsReceipt: true, CanCheckStatus: true, SendTimeout: DefaultSendTimeout}}, p.Accounts)
	})

	t.Run("AcceptedThenReceiptPushed", func(t *testing.T) {
		t.Parallel()
		sw := setupSandbox(t)
		res, err := runSend(t, sw.acts, req)
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(res.ProviderMessageID, "sbx-"), res.ProviderMessageID)
		require.False(t, res.Delivered, "a receipt follows")
		require.Equal(t, []providerID{{TaskID: taskID, AccountID: 31, ProviderMessageID: res.ProviderMessageID}}, sw.st.recordedIDs())

		// The provider was told where to push, token included.
		require.Eventually(t, func() bool { return len(sw.pushed()) > 0 }, 5*time.Second, 10*time.Millisecond)
		require.Equal(t, "/callbacks/sandbox/31?token=sbx-token", sw.pushed()[0])
	})

	t.Run("Failures", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			receiver string
			want     Failure
		}{
			{"+8613800004000", Failure{Class: "permanent", Code: sandbox.CodeInvalidReceiver}},
			{"+8613800004002", Failure{Class: "throttled", RetryAfterSeconds: int(sandbox.ThrottleRetryAfter / time.Second)}},
			{"+8613800004003", Failure{Class: "account"}},
		} {
			t.Run(tc.receiver, func(t *testing.T) {
				t.Parallel()
				sw := setupSandbox(t)
				sw.setReceiver(tc.receiver)
				_, err := runSend(t, sw.acts, req)
				f := requireFailure(t, err, providers.Class(tc.want.Class))
				if tc.want.Code != "" {
					require.Equal(t, tc.want.Code, f.Code)
				}
				require.Equal(t, tc.want.RetryAfterSeconds, f.RetryAfterSeconds)
				require.NotEmpty(t, f.Message)
				require.Empty(t, sw.st.recordedIDs())
			})
		}
	})

	t.Run("StatusCheckAfterLostReceipt", func(t *testing.T) {
		t.Parallel()
		sw := setupSandbox(t)
		sw.setReceiver("+8613800004005")
		res, err := runSend(t, sw.acts, req)
		require.NoError(t, err)

		chk, err := sw.acts.CheckStatus(context.Background(), CheckRequest{TaskID: taskID, AccountID: 31, ProviderMessageID: res.ProviderMessageID, SentAt: now})
		require.NoError(t, err)
		require.True(t, chk.Found)
		require.Equal(t, res.ProviderMessageID, chk.ProviderMessageID)
		require.Equal(t, string(providers.ReceiptDelivered), chk.Status)
	})

	t.Run("UnknownOutcomeFoundByTask", func(t *testing.T) {
		t.Parallel()
		sw := setupSandbox(t)
		sw.setReceiver("+8613800004006")
		_, err := runSend(t, sw.acts, req)
		requireFailure(t, err, providers.ClassUnknownOutcome)

		chk, err := sw.acts.CheckStatus(context.Background(), CheckRequest{TaskID: taskID, AccountID: 31, SentAt: now})
		require.NoError(t, err)
		require.True(t, chk.Found)
		require.Equal(t, string(providers.ReceiptDelivered), chk.Status)
		require.Equal(t, []providerID{{TaskID: taskID, AccountID: 31, ProviderMessageID: chk.ProviderMessageID}}, sw.st.recordedIDs())
	})
}
