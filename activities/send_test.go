package activities

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/providers/webhook"
	"github.com/heraldhq/herald/store"
)

// runSend executes Send as Temporal would, so it has an activity context.
func runSend(t *testing.T, a *Activities, req SendRequest) (SendResult, error) {
	t.Helper()
	env := newSuite().NewTestActivityEnvironment()
	env.RegisterActivity(a)
	v, err := env.ExecuteActivity(a.Send, req)
	if err != nil {
		return SendResult{}, err
	}
	var res SendResult
	require.NoError(t, v.Get(&res))
	return res, nil
}

// requireFailure checks err is a non-retryable provider failure and
// returns what FailureOf recovers from it.
func requireFailure(t *testing.T, err error, class providers.Class) Failure {
	t.Helper()
	require.Error(t, err)
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	require.True(t, appErr.NonRetryable(), "retrying is the rule engine's decision")
	require.Equal(t, ProviderErrorType+string(class), appErr.Type())
	f, ok := FailureOf(err)
	require.True(t, ok)
	require.Equal(t, class, f.Class)
	return f
}

func TestSend(t *testing.T) {
	t.Parallel()
	req := SendRequest{TaskID: taskID, AccountID: 11, Attempt: 2}

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		w := setup(t)
		w.prov.result = providers.Result{ProviderMessageID: "p-1"}

		res, err := runSend(t, w.acts, req)
		require.NoError(t, err)
		require.Equal(t, SendResult{ProviderMessageID: "p-1"}, res)

		// The id maps back to the task before the workflow waits, because
		// a receipt may beat Send's return.
		require.Equal(t, []providerID{{TaskID: taskID, AccountID: 11, ProviderMessageID: "p-1"}}, w.st.recordedIDs())
		m := w.st.message(t, taskID)
		require.Equal(t, "p-1", m.ProviderMessageID)
		require.NotNil(t, m.AccountID)
		require.Equal(t, int64(11), *m.AccountID)

		require.Equal(t, []providers.Message{{
			TaskID: taskID, Attempt: 2, Receiver: "+8613800138000", Content: "Code 4321, valid 5 min", ContentType: "text/plain",
			Params: []providers.Param{{Name: "code", Value: "4321"}, {Name: "minutes", Value: "5"}}, Signature: "Shop",
		}}, w.prov.messages())
		require.Equal(t, []providers.Account{{ID: 11, Kind: "fake", Config: json.RawMessage(`{}`), CallbackURL: "https://herald.example/callbacks/fake/11?token=tok"}},
			w.prov.accounts())
	})

	t.Run("RefusedWhenAppOrChannelDisabled", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			name    string
			disable func(w *world)
			code    string
		}{
			{"App", func(w *world) { a := w.st.apps["app-1"]; a.Enabled = false; w.st.apps["app-1"] = a }, CodeAppDisabled},
			{"Channel", func(w *world) { c := w.st.channels[3]; c.Enabled = false; w.st.channels[3] = c }, CodeChannelDisabled},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				w := setup(t)
				tc.disable(w)
				r := req
				r.OnStart = &StatusUpdate{Status: "processing", AccountID: 11, Attempts: 2}
				_, err := runSend(t, w.acts, r)
				require.Error(t, err)
				f, ok := DisabledOf(err)
				require.True(t, ok, err)
				require.Equal(t, tc.code, f.Code)
				_, isProvider := FailureOf(err)
				require.False(t, isProvider)
				var appErr *temporal.ApplicationError
				require.ErrorAs(t, err, &appErr)
				require.True(t, appErr.NonRetryable())
				// Nothing reaches the provider, and nothing is written.
				require.Empty(t, w.prov.messages())
				require.Empty(t, w.st.records)
			})
		}
	})

	t.Run("OnAcceptedWrittenWithTheID", func(t *testing.T) {
		t.Parallel()
		w := setup(t)
		w.prov.result = providers.Result{ProviderMessageID: "p-7"}
		r := req
		r.OnAccepted = &StatusUpdate{Status: "sent", AccountID: 11, Events: []Event{
			{Seq: 2, Status: "processing", Kind: "paced", AccountID: 11},
			{Seq: 3, Status: "sent", Kind: "accepted", AccountID: 11, Detail: "accepted"},
		}}

		res, err := runSend(t, w.acts, r)
		require.NoError(t, err)
		require.Equal(t, SendResult{ProviderMessageID: "p-7", Applied: true}, res)
		m := w.st.message(t, taskID)
		require.Equal(t, "sent", m.Status)
		require.Equal(t, "p-7", m.ProviderMessageID)
		require.Equal(t, []providerID{{TaskID: taskID, AccountID: 11, ProviderMessageID: "p-7"}}, w.st.recordedIDs())
		// One write carries the status, the id and both events.
		require.Len(t, w.st.records, 1)
		require.Len(t, w.st.records[0].Events, 2)
		require.Equal(t, "accepted", w.st.records[0].Events[1].Kind)
	})

	t.Run("OnStartWrittenBeforeTheSend", func(t *testing.T) {
		t.Parallel()
		w := setup(t)
		w.prov.err = providers.Errorf(providers.ClassTransient, "BUSY", "try later")
		r := req
		r.OnStart = &StatusUpdate{Status: "processing", AccountID: 11, Attempts: 2, Events: []Event{{Seq: 4, Status: "processing", Kind: "attempt", AccountID: 11}}}

		_, err := runSend(t, w.acts, r)
		require.Error(t, err)
		m := w.st.message(t, taskID)
		require.Equal(t, "processing", m.Status)
		require.Equal(t, 2, m.AttemptCount)
		require.Len(t, w.st.records, 1)
		require.Equal(t, "attempt", w.st.records[0].Events[0].Kind)
	})

	t.Run("OnAcceptedNotWrittenOnRefusal", func(t *testing.T) {
		t.Parallel()
		w := setup(t)
		w.prov.err = providers.Errorf(providers.ClassPermanent, "BAD", "bad number")
		r := req
		r.OnAccepted = &StatusUpdate{Status: "sent", Events: []Event{{Seq: 3, Kind: "accepted"}}}

		_, err := runSend(t, w.acts, r)
		require.Error(t, err)
		require.NotEqual(t, "sent", w.st.message(t, taskID).Status)
		require.Empty(t, w.st.records)
	})

	t.Run("DeliveredWithoutID", func(t *testing.T) {
		t.Parallel()
		w := setup(t)
		w.prov.result = providers.Result{Delivered: true}

		res, err := runSend(t, w.acts, req)
		require.NoError(t, err)
		require.Equal(t, SendResult{Delivered: true}, res)
		require.Empty(t, w.st.recordedIDs())
	})

	t.Run("SenderCachedUntilAccountChanges", func(t *testing.T) {
		t.Parallel()
		w := setup(t)
		for range 2 {
			_, err := runSend(t, w.acts, req)
			require.NoError(t, err)
		}
		require.Len(t, w.prov.accounts(), 1)

		acc := w.st.accounts[11]
		acc.UpdatedAt = now.Add(time.Minute)
		w.st.accounts[11] = acc
		_, err := runSend(t, w.acts, req)
		require.NoError(t, err)
		require.Len(t, w.prov.accounts(), 2, "changed settings build a new sender")
	})

	t.Run("ProviderFailures", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			name string
			err  error
			want Failure
		}{
			{"Throttled", &providers.Error{Class: providers.ClassThrottled, Code: "LimitExceeded.PhoneNumberThirtySecondLimit", Message: "too fast", RetryAfter: 30 * time.Second},
				Failure{Class: "throttled", Code: "LimitExceeded.PhoneNumberThirtySecondLimit", Message: "too fast", RetryAfterSeconds: 30}},
			{"Permanent", providers.Errorf(providers.ClassPermanent, "InvalidParameterValue.IncorrectPhoneNumber", "bad number"),
				Failure{Class: "permanent", Code: "InvalidParameterValue.IncorrectPhoneNumber", Message: "bad number"}},
			{"Account", providers.Errorf(providers.ClassAccount, "AuthFailure.SecretIdNotFound", "no such key"),
				Failure{Class: "account", Code: "AuthFailure.SecretIdNotFound", Message: "no such key"}},
			{"Wrapped", errors.Join(errors.New("context"), providers.Errorf(providers.ClassTransient, "InternalError", "try later")),
				Failure{Class: "transient", Code: "InternalError", Message: "try later"}},
			{"Unclassified", errors.New("connection reset"),
				Failure{Class: "unknown_outcome", Message: "connection reset"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				w := setup(t)
				w.prov.err = tc.err

				_, err := runSend(t, w.acts, req)
				f := requireFailure(t, err, providers.Class(tc.want.Class))
				require.Equal(t, tc.want, f)
				require.Empty(t, w.st.recordedIDs())
			})
		}
	})

	t.Run("ThrottlingIsBenign", func(t *testing.T) {
		t.Parallel()
		err := providerError(providers.Errorf(providers.ClassThrottled, "LimitExceeded", "slow down"))
		var appErr *temporal.ApplicationError
		require.ErrorAs(t, err, &appErr)
		require.Equal(t, temporal.ApplicationErrorCategoryBenign, appErr.Category())

		err = providerError(providers.Errorf(providers.ClassTransient, "InternalError", "oops"))
		require.ErrorAs(t, err, &appErr)
		require.NotEqual(t, temporal.ApplicationErrorCategoryBenign, appErr.Category())
	})

	t.Run("AccountDisabled", func(t *testing.T) {
		t.Parallel()
		w := setup(t)
		acc := w.st.accounts[11]
		acc.Enabled = false
		w.st.accounts[11] = acc

		_, err := runSend(t, w.acts, req)
		f := requireFailure(t, err, providers.ClassAccount)
		require.Equal(t, "ACCOUNT_DISABLED", f.Code)
		require.Empty(t, w.prov.messages())
	})

	t.Run("AccountGone", func(t *testing.T) {
		t.Parallel()
		w := setup(t)
		_, err := runSend(t, w.acts, SendRequest{TaskID: taskID, AccountID: 404, Attempt: 1})
		f := requireFailure(t, err, providers.ClassAccount)
		require.Equal(t, "ACCOUNT_NOT_FOUND", f.Code)
	})

	t.Run("SenderCannotBeBuilt", func(t *testing.T) {
		t.Parallel()
		w := setup(t)
		w.prov.newErr = errors.New("missing secret_id")
		_, err := runSend(t, w.acts, req)
		f := requireFailure(t, err, providers.ClassConfig)
		require.Equal(t, "ACCOUNT_CONFIG_INVALID", f.Code)
	})

	t.Run("UnknownKind", func(t *testing.T) {
		t.Parallel()
		w := setup(t)
		acc := w.st.accounts[11]
		acc.Kind = "aliyun"
		w.st.accounts[11] = acc
		_, err := runSend(t, w.acts, req)
		f := requireFailure(t, err, providers.ClassConfig)
		require.Contains(t, f.Message, "aliyun")
	})

	t.Run("StoreErrorIsRetried", func(t *testing.T) {
		t.Parallel()
		w := setup(t)
		_, err := runSend(t, w.acts, SendRequest{TaskID: "missing", AccountID: 11, Attempt: 1})
		require.Error(t, err)
		_, ok := FailureOf(err)
		require.False(t, ok, "not a provider failure")
		var appErr *temporal.ApplicationError
		if errors.As(err, &appErr) {
			require.False(t, appErr.NonRetryable())
		}
	})

	t.Run("RetriedExecutionAsksProviderFirst", func(t *testing.T) {
		t.Parallel()
		// The first execution reached the provider, then could not record
		// the id; Temporal runs Send again, which finds the message at the
		// provider instead of sending it twice.
		w := setup(t)
		w.prov.checks = true
		w.prov.result = providers.Result{ProviderMessageID: "p-1"}
		w.prov.check.found = true
		w.prov.check.receipt = providers.Receipt{ProviderMessageID: "p-1"}
		w.st.failAddProviderID = 1

		env := newSuite().NewTestWorkflowEnvironment()
		env.RegisterActivity(w.acts)
		env.RegisterWorkflowWithOptions(func(ctx workflow.Context, req SendRequest) (SendResult, error) {
			ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
				StartToCloseTimeout: time.Minute,
				RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumAttempts: 3},
			})
			var res SendResult
			err := workflow.ExecuteActivity(ctx, w.acts.Send, req).Get(ctx, &res)
			return res, err
		}, workflow.RegisterOptions{Name: "send-once"})
		env.ExecuteWorkflow("send-once", req)
		require.NoError(t, env.GetWorkflowError())
		var res SendResult
		require.NoError(t, env.GetWorkflowResult(&res))

		require.Equal(t, SendResult{ProviderMessageID: "p-1", Recovered: true}, res)
		require.Len(t, w.prov.messages(), 1, "sent once")
		queries := w.prov.statusQueries()
		require.Len(t, queries, 1)
		require.Equal(t, taskID, queries[0].TaskID)
		require.Equal(t, "+8613800138000", queries[0].Receiver)
		require.Equal(t, []providerID{{TaskID: taskID, AccountID: 11, ProviderMessageID: "p-1"}}, w.st.recordedIDs())
	})

	t.Run("RetriedExecutionDoesNotResendWhenTheAccountFails", func(t *testing.T) {
		t.Parallel()
		// The first execution reached a provider that cannot be asked, then
		// could not record the acceptance; the account prefers a lost
		// message to a duplicate, so the retried execution sends nothing.
		for _, tc := range []struct {
			name   string
			policy providers.UnknownOutcome
			sends  int
		}{{"Fail", providers.OnUnknownFail, 1}, {"Resend", providers.OnUnknownResend, 2}} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				w := setup(t)
				w.prov.policy = providers.SendPolicy{OnUnknownOutcome: tc.policy}
				w.prov.result = providers.Result{ProviderMessageID: "p-1"}
				w.st.failAddProviderID = 1

				env := newSuite().NewTestWorkflowEnvironment()
				env.RegisterActivity(w.acts)
				env.RegisterWorkflowWithOptions(func(ctx workflow.Context, req SendRequest) (SendResult, error) {
					ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
						StartToCloseTimeout: time.Minute,
						RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumAttempts: 3},
					})
					var res SendResult
					err := workflow.ExecuteActivity(ctx, w.acts.Send, req).Get(ctx, &res)
					return res, err
				}, workflow.RegisterOptions{Name: "send-once"})
				env.ExecuteWorkflow("send-once", req)
				require.Len(t, w.prov.messages(), tc.sends)
				if tc.policy == providers.OnUnknownFail {
					f, ok := FailureOf(env.GetWorkflowError())
					require.True(t, ok)
					require.Equal(t, providers.ClassUnknownOutcome, f.Class)
					require.Equal(t, "SEND_NOT_CONFIRMED", f.Code)
				} else {
					require.NoError(t, env.GetWorkflowError())
				}
			})
		}
	})

	t.Run("RetriedExecutionFindsItWithoutAnID", func(t *testing.T) {
		t.Parallel()
		// A provider that finds the message by task id alone (Aliyun)
		// answers without its id; that is still enough not to send again.
		w := setup(t)
		w.prov.checks = true
		w.prov.result = providers.Result{ProviderMessageID: "p-1"}
		w.prov.check.found = true
		w.prov.check.receipt = providers.Receipt{TaskID: taskID, Status: providers.ReceiptPending}
		w.st.failAddProviderID = 1

		env := newSuite().NewTestWorkflowEnvironment()
		env.RegisterActivity(w.acts)
		env.RegisterWorkflowWithOptions(func(ctx workflow.Context, req SendRequest) (SendResult, error) {
			ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
				StartToCloseTimeout: time.Minute,
				RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumAttempts: 3},
			})
			var res SendResult
			err := workflow.ExecuteActivity(ctx, w.acts.Send, req).Get(ctx, &res)
			return res, err
		}, workflow.RegisterOptions{Name: "send-once"})
		env.ExecuteWorkflow("send-once", req)
		require.NoError(t, env.GetWorkflowError())
		var res SendResult
		require.NoError(t, env.GetWorkflowResult(&res))

		require.True(t, res.Recovered)
		require.Len(t, w.prov.messages(), 1, "sent once")
	})

	t.Run("LocalRerunIsToldByTheStoredAttempt", func(t *testing.T) {
		t.Parallel()
		// A local send starts again at attempt 1 after its worker died; the
		// attempt its first run wrote tells the second that it may have
		// reached the provider.
		local := SendRequest{TaskID: taskID, AccountID: 11, Attempt: 1, Local: true,
			OnStart:    &StatusUpdate{Status: "processing", AccountID: 11, Attempts: 1},
			OnAccepted: &StatusUpdate{Status: "sent", AccountID: 11}}
		for _, tc := range []struct {
			name       string
			checks     bool
			policy     providers.UnknownOutcome
			failWrite  bool
			sends      int
			recovered  bool
			failedCode string
		}{
			{name: "AcceptanceWrittenIsReused", policy: providers.OnUnknownFail, sends: 1, recovered: true},
			{name: "ProviderAskedFirst", checks: true, failWrite: true, sends: 1, recovered: true},
			{name: "NotResentWhenTheAccountFails", policy: providers.OnUnknownFail, failWrite: true, sends: 1, failedCode: "SEND_NOT_CONFIRMED"},
			{name: "ResentWhenTheAccountResends", policy: providers.OnUnknownResend, failWrite: true, sends: 2},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				w := setup(t)
				w.prov.checks = tc.checks
				w.prov.policy = providers.SendPolicy{OnUnknownOutcome: tc.policy}
				w.prov.result = providers.Result{ProviderMessageID: "p-1"}
				w.prov.check.found = true
				w.prov.check.receipt = providers.Receipt{ProviderMessageID: "p-1"}
				if tc.failWrite {
					w.st.failAddProviderID = 1
				}
				_, err := runSend(t, w.acts, local)
				require.Equal(t, tc.failWrite, err != nil, "first run: %v", err)

				res, err := runSend(t, w.acts, local)
				require.Len(t, w.prov.messages(), tc.sends)
				if tc.failedCode != "" {
					f := requireFailure(t, err, providers.ClassUnknownOutcome)
					require.Equal(t, tc.failedCode, f.Code)
					return
				}
				require.NoError(t, err)
				require.Equal(t, "p-1", res.ProviderMessageID)
				require.Equal(t, tc.recovered, res.Recovered)
				require.True(t, res.Applied)
			})
		}
	})

	t.Run("LocalFirstRunSends", func(t *testing.T) {
		t.Parallel()
		// Without an earlier run's attempt in the store, a local send is
		// a first execution: no provider question, one send.
		w := setup(t)
		w.prov.checks = true
		w.prov.result = providers.Result{ProviderMessageID: "p-1"}
		res, err := runSend(t, w.acts, SendRequest{TaskID: taskID, AccountID: 11, Attempt: 1, Local: true,
			OnStart: &StatusUpdate{Status: "processing", AccountID: 11, Attempts: 1}})
		require.NoError(t, err)
		require.False(t, res.Recovered)
		require.Len(t, w.prov.messages(), 1)
		require.Empty(t, w.prov.statusQueries())
	})

	t.Run("RealWebhookProvider", func(t *testing.T) {
		t.Parallel()
		secret, err := webhook.GenerateSecret()
		require.NoError(t, err)
		signer, err := webhook.NewSigner(secret)
		require.NoError(t, err)
		var (
			mu       sync.Mutex
			verified []error
			status   = http.StatusOK
		)
		srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			mu.Lock()
			verified = append(verified, signer.Verify(r.Header, body, now, 0))
			code := status
			mu.Unlock()
			rw.WriteHeader(code)
			_, _ = rw.Write([]byte(`{"id":"wh-7"}`))
		}))
		t.Cleanup(srv.Close)

		w := setup(t)
		cfg, err := json.Marshal(map[string]string{"url": srv.URL, "secret": secret})
		require.NoError(t, err)
		w.st.accounts[21] = store.ProviderAccount{ID: 21, Kind: webhook.Kind, Config: cfg, Weight: 1, Enabled: true, UpdatedAt: now}
		w.acts = New(Config{}, w.st, providers.NewRegistry(webhook.New(webhook.WithClock(func() time.Time { return now }))), nil,
			WithClock(func() time.Time { return now }))

		res, err := runSend(t, w.acts, SendRequest{TaskID: taskID, AccountID: 21, Attempt: 1})
		require.NoError(t, err)
		require.Equal(t, SendResult{ProviderMessageID: "wh-7", Delivered: true}, res)
		require.Equal(t, []providerID{{TaskID: taskID, AccountID: 21, ProviderMessageID: "wh-7"}}, w.st.recordedIDs())

		mu.Lock()
		status = http.StatusServiceUnavailable
		mu.Unlock()
		_, err = runSend(t, w.acts, SendRequest{TaskID: taskID, AccountID: 21, Attempt: 2})
		f := requireFailure(t, err, providers.ClassTransient)
		require.Equal(t, "HTTP_503", f.Code)

		mu.Lock()
		defer mu.Unlock()
		require.Equal(t, []error{nil, nil}, verified)
	})
}

