package api

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/workflows"
)

// push posts a receipt callback and returns the status and raw body.
func push(t *testing.T, f *fixture, path, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(f.ts.URL+path, "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(raw)
}

// pushFrom posts a callback as a proxy trusted by the fixture would,
// forwarding it for the client ip.
func pushFrom(t *testing.T, f *fixture, ip, path, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, f.ts.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Forwarded-For", ip)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(raw)
}

// randomTestIP is an address of the documentation range, fresh for each
// test so counters in the shared Redis never meet.
func randomTestIP() string {
	b := make([]byte, 2)
	_, _ = rand.Read(b)
	return fmt.Sprintf("2001:db8::%x:%x", b[0], b[1])
}

func TestCallbackFailedAuthLimit(t *testing.T) {
	t.Parallel()
	f := setup(t, withConfig(func(c *Config) {
		c.TrustedProxies = []string{"127.0.0.1", "::1"}
		c.AuthFailureLimit = 3
		c.AuthFailureWindow = time.Minute
	}))
	body := receiptJSON(t, map[string]any{"provider_message_id": "pm-none", "status": "delivered"})
	replies := replyJSON(t, providers.Reply{Receiver: testPhone, Content: "yes"})
	requireLimited := func(t *testing.T, resp *http.Response, raw string) {
		t.Helper()
		require.Equal(t, http.StatusTooManyRequests, resp.StatusCode, raw)
		var env envelope
		require.NoError(t, json.Unmarshal([]byte(raw), &env))
		require.Equal(t, CodeRateLimited, env.Code)
		require.Contains(t, env.Message, "failed authentications")
		retry, err := strconv.Atoi(resp.Header.Get("Retry-After"))
		require.NoError(t, err)
		require.GreaterOrEqual(t, retry, 1)
		require.LessOrEqual(t, retry, 60)
	}

	ip := randomTestIP()
	// Until the limit, a wrong token and an unknown account get one answer.
	var answers []string
	for _, path := range []string{
		callbackPath(providerKind, accSMS, "guess"),
		callbackPath(providerKind, 999, callbackToken),
		replyPath(providerKind, accSMS, "guess"),
	} {
		resp, raw := pushFrom(t, f, ip, path, body)
		require.Equal(t, http.StatusNotFound, resp.StatusCode, raw)
		require.Empty(t, resp.Header.Get("Retry-After"))
		answers = append(answers, raw)
	}
	require.Equal(t, answers[0], answers[1])
	require.Equal(t, answers[0], answers[2])
	// Then both get 429, on receipts and replies alike.
	for _, path := range []string{
		callbackPath(providerKind, accSMS, "guess"),
		callbackPath(providerKind, 999, callbackToken),
		replyPath(providerKind, accSMS, "guess"),
	} {
		resp, raw := pushFrom(t, f, ip, path, body)
		requireLimited(t, resp, raw)
	}

	t.Run("AuthenticatedNeverRefused", func(t *testing.T) {
		// The address is over the limit, yet valid pushes go through.
		for range 10 {
			resp, raw := pushFrom(t, f, ip, callbackPath(providerKind, accSMS, callbackToken), body)
			require.Equal(t, http.StatusOK, resp.StatusCode, raw)
			resp, raw = pushFrom(t, f, ip, replyPath(providerKind, accSMS, callbackToken), replies)
			require.Equal(t, http.StatusOK, resp.StatusCode, raw)
		}
		resp, raw := pushFrom(t, f, ip, callbackPath(providerKind, accSMS, "guess"), body)
		requireLimited(t, resp, raw)
	})

	t.Run("AuthenticatedNeverCounted", func(t *testing.T) {
		ip := randomTestIP()
		for range 2 {
			resp, raw := pushFrom(t, f, ip, callbackPath(providerKind, accSMS, "guess"), body)
			require.Equal(t, http.StatusNotFound, resp.StatusCode, raw)
		}
		for range 10 {
			resp, raw := pushFrom(t, f, ip, callbackPath(providerKind, accSMS, callbackToken), body)
			require.Equal(t, http.StatusOK, resp.StatusCode, raw)
		}
		// The third failure is still under the limit of three.
		resp, raw := pushFrom(t, f, ip, callbackPath(providerKind, accSMS, "guess"), body)
		require.Equal(t, http.StatusNotFound, resp.StatusCode, raw)
		resp, raw = pushFrom(t, f, ip, callbackPath(providerKind, accSMS, "guess"), body)
		requireLimited(t, resp, raw)
	})

	t.Run("PerClientIP", func(t *testing.T) {
		resp, raw := pushFrom(t, f, randomTestIP(), callbackPath(providerKind, accSMS, "guess"), body)
		require.Equal(t, http.StatusNotFound, resp.StatusCode, raw)
	})

	t.Run("SharedWithSignedAPI", func(t *testing.T) {
		// Bad signatures use up the allowance of callbacks...
		ip := randomTestIP()
		for range 3 {
			requireError(t, f.call(t, http.MethodGet, "/api/v1/channels", "", withHeader("X-Forwarded-For", ip), withSecret("wrong-secret")),
				http.StatusUnauthorized, CodeBadSignature)
		}
		resp, raw := pushFrom(t, f, ip, callbackPath(providerKind, accSMS, "guess"), body)
		requireLimited(t, resp, raw)
		resp, raw = pushFrom(t, f, ip, callbackPath(providerKind, accSMS, callbackToken), body)
		require.Equal(t, http.StatusOK, resp.StatusCode, raw)

		// ...and failed callbacks that of signed requests.
		ip = randomTestIP()
		for range 3 {
			resp, raw := pushFrom(t, f, ip, callbackPath(providerKind, 999, "guess"), body)
			require.Equal(t, http.StatusNotFound, resp.StatusCode, raw)
		}
		requireRateLimited(t, f.call(t, http.MethodGet, "/api/v1/channels", "", withHeader("X-Forwarded-For", ip)), "failed authentications")
	})

	t.Run("BodyNeverRead", func(t *testing.T) {
		// A failing push is answered, under the limit and over it, without
		// waiting for a body that never arrives.
		ip := randomTestIP()
		for _, want := range []int{http.StatusNotFound, http.StatusNotFound, http.StatusNotFound, http.StatusTooManyRequests} {
			pipe, writer := io.Pipe()
			t.Cleanup(func() { _ = writer.Close() })
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.ts.URL+callbackPath(providerKind, accSMS, "guess"), pipe)
			require.NoError(t, err)
			req.ContentLength = 1 << 20
			req.Header.Set("X-Forwarded-For", ip)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err, "the server waited for the body")
			require.Equal(t, want, resp.StatusCode)
			require.NoError(t, resp.Body.Close())
			cancel()
		}
	})
}

func callbackPath(kind string, account int64, token string) string {
	return fmt.Sprintf("/callbacks/%s/%d?token=%s", kind, account, token)
}

// sentMessage stores a message as a worker leaves it after the provider
// accepted it through accountID with provider id pmid.
func sentMessage(f *fixture, accountID int64, pmid, status, callbackStatus string) string {
	id := uuid.NewString()
	f.store.putMessage(store.Message{
		TaskID: id, AppID: f.app.ID, ChannelID: chSMS, MessageType: store.ChannelSMS, Receiver: testPhone,
		Status: status, CallbackStatus: callbackStatus, AccountID: &accountID, ProviderMessageID: pmid,
		AttemptCount: 1, MaxAttempts: 3,
	})
	if pmid != "" {
		f.store.putProviderID(accountID, pmid, id)
	} else {
		f.store.putAcceptedWithoutID(accountID, id)
	}
	return id
}

// sendingMessage stores a message being sent through accSMS, its
// acceptance not recorded yet; batchSeq > 0 makes it a batch member.
func sendingMessage(f *fixture, batchSeq int) string {
	id := uuid.NewString()
	acc := int64(accSMS)
	m := store.Message{
		TaskID: id, AppID: f.app.ID, ChannelID: chSMS, MessageType: store.ChannelSMS, Receiver: testPhone,
		Status: workflows.StatusProcessing, AccountID: &acc, AttemptCount: 1, MaxAttempts: 3,
	}
	if batchSeq > 0 {
		m.BatchID, m.BatchSeq = "batch-1", batchSeq
	}
	f.store.putMessage(m)
	return id
}

func receiptJSON(t *testing.T, receipts ...map[string]any) string {
	t.Helper()
	b, err := json.Marshal(receipts)
	require.NoError(t, err)
	return string(b)
}