func TestFailureOf(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		err  error
		want Failure
		ok   bool
	}{
		{"Nil", nil, Failure{}, false},
		{"Plain", errors.New("boom"), Failure{}, false},
		{"OtherApplicationError", temporal.NewNonRetryableApplicationError("gone", "webhook.gone", nil), Failure{}, false},
		{"BarePrefix", temporal.NewApplicationError("x", ProviderErrorType), Failure{}, false},
		{"NoDetails", temporal.NewApplicationError("transient: later", ProviderErrorType+"transient"),
			Failure{Class: "transient", Message: "transient: later"}, true},
		{"Details", providerError(&providers.Error{Class: providers.ClassThrottled, Code: "429", Message: "slow", RetryAfter: 2500 * time.Millisecond}),
			Failure{Class: "throttled", Code: "429", Message: "slow", RetryAfterSeconds: 2}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, ok := FailureOf(tc.err)
			require.Equal(t, tc.ok, ok)
			require.Equal(t, tc.want, f)
		})
	}
}

func TestBuildMessage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	build := func(t *testing.T, w *world, accountID int64) (providers.Message, error) {
		t.Helper()
		m := w.st.message(t, taskID)
		return w.acts.buildMessage(ctx, &m, accountID, 3)
	}

	t.Run("TemplateOrder", func(t *testing.T) {
		t.Parallel()
		w := setup(t)
		pm, err := build(t, w, 11)
		require.NoError(t, err)
		require.Equal(t, providers.Message{
			TaskID: taskID, Attempt: 3, Receiver: "+8613800138000", Content: "Code 4321, valid 5 min", ContentType: "text/plain",
			Params: []providers.Param{{Name: "code", Value: "4321"}, {Name: "minutes", Value: "5"}}, Signature: "Shop",
		}, pm)
	})

	t.Run("MappingOrderAndNames", func(t *testing.T) {
		t.Parallel()
		w := setup(t)
		w.st.mappings[[2]int64{9, 11}] = store.TemplateMapping{
			TemplateID: 9, AccountID: 11, ProviderCode: "1234567",
			ParamOrder: []string{"minutes", "code"}, ParamNames: map[string]string{"code": "otp"},
		}
		pm, err := build(t, w, 11)
		require.NoError(t, err)
		require.Equal(t, "1234567", pm.TemplateCode)
		require.Equal(t, []providers.Param{{Name: "minutes", Value: "5"}, {Name: "otp", Value: "4321"}}, pm.Params)
	})

	t.Run("MappingRenamesOnly", func(t *testing.T) {
		t.Parallel()
		w := setup(t)
		w.st.mappings[[2]int64{9, 11}] = store.TemplateMapping{
			TemplateID: 9, AccountID: 11, ProviderCode: "SMS_154950909",
			ParamNames: map[string]string{"minutes": "ttl", "code": ""},
		}
		pm, err := build(t, w, 11)
		require.NoError(t, err)
		require.Equal(t, "SMS_154950909", pm.TemplateCode)
		require.Equal(t, []providers.Param{{Name: "code", Value: "4321"}, {Name: "ttl", Value: "5"}}, pm.Params)
	})

	t.Run("MappingOfAnotherAccount", func(t *testing.T) {
		t.Parallel()
		w := setup(t)
		w.st.mappings[[2]int64{9, 12}] = store.TemplateMapping{TemplateID: 9, AccountID: 12, ProviderCode: "other", ParamOrder: []string{"minutes"}}
		pm, err := build(t, w, 11)
		require.NoError(t, err)
		require.Empty(t, pm.TemplateCode)
		require.Len(t, pm.Params, 2)
	})

	t.Run("Attachments", func(t *testing.T) {
		t.Parallel()
		w := setup(t)
		m := w.st.messages[taskID]
		m.Attachments = json.RawMessage(`[{"filename":"invoice.txt","content_type":"text/plain","content":"aGk="}]`)
		w.st.messages[taskID] = m
		pm, err := build(t, w, 11)
		require.NoError(t, err)
		require.Equal(t, []providers.Attachment{{Filename: "invoice.txt", ContentType: "text/plain", Content: []byte("hi")}}, pm.Attachments)
	})

	t.Run("BatchAttachments", func(t *testing.T) {
		t.Parallel()
		w := setup(t)
		m := w.st.messages[taskID]
		m.BatchID = "batch-1"
		m.MessageType = store.ChannelEmail
		w.st.messages[taskID] = m
		w.st.batches["batch-1"] = store.Batch{ID: "batch-1", Attachments: json.RawMessage(`[{"filename":"report.csv","content_type":"text/csv","content":"YSxi"}]`)}
		pm, err := build(t, w, 11)
		require.NoError(t, err)
		require.Equal(t, []providers.Attachment{{Filename: "report.csv", ContentType: "text/csv", Content: []byte("a,b")}}, pm.Attachments)

		// Later messages of the batch use the decoded copy: the batch row
		// is not read again.
		delete(w.st.batches, "batch-1")
		pm, err = build(t, w, 11)
		require.NoError(t, err)
		require.Len(t, pm.Attachments, 1)
	})
	t.Run("OK_SMSBatchNeedsNoLookup", func(t *testing.T) {
		t.Parallel()
		w := setup(t)
		m := w.st.messages[taskID]
		m.BatchID = "no-such-batch"
		m.MessageType = store.ChannelSMS
		w.st.messages[taskID] = m
		pm, err := build(t, w, 11)
		require.NoError(t, err)
		require.Empty(t, pm.Attachments)
	})

	t.Run("NullAttachments", func(t *testing.T) {
		t.Parallel()
		w := setup(t)
		m := w.st.messages[taskID]
		m.Attachments = json.RawMessage(`null`)
		w.st.messages[taskID] = m
		pm, err := build(t, w, 11)
		require.NoError(t, err)
		require.Empty(t, pm.Attachments)
	})

	t.Run("ErrAttachmentsInvalid", func(t *testing.T) {
		t.Parallel()
		w := setup(t)
		m := w.st.messages[taskID]
		m.Attachments = json.RawMessage(`{"filename":`)
		w.st.messages[taskID] = m
		_, err := build(t, w, 11)
		f := requireFailure(t, err, providers.ClassPermanent)
		require.Equal(t, "ATTACHMENT_INVALID", f.Code)
	})
}