func TestCallbackRouting(t *testing.T) {
	t.Parallel()
	f := setup(t)
	body := receiptJSON(t, map[string]any{"provider_message_id": "pm-x", "status": "delivered"})
	for _, tc := range []struct {
		name   string
		path   string
		status int
		code   int
	}{
		{"ErrUnknownAccount", callbackPath(providerKind, 999, callbackToken), http.StatusNotFound, CodeInvalidParams},
		{"ErrAccountNotANumber", "/callbacks/" + providerKind + "/abc?token=" + callbackToken, http.StatusNotFound, CodeInvalidParams},
		{"ErrKindMismatch", callbackPath("silent", accSMS, callbackToken), http.StatusNotFound, CodeInvalidParams},
		{"ErrWrongToken", callbackPath(providerKind, accSMS, "guess"), http.StatusNotFound, CodeInvalidParams},
		{"ErrNoToken", fmt.Sprintf("/callbacks/%s/%d", providerKind, accSMS), http.StatusNotFound, CodeInvalidParams},
		{"ErrTokenOfAnotherAccount", callbackPath(providerKind, accSMS, "tok-2"), http.StatusNotFound, CodeInvalidParams},
		{"ErrUnknownProvider", callbackPath("pigeon", accSMS, callbackToken), http.StatusNotFound, CodeInvalidParams},
		{"ErrProviderWithoutReceipts", callbackPath("silent", accSilent, "tok-6"), http.StatusNotFound, CodeInvalidParams},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			status, raw := push(t, f, tc.path, body)
			require.Equal(t, tc.status, status, raw)
			var env envelope
			require.NoError(t, json.Unmarshal([]byte(raw), &env))
			require.Equal(t, tc.code, env.Code)
		})
	}
	t.Run("SameAnswerForEveryFailure", func(t *testing.T) {
		_, unknown := push(t, f, callbackPath(providerKind, 999, callbackToken), body)
		for _, path := range []string{
			callbackPath(providerKind, accSMS, "guess"),
			callbackPath(providerKind, accSMS, ""),
			callbackPath(providerKind, accSMS, callbackToken+"x"),
			callbackPath("silent", accSMS, callbackToken),
			"/callbacks/" + providerKind + "/01?token=" + callbackToken + "x",
			"/callbacks/" + providerKind + "/abc?token=" + callbackToken,
			callbackPath(providerKind, accSMS, "guess") + "&x=1",
		} {
			status, raw := push(t, f, path, body)
			require.Equal(t, http.StatusNotFound, status, path)
			require.Equal(t, unknown, raw, path)
		}
	})
	t.Run("OK_TokenNotLogged", func(t *testing.T) {
		for _, e := range f.logs.All() {
			require.NotContains(t, fmt.Sprint(e.ContextMap()), callbackToken)
		}
	})
}