func TestCheckStatus(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	req := CheckRequest{TaskID: taskID, AccountID: 11, ProviderMessageID: "p-1", SentAt: now}

	t.Run("NoChecker", func(t *testing.T) {
		t.Parallel()
		w := setup(t)
		res, err := w.acts.CheckStatus(ctx, req)
		require.NoError(t, err)
		require.Equal(t, CheckResult{}, res)
	})

	t.Run("SenderCannotBeBuilt", func(t *testing.T) {
		t.Parallel()
		w := setup(t)
		w.prov.newErr = errors.New("bad config")
		res, err := w.acts.CheckStatus(ctx, req)
		require.NoError(t, err)
		require.False(t, res.Found)
	})

	t.Run("Found", func(t *testing.T) {
		t.Parallel()
		w := setup(t)
		w.prov.checks = true
		w.prov.check.found = true
		w.prov.check.receipt = providers.Receipt{ProviderMessageID: "p-2", Status: providers.ReceiptFailed, Code: "UNDELIV", Description: "unreachable"}

		res, err := w.acts.CheckStatus(ctx, req)
		require.NoError(t, err)
		require.Equal(t, CheckResult{Found: true, ProviderMessageID: "p-2", Status: "failed", Code: "UNDELIV", Description: "unreachable"}, res)
		require.Equal(t, []providers.StatusQuery{{TaskID: taskID, ProviderMessageID: "p-1", Receiver: "+8613800138000", SentAt: now}}, w.prov.statusQueries())
		require.Equal(t, []providerID{{TaskID: taskID, AccountID: 11, ProviderMessageID: "p-2"}}, w.st.recordedIDs())
	})

	t.Run("NotFound", func(t *testing.T) {
		t.Parallel()
		w := setup(t)
		w.prov.checks = true
		res, err := w.acts.CheckStatus(ctx, req)
		require.NoError(t, err)
		require.False(t, res.Found)
		require.Empty(t, w.st.recordedIDs())
	})

	t.Run("ErrChecker", func(t *testing.T) {
		t.Parallel()
		w := setup(t)
		w.prov.checks = true
		w.prov.check.err = errors.New("api down")
		_, err := w.acts.CheckStatus(ctx, req)
		require.ErrorContains(t, err, "api down")
	})
}

func TestCallbackURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, base, kind, token, want string
		id                            int64
	}{
		{"Plain", "https://herald.example", "tencent", "tok", "https://herald.example/callbacks/tencent/7?token=tok", 7},
		{"Escaped", "https://herald.example", "a b/c", "x+y&z=1 %", "https://herald.example/callbacks/a%20b%2Fc/7?token=x%2By%26z%3D1+%25", 7},
		{"BaseWithPath", "https://example.com/herald", "sandbox", "t", "https://example.com/herald/callbacks/sandbox/12?token=t", 12},
		{"BaseTrailingSlash", "https://herald.example/", "tencent", "t", "https://herald.example/callbacks/tencent/7?token=t", 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, CallbackURL(tc.base, tc.kind, tc.id, tc.token))
		})
	}

	w := setup(t)
	require.Equal(t, "https://herald.example/callbacks/fake/11?token=tok", w.acts.callbackURL(&store.ProviderAccount{ID: 11, Kind: "fake", CallbackToken: "tok"}))
}