func TestCallbackReceipts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	at := time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC)
	path := callbackPath(providerKind, accSMS, callbackToken)

	t.Run("OK_SignalsWorkflow", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		id := sentMessage(f, accSMS, "pm-1", workflows.StatusSent, "")
		other := sentMessage(f, accSMS, "pm-2", workflows.StatusSent, "")
		status, raw := push(t, f, path, receiptJSON(t,
			map[string]any{"provider_message_id": "pm-1", "status": "delivered", "code": "DELIVRD", "description": "ok", "at": at},
			map[string]any{"provider_message_id": "pm-2", "status": "failed", "code": "MK:0001"},
		))
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, "OK", raw)
		require.Equal(t, []workflows.Receipt{{AccountID: accSMS, ProviderMessageID: "pm-1", Status: "delivered", Code: "DELIVRD", Description: "ok", At: at}}, f.engine.signalsOf(id))
		got := f.engine.signalsOf(other)
		require.Len(t, got, 1)
		require.Equal(t, "failed", got[0].Status)
		require.False(t, got[0].At.IsZero(), "a receipt without time gets the arrival time")
	})
	t.Run("OK_BatchMembersAppliedTogether", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		member := func(pmid string, seq int) string {
			id := sentMessage(f, accSMS, pmid, workflows.StatusSent, "")
			f.store.mu.Lock()
			f.store.messages[id].BatchID, f.store.messages[id].BatchSeq = "batch-1", seq
			f.store.mu.Unlock()
			return id
		}
		m1, m2 := member("pm-m1", 1), member("pm-m2", 2)
		single := sentMessage(f, accSMS, "pm-s", workflows.StatusSent, "")
		status, raw := push(t, f, path, receiptJSON(t,
			map[string]any{"provider_message_id": "pm-m1", "status": "delivered"},
			map[string]any{"provider_message_id": "pm-s", "status": "delivered"},
			map[string]any{"provider_message_id": "pm-m2", "status": "failed", "code": "UNDELIV"},
		))
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, "OK", raw)
		require.Equal(t, 1, f.store.memberReceiptCalls, "the push's member receipts are applied in one call")
		require.Empty(t, f.engine.signalsOf(m1), "members have no workflow of their own")
		require.Empty(t, f.engine.signalsOf(m2))
		require.Len(t, f.engine.signalsOf(single), 1)
		got1, err := f.store.GetMessage(ctx, m1)
		require.NoError(t, err)
		require.Equal(t, "success", got1.Status)
		got2, err := f.store.GetMessage(ctx, m2)
		require.NoError(t, err)
		require.Equal(t, "failed", got2.CallbackStatus)
	})
	t.Run("ErrBatchMembersNotApplied", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		id := sentMessage(f, accSMS, "pm-m1", workflows.StatusSent, "")
		f.store.mu.Lock()
		f.store.messages[id].BatchID, f.store.messages[id].BatchSeq = "batch-1", 1
		f.store.mu.Unlock()
		f.store.fail = func(method string) error {
			if method == "ApplyMemberReceipts" {
				return errors.New("database is down")
			}
			return nil
		}
		status, raw := push(t, f, path, receiptJSON(t, map[string]any{"provider_message_id": "pm-m1", "status": "delivered"}))
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, "RETRY", raw, "refused so the provider pushes it again")
	})
	t.Run("ErrBatchMemberReceiptBeforeItsSend", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		id := sendingMessage(f, 1)
		_, raw := push(t, f, path, receiptJSON(t, map[string]any{"task_id": id, "provider_message_id": "pm-early", "status": "delivered"}))
		require.Equal(t, "RETRY", raw, "refused until the member's send is recorded")
		m, err := f.store.GetMessage(ctx, id)
		require.NoError(t, err)
		require.Equal(t, workflows.StatusProcessing, m.Status)
	})
	t.Run("OK_EchoedTaskID", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		id := sentMessage(f, accSMS, "", workflows.StatusSent, "")
		status, _ := push(t, f, path, receiptJSON(t, map[string]any{"provider_message_id": "unmapped", "task_id": id, "status": "delivered"}))
		require.Equal(t, http.StatusOK, status)
		require.Len(t, f.engine.signalsOf(id), 1)
	})
	t.Run("OK_EchoedTaskIDOfAnotherAccountIgnored", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		id := sentMessage(f, accEmail, "", workflows.StatusSent, "")
		status, raw := push(t, f, path, receiptJSON(t, map[string]any{"provider_message_id": "unmapped", "task_id": id, "status": "delivered"}))
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, "OK", raw)
		require.Empty(t, f.engine.signalsOf(id))
	})
	t.Run("OK_ForgedProviderIDForRealTaskIgnored", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		// The account returned pm-1 for this message; a receipt naming
		// another id, even with the right task id, is not believed.
		id := sentMessage(f, accSMS, "pm-1", workflows.StatusSent, "")
		status, raw := push(t, f, path, receiptJSON(t, map[string]any{"provider_message_id": "made-up", "task_id": id, "status": "failed"}))
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, "OK", raw, "answered with success so the provider stops pushing it")
		require.Empty(t, f.engine.signalsOf(id))
		require.Empty(t, f.store.eventsOf(id))
		logged := f.logs.FilterMessageSnippet("unknown message").All()
		require.Len(t, logged, 1)
		require.NotContains(t, fmt.Sprint(logged[0].ContextMap()), testPhone)
	})
	t.Run("OK_ForgedProviderIDOfClosedTaskNotStored", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		id := sentMessage(f, accSMS, "pm-1", workflows.StatusSuccess, "")
		f.engine.signalErr = func(string) error { return workflows.ErrWorkflowClosed }
		status, _ := push(t, f, path, receiptJSON(t, map[string]any{"provider_message_id": "made-up", "task_id": id, "status": "failed"}))
		require.Equal(t, http.StatusOK, status)
		require.Empty(t, f.store.eventsOf(id), "no late receipt is stored")
		m, err := f.store.GetMessage(ctx, id)
		require.NoError(t, err)
		require.Empty(t, m.CallbackStatus)
	})
	t.Run("OK_AcceptedWhileTheReceiptWasLookedUp", func(t *testing.T) {
		t.Parallel()
		// The receipt beats the send's acceptance to the lookup by id, and
		// the acceptance is written before the next check (or the one after
		// it) reads it: the receipt still reaches its workflow.
		for _, during := range []string{"TaskAcceptance", "GetMessage"} {
			t.Run(during, func(t *testing.T) {
				t.Parallel()
				f := setup(t)
				id := sendingMessage(f, 0)
				var once sync.Once
				accept := func() {
					once.Do(func() {
						f.store.putProviderID(accSMS, "pm-race", id)
						f.store.mu.Lock()
						f.store.messages[id].Status = workflows.StatusSent
						f.store.mu.Unlock()
					})
				}
				if during == "GetMessage" {
					f.store.onGetMessage = accept
				} else {
					f.store.fail = func(method string) error {
						if method == during {
							accept()
						}
						return nil
					}
				}
				status, _ := push(t, f, path, receiptJSON(t, map[string]any{"provider_message_id": "pm-race", "task_id": id, "status": "delivered"}))
				require.Equal(t, http.StatusOK, status)
				require.Len(t, f.engine.signalsOf(id), 1)
				require.Empty(t, f.logs.FilterMessageSnippet("unknown message").All())
			})
		}
	})
	t.Run("OK_TaskIDOnlyOfAcceptedTask", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		id := sentMessage(f, accSMS, "pm-1", workflows.StatusSent, "")
		status, _ := push(t, f, path, receiptJSON(t, map[string]any{"task_id": id, "status": "delivered"}))
		require.Equal(t, http.StatusOK, status)
		require.Len(t, f.engine.signalsOf(id), 1)
	})
	t.Run("OK_TaskIDOnlyNotAcceptedIgnored", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		// The message names the account (an attempt started there) but the
		// account never accepted it.
		id := uuid.NewString()
		acc := accSMS
		f.store.putMessage(store.Message{TaskID: id, AppID: f.app.ID, ChannelID: chSMS, MessageType: store.ChannelSMS, Receiver: testPhone,
			Status: workflows.StatusFailed, AccountID: &acc, AttemptCount: 1, MaxAttempts: 3})
		status, raw := push(t, f, path, receiptJSON(t, map[string]any{"task_id": id, "status": "delivered"}))
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, "OK", raw)
		require.Empty(t, f.engine.signalsOf(id))
	})
	t.Run("OK_ProviderIDOfEarlierAttempt", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		// Accepted by accSMS, then switched: the message now names accEmail.
		id := sentMessage(f, accEmail, "pm-b", workflows.StatusSent, "")
		f.store.putProviderID(accSMS, "pm-a", id)
		status, _ := push(t, f, path, receiptJSON(t, map[string]any{"provider_message_id": "pm-a", "status": "delivered"}))
		require.Equal(t, http.StatusOK, status)
		got := f.engine.signalsOf(id)
		require.Len(t, got, 1)
		require.Equal(t, accSMS, got[0].AccountID)
	})
	t.Run("OK_ReceiptDuringSendGoesToWorkflowOnly", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		// The send through accSMS is in flight: its acceptance is not
		// recorded yet (the push beat the provider's answer, or the worker
		// died mid-send). The workflow gets it and checks it once the
		// send returns.
		id := sendingMessage(f, 0)
		status, raw := push(t, f, path, receiptJSON(t, map[string]any{"provider_message_id": "pm-new", "task_id": id, "status": "delivered"}))
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, "OK", raw)
		require.Len(t, f.engine.signalsOf(id), 1)

		// Through another account, or once the workflow has ended, it
		// changes nothing and is not stored.
		status, _ = push(t, f, callbackPath(providerKind, accEmail, "tok-2"), receiptJSON(t, map[string]any{"provider_message_id": "pm-x", "task_id": id, "status": "delivered"}))
		require.Equal(t, http.StatusOK, status)
		require.Len(t, f.engine.signalsOf(id), 1)
		f.engine.signalErr = func(string) error { return workflows.ErrWorkflowClosed }
		status, raw = push(t, f, path, receiptJSON(t, map[string]any{"provider_message_id": "pm-new", "task_id": id, "status": "failed"}))
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, "OK", raw)
		require.Empty(t, f.store.eventsOf(id))
	})
	t.Run("OK_UnknownReceiptSkipped", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		status, raw := push(t, f, path, receiptJSON(t, map[string]any{"provider_message_id": "nobody", "status": "delivered"}))
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, "OK", raw)
		logged := f.logs.FilterMessageSnippet("unknown message").All()
		require.Len(t, logged, 1)
		require.Equal(t, "nobody", logged[0].ContextMap()["provider_message_id"])
	})
	t.Run("ErrUnparsable", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		status, raw := push(t, f, path, `{"not":"a list"`)
		require.Equal(t, http.StatusBadRequest, status)
		require.Equal(t, "RETRY", raw, "answered through the provider's acknowledgement")
	})
	t.Run("ErrEngineUnavailable", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		id := sentMessage(f, accSMS, "pm-1", workflows.StatusSent, "")
		f.engine.signalErr = func(string) error { return errors.New("frontend unavailable") }
		status, raw := push(t, f, path, receiptJSON(t, map[string]any{"provider_message_id": "pm-1", "status": "delivered"}))
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, "RETRY", raw, "the provider is asked to push again")
		require.Empty(t, f.store.eventsOf(id))
	})
	t.Run("OK_LateReceiptStoredWithoutRegression", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		id := sentMessage(f, accSMS, "pm-1", workflows.StatusFailed, "")
		f.engine.signalErr = func(string) error { return fmt.Errorf("signal: %w", workflows.ErrWorkflowClosed) }
		status, raw := push(t, f, path, receiptJSON(t, map[string]any{"provider_message_id": "pm-1", "status": "delivered", "code": "DELIVRD", "description": "late", "at": at}))
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, "OK", raw)
		m, err := f.store.GetMessage(ctx, id)
		require.NoError(t, err)
		require.Equal(t, workflows.StatusFailed, m.Status, "a final state never changes")
		require.Equal(t, "delivered", m.CallbackStatus)
		events := f.store.eventsOf(id)
		require.Len(t, events, 1)
		ev := events[0]
		require.Equal(t, EventLateReceipt, ev.Kind)
		require.Equal(t, 1, ev.Seq)
		require.Equal(t, "delivered", ev.Status)
		require.Equal(t, "DELIVRD", ev.Code)
		require.Equal(t, "late", ev.Detail)
		require.Equal(t, accSMS, *ev.AccountID)
		require.NotContains(t, string(ev.Data), testPhone, "no receiver in the event")
	})
	t.Run("OK_LateReceiptKeepsFirstCallbackStatus", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		id := sentMessage(f, accSMS, "pm-1", workflows.StatusFailed, "failed")
		f.engine.signalErr = func(string) error { return workflows.ErrWorkflowClosed }
		status, _ := push(t, f, path, receiptJSON(t, map[string]any{"provider_message_id": "pm-1", "status": "delivered"}))
		require.Equal(t, http.StatusOK, status)
		m, err := f.store.GetMessage(ctx, id)
		require.NoError(t, err)
		require.Equal(t, "failed", m.CallbackStatus)
		require.Len(t, f.store.eventsOf(id), 1)
	})
	t.Run("OK_LateReceiptRetriesSeqConflict", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		id := sentMessage(f, accSMS, "pm-1", workflows.StatusSuccess, "")
		f.engine.signalErr = func(string) error { return workflows.ErrWorkflowClosed }
		f.store.addEventErrs = []error{fmt.Errorf("seq taken: %w", store.ErrConflict)}
		status, raw := push(t, f, path, receiptJSON(t, map[string]any{"provider_message_id": "pm-1", "status": "delivered"}))
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, "OK", raw)
		require.Len(t, f.store.eventsOf(id), 1)
	})
	t.Run("ErrLateReceiptStoreFails", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		sentMessage(f, accSMS, "pm-1", workflows.StatusSuccess, "")
		f.engine.signalErr = func(string) error { return workflows.ErrWorkflowClosed }
		f.store.addEventErrs = []error{errors.New("disk full")}
		status, raw := push(t, f, path, receiptJSON(t, map[string]any{"provider_message_id": "pm-1", "status": "delivered"}))
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, "RETRY", raw)
	})
}
