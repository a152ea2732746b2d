package workflows_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
	"go.uber.org/zap"

	"github.com/heraldhq/herald/activities"
	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/rules"
	"github.com/heraldhq/herald/workflows"
)

// acts names activity methods for mocks, as the workflow does.
var acts *activities.Activities

// start is the virtual time every test workflow starts at.
var start = time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)

const taskID = "0b6c1b0e-8a5e-4a36-9a53-0d2f5a3c6e11"

// noStore stands in for the store: the tests mock every activity that
// reads or writes it, so any call panics and shows up as a failure.
type noStore struct{ activities.Store }

// sendCall is one execution of the Send activity.
type sendCall struct {
	req activities.SendRequest
	at  time.Time
}

// harness runs SendWorkflow in the test environment with the store-bound
// activities mocked and the real balancer and rule engine.
type harness struct {
	env *testsuite.TestWorkflowEnvironment

	// Set before run; read by the mocks.
	send      func(n int, req activities.SendRequest) (activities.SendResult, error)
	sendDelay time.Duration
	check     func(req activities.CheckRequest) (activities.CheckResult, error)
	planDelay time.Duration
	// planFn, when set, gives the n-th plan load's answer instead of the
	// fixed plan.
	planFn func(n int, now time.Time) activities.Plan

	mu             sync.Mutex
	receiptUpdates int
	updates        []activities.StatusUpdate
	sends          []sendCall
	checks         []sendCheck
	alerts         []activities.AlertRequest
	notify         int
	plans          int
}

type sendCheck struct {
	req activities.CheckRequest
	at  time.Time
}

func setup(t *testing.T, plan activities.Plan) *harness {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	// Failed sends are logged at error level by design; they would bury
	// the test output.
	suite.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := suite.NewTestWorkflowEnvironment()
	env.SetStartTime(start)
	env.RegisterWorkflowWithOptions(workflows.SendWorkflow, workflow.RegisterOptions{Name: workflows.SendWorkflowName})
	// PickAccount and Decide run for real: the balancer's rotation and the
	// default policy are part of what these tests pin down.
	env.RegisterActivity(activities.New(activities.Config{}, noStore{}, providers.NewRegistry(), zap.NewNop(),
		activities.WithClock(func() time.Time { return start })))

	h := &harness{
		env: env,
		send: func(n int, _ activities.SendRequest) (activities.SendResult, error) {
			return activities.SendResult{ProviderMessageID: pmID(n)}, nil
		},
		check: func(activities.CheckRequest) (activities.CheckResult, error) { return activities.CheckResult{}, nil },
	}
	env.OnActivity(acts.LoadPlan, mock.Anything, mock.Anything).
		AfterFn(func() time.Duration { return h.planDelay }).
		Return(func(_ context.Context, in activities.PlanInput) (activities.Plan, error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.plans++
			if h.planFn != nil {
				return h.planFn(h.plans, env.Now()), nil
			}
			return plan, nil
		})
	env.OnActivity(acts.RecordStatus, mock.Anything, mock.Anything).
		Return(func(_ context.Context, u activities.StatusUpdate) error {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.updates = append(h.updates, u)
			return nil
		})
	env.OnActivity(acts.Send, mock.Anything, mock.Anything).
		AfterFn(func() time.Duration { return h.sendDelay }).
		Return(func(_ context.Context, req activities.SendRequest) (activities.SendResult, error) {
			// Like the real activity: the start update is written first,
			// the acceptance update only when the provider accepts.
			h.mu.Lock()
			h.sends = append(h.sends, sendCall{req: req, at: env.Now()})
			n := len(h.sends)
			if req.OnStart != nil {
				h.updates = append(h.updates, *req.OnStart)
			}
			h.mu.Unlock()
			res, err := h.send(n, req)
			if err == nil && req.OnAccepted != nil && !res.Applied {
				u := *req.OnAccepted
				u.TaskID, u.ProviderMessageID = req.TaskID, res.ProviderMessageID
				h.mu.Lock()
				h.updates = append(h.updates, u)
				h.mu.Unlock()
				res.Applied = true
			}
			return res, err
		})
	env.OnActivity(acts.CheckStatus, mock.Anything, mock.Anything).
		Return(func(_ context.Context, req activities.CheckRequest) (activities.CheckResult, error) {
			h.mu.Lock()
			h.checks = append(h.checks, sendCheck{req: req, at: env.Now()})
			h.mu.Unlock()
			return h.check(req)
		})
	env.OnActivity(acts.Alert, mock.Anything, mock.Anything).
		Return(func(_ context.Context, req activities.AlertRequest) error {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.alerts = append(h.alerts, req)
			return nil
		})
	env.OnActivity(acts.NotifyStatus, mock.Anything, mock.Anything).
		Return(func(_ context.Context, req activities.NotifyRequest) error {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.notify++
			return nil
		})
	return h
}

// run executes the workflow and returns its result.
func (h *harness) run(t *testing.T, in workflows.SendInput) workflows.SendResult {
	t.Helper()
	h.env.ExecuteWorkflow(workflows.SendWorkflowName, in)
	require.True(t, h.env.IsWorkflowCompleted())
	require.NoError(t, h.env.GetWorkflowError())
	var res workflows.SendResult
	require.NoError(t, h.env.GetWorkflowResult(&res))
	h.requireSeqs(t)
	return res
}

// after calls fn at start+d on the workflow clock.
func (h *harness) after(d time.Duration, fn func()) { h.env.RegisterDelayedCallback(fn, d) }

// receipt delivers a receipt at start+d, as the API does: an update.
func (h *harness) receipt(d time.Duration, r workflows.Receipt) {
	h.after(d, func() { h.receiptNow(r) })
}

// receiptNow delivers a receipt through ReceiptUpdate now; the workflow
// must take it.
func (h *harness) receiptNow(r workflows.Receipt) {
	h.mu.Lock()
	h.receiptUpdates++
	id := fmt.Sprintf("receipt-%d", h.receiptUpdates)
	h.mu.Unlock()
	h.env.UpdateWorkflow(workflows.ReceiptUpdate, id, &testsuite.TestUpdateCallback{
		OnReject:   func(err error) { panic(fmt.Sprintf("receipt update %s rejected: %v", id, err)) },
		OnAccept:   func() {},
		OnComplete: func(any, error) {},
	}, r)
}

// statuses lists the status changes written, in order.
func (h *harness) statuses() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, u := range h.updates {
		if u.Status != "" {
			out = append(out, u.Status)
		}
	}
	return out
}

// written is one timeline event with the update that wrote it: events
// noted without a write of their own travel with the next update.
type written struct {
	activities.StatusUpdate
	Event activities.Event
}

// timeline lists the events written, in order, across all updates.
func (h *harness) timeline() []written {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []written
	seen := map[int]bool{}
	for _, u := range h.updates {
		for _, e := range u.Events {
			// The store keeps the first write of a (task, seq): a re-run
			// activity writing the same event again changes nothing.
			if seen[e.Seq] {
				continue
			}
			seen[e.Seq] = true
			out = append(out, written{StatusUpdate: u, Event: e})
		}
	}
	return out
}

// kinds lists the timeline events written, in order.
func (h *harness) kinds() []string {
	var out []string
	for _, w := range h.timeline() {
		out = append(out, w.Event.Kind)
	}
	return out
}

// event returns the last written event of kind with its update.
func (h *harness) event(t *testing.T, kind string) written {
	t.Helper()
	tl := h.timeline()
	for i := len(tl) - 1; i >= 0; i-- {
		if tl[i].Event.Kind == kind {
			return tl[i]
		}
	}
	require.Failf(t, "no such event", "no %s event", kind)
	return written{}
}

// updateKinds lists the event kinds of every RecordStatus call, one
// entry per call.
func (h *harness) updateKinds() [][]string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := [][]string{}
	for _, u := range h.updates {
		kinds := []string{}
		for _, e := range u.Events {
			kinds = append(kinds, e.Kind)
		}
		out = append(out, kinds)
	}
	return out
}

// requireSeqs checks every update names the task and carries at least one
// event, and that the events are numbered one after the other across
// updates, which keeps re-run local activities idempotent.
func (h *harness) requireSeqs(t *testing.T) {
	t.Helper()
	h.mu.Lock()
	updates := append([]activities.StatusUpdate(nil), h.updates...)
	h.mu.Unlock()
	for i, u := range updates {
		require.Equal(t, taskID, u.TaskID)
		require.NotEmpty(t, u.Events, "update %d writes no event", i)
	}
	for i, w := range h.timeline() {
		require.Equal(t, i+1, w.Event.Seq, "event %d (%s)", i, w.Event.Kind)
	}
}

// sendAccounts lists the account of every Send, in order.
func (h *harness) sendAccounts() []int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := []int64{}
	for _, s := range h.sends {
		out = append(out, s.req.AccountID)
	}
	return out
}

// sendOffsets lists when each Send ran, relative to start.
func (h *harness) sendOffsets() []time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := []time.Duration{}
	for _, s := range h.sends {
		out = append(out, s.at.Sub(start))
	}
	return out
}

func (h *harness) sendAttempts() []int {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := []int{}
	for _, s := range h.sends {
		out = append(out, s.req.Attempt)
	}
	return out
}

func (h *harness) counts() (checks, alerts, notify, plans int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.checks), len(h.alerts), h.notify, h.plans
}

func pmID(n int) string { return "pm-" + strconv.Itoa(n) }

// sms is an SMS account that reports delivery receipts.
func sms(id int64) activities.PlanAccount {
	return activities.PlanAccount{ID: id, Kind: "tencent", Weight: 1, Enabled: true, ExpectsReceipt: true}
}

// hook is a webhook account: acceptance is delivery.
func hook(id int64) activities.PlanAccount {
	return activities.PlanAccount{ID: id, Kind: "webhook", Weight: 1, Enabled: true}
}

func newPlan(accounts ...activities.PlanAccount) activities.Plan {
	return activities.Plan{
		AppID:          "app-1",
		ChannelType:    "sms",
		ReceiptTimeout: 10 * time.Minute,
		MaxAttempts:    activities.DefaultMaxAttempts,
		Accounts:       accounts,
		MessageStatus:  workflows.StatusPending,
	}
}

func input() workflows.SendInput {
	return workflows.SendInput{TaskID: taskID, AppID: "app-1", ChannelID: 3}
}

// providerErr is a Send failure as the activity reports it.
func providerErr(class providers.Class, code, msg string, retryAfter time.Duration) error {
	f := activities.Failure{Class: class, Code: code, Message: msg, RetryAfterSeconds: int(retryAfter / time.Second)}
	return temporal.NewApplicationErrorWithOptions(string(class)+": "+code+": "+msg, activities.ProviderErrorType+string(class),
		temporal.ApplicationErrorOptions{NonRetryable: true, Details: []any{f}})
}

func delivered(account int64, pm string) workflows.Receipt {
	return workflows.Receipt{AccountID: account, ProviderMessageID: pm, Status: workflows.CallbackDelivered, At: start}
}

func failedReceipt(account int64, pm, code string) workflows.Receipt {
	return workflows.Receipt{AccountID: account, ProviderMessageID: pm, Status: workflows.CallbackFailed, Code: code, Description: "user unreachable", At: start}
}

func TestSendWorkflow(t *testing.T) {
	t.Parallel()

	t.Run("Delivered", func(t *testing.T) {
		t.Parallel()
		plan := newPlan(sms(1))
		plan.NotifyStatus = true
		h := setup(t, plan)
		h.receipt(time.Minute, delivered(1, "pm-1"))

		res := h.run(t, input())
		require.Equal(t, workflows.SendResult{Status: workflows.StatusSuccess, CallbackStatus: workflows.CallbackDelivered, Attempts: 1}, res)
		require.Equal(t, []string{workflows.StatusProcessing, workflows.StatusSent, workflows.StatusSuccess}, h.statuses())
		require.Equal(t, []string{workflows.EventAttempt, workflows.EventAccepted, workflows.EventReceipt, workflows.EventFinished}, h.kinds())
		require.Equal(t, []int64{1}, h.sendAccounts())
		require.Equal(t, []int{1}, h.sendAttempts())

		sent := h.event(t, workflows.EventAccepted)
		require.Equal(t, int64(1), sent.AccountID)
		require.Equal(t, "pm-1", sent.ProviderMessageID)
		fin := h.event(t, workflows.EventFinished)
		require.True(t, fin.Final)
		require.Equal(t, workflows.CallbackDelivered, fin.CallbackStatus)
		require.Empty(t, fin.LastError)
		require.Equal(t, 1, h.event(t, workflows.EventAttempt).Attempts)

		_, alerts, notify, _ := h.counts()
		require.Equal(t, 1, notify, "the app asked for status callbacks")
		require.Zero(t, alerts)
		require.Equal(t, time.Minute, h.env.Now().Sub(start))
	})

	t.Run("SendActivityWritesAcceptance", func(t *testing.T) {
		t.Parallel()
		// The send activity stores "sent" with the provider's id, so the
		// workflow does not record it again.
		h := setup(t, newPlan(sms(1)))
		h.send = func(_ int, req activities.SendRequest) (activities.SendResult, error) {
			require.NotNil(t, req.OnAccepted)
			require.Equal(t, workflows.StatusSent, req.OnAccepted.Status)
			u := *req.OnAccepted
			u.TaskID, u.LastError = req.TaskID, "written by send" // marks where it came from
			h.mu.Lock()
			h.updates = append(h.updates, u)
			h.mu.Unlock()
			return activities.SendResult{ProviderMessageID: "pm-1", Applied: true}, nil
		}
		h.receipt(time.Minute, delivered(1, "pm-1"))

		res := h.run(t, input())
		require.Equal(t, workflows.StatusSuccess, res.Status)
		require.Equal(t, [][]string{
			{workflows.EventAttempt},
			{workflows.EventAccepted},
			{workflows.EventReceipt, workflows.EventFinished},
		}, h.updateKinds())
		h.mu.Lock()
		defer h.mu.Unlock()
		require.Len(t, h.updates, 3, "only attempt and final go through RecordStatus")
		require.Equal(t, "written by send", h.updates[1].LastError)
	})

	t.Run("DeliveredWritesReceiptWithFinish", func(t *testing.T) {
		t.Parallel()
		// The delivered receipt needs no write of its own: it is stored
		// with the final status, so a delivered send takes three writes.
		h := setup(t, newPlan(sms(1)))
		h.receipt(time.Minute, delivered(1, "pm-1"))

		res := h.run(t, input())
		require.Equal(t, workflows.StatusSuccess, res.Status)
		require.Equal(t, [][]string{
			{workflows.EventAttempt},
			{workflows.EventAccepted},
			{workflows.EventReceipt, workflows.EventFinished},
		}, h.updateKinds())

		h.mu.Lock()
		updates := append([]activities.StatusUpdate(nil), h.updates...)
		h.mu.Unlock()
		require.Len(t, updates, 3)
		require.Equal(t, workflows.StatusProcessing, updates[0].Status)
		require.False(t, updates[0].Final)
		require.Equal(t, workflows.StatusSent, updates[1].Status)
		require.False(t, updates[1].Final)
		require.Equal(t, activities.StatusUpdate{
			TaskID: taskID, Status: workflows.StatusSuccess, CallbackStatus: workflows.CallbackDelivered, Final: true,
			Events: []activities.Event{
				{Seq: 3, Status: workflows.StatusSent, Kind: workflows.EventReceipt, AccountID: 1, Detail: "receipt: delivered"},
				{Seq: 4, Status: workflows.StatusSuccess, Kind: workflows.EventFinished, Detail: "receipt: delivered"},
			},
		}, updates[2])

		// The written events are the queryable timeline.
		v, err := h.env.QueryWorkflow(workflows.StateQuery)
		require.NoError(t, err)
		var state workflows.State
		require.NoError(t, v.Get(&state))
		var stored []workflows.TimelineEntry
		for _, w := range h.timeline() {
			e := w.Event
			stored = append(stored, workflows.TimelineEntry{Seq: e.Seq, Kind: e.Kind, Status: e.Status, AccountID: e.AccountID, Code: e.Code, Detail: e.Detail})
		}
		for i := range state.Timeline {
			state.Timeline[i].At = time.Time{}
		}
		require.Equal(t, stored, state.Timeline)
	})

	t.Run("FailedReceiptSwitchesAccount", func(t *testing.T) {
		t.Parallel()
		h := setup(t, newPlan(sms(1), sms(2)))
		h.receipt(time.Minute, failedReceipt(1, "pm-1", "UNDELIV"))
		h.receipt(2*time.Minute, delivered(2, "pm-2"))

		res := h.run(t, input())
		require.Equal(t, workflows.StatusSuccess, res.Status)
		require.Equal(t, workflows.CallbackDelivered, res.CallbackStatus)
		require.Equal(t, 2, res.Attempts)
		require.Empty(t, res.LastError)
		require.Equal(t, []int64{1, 2}, h.sendAccounts())
		require.Equal(t, []int{1, 2}, h.sendAttempts())
		require.Equal(t, []string{
			workflows.StatusProcessing, workflows.StatusSent, workflows.StatusProcessing, workflows.StatusSent, workflows.StatusSuccess,
		}, h.statuses())
		require.Equal(t, []string{
			workflows.EventAttempt, workflows.EventAccepted, workflows.EventReceipt, workflows.EventDecision,
			workflows.EventAttempt, workflows.EventAccepted, workflows.EventReceipt, workflows.EventFinished,
		}, h.kinds())

		firstReceipt := h.timeline()[2]
		require.Equal(t, workflows.EventReceipt, firstReceipt.Event.Kind)
		require.Equal(t, workflows.CallbackFailed, firstReceipt.CallbackStatus)
		require.Equal(t, "UNDELIV", firstReceipt.Event.Code)
		decision := h.event(t, workflows.EventDecision)
		require.Equal(t, rules.DefaultRuleName, decision.Event.Code)
		require.Contains(t, decision.Event.Detail, string(rules.ActionSwitch))
		require.Contains(t, decision.LastError, "receipt_failed")
	})

	t.Run("FailedReceiptNoAccountLeft", func(t *testing.T) {
		t.Parallel()
		h := setup(t, newPlan(sms(1)))
		h.receipt(time.Minute, failedReceipt(1, "pm-1", "UNDELIV"))

		res := h.run(t, input())
		require.Equal(t, workflows.StatusFailed, res.Status)
		require.Equal(t, workflows.CallbackFailed, res.CallbackStatus)
		require.Equal(t, 1, res.Attempts)
		require.Contains(t, res.LastError, "UNDELIV")
		require.Equal(t, []int64{1}, h.sendAccounts())
		fin := h.event(t, workflows.EventFinished)
		require.Equal(t, workflows.CallbackFailed, fin.CallbackStatus)
		require.Equal(t, "UNDELIV", fin.Event.Code)
	})

	t.Run("ReceiptTimeoutFailsWithoutResend", func(t *testing.T) {
		t.Parallel()
		// A second account is available, and still the message is not sent
		// again: without a receipt it may have been delivered.
		h := setup(t, newPlan(sms(1), sms(2)))

		res := h.run(t, input())
		require.Equal(t, workflows.StatusFailed, res.Status)
		require.Empty(t, res.CallbackStatus)
		require.Equal(t, 1, res.Attempts)
		require.Contains(t, res.LastError, workflows.CodeReceiptTimeout)
		require.Equal(t, []int64{1}, h.sendAccounts())
		require.Equal(t, []string{workflows.StatusProcessing, workflows.StatusSent, workflows.StatusFailed}, h.statuses())
		require.Equal(t, []string{
			workflows.EventAttempt, workflows.EventAccepted, workflows.EventReceiptTimeout, workflows.EventDecision, workflows.EventFinished,
		}, h.kinds())
		require.Equal(t, workflows.CodeReceiptTimeout, h.event(t, workflows.EventFinished).Event.Code)
		require.Equal(t, 10*time.Minute, h.env.Now().Sub(start))
		checks, _, _, _ := h.counts()
		require.Zero(t, checks, "the provider cannot be asked")
	})

	t.Run("ReceiptTimeoutResolvedByStatusCheck", func(t *testing.T) {
		t.Parallel()
		acc := sms(1)
		acc.CanCheckStatus = true
		h := setup(t, newPlan(acc))
		h.check = func(req activities.CheckRequest) (activities.CheckResult, error) {
			return activities.CheckResult{Found: true, ProviderMessageID: req.ProviderMessageID, Status: workflows.CallbackDelivered}, nil
		}

		res := h.run(t, input())
		require.Equal(t, workflows.SendResult{Status: workflows.StatusSuccess, CallbackStatus: workflows.CallbackDelivered, Attempts: 1}, res)
		require.Equal(t, []int64{1}, h.sendAccounts())
		require.Equal(t, []string{
			workflows.EventAttempt, workflows.EventAccepted, workflows.EventReconciled, workflows.EventReceipt, workflows.EventFinished,
		}, h.kinds())
		h.mu.Lock()
		require.Len(t, h.checks, 1)
		require.Equal(t, activities.CheckRequest{TaskID: taskID, AccountID: 1, ProviderMessageID: "pm-1", SentAt: start}, h.checks[0].req)
		require.Equal(t, 10*time.Minute, h.checks[0].at.Sub(start))
		h.mu.Unlock()
	})

	t.Run("PermanentErrorFailsAtOnce", func(t *testing.T) {
		t.Parallel()
		h := setup(t, newPlan(sms(1), sms(2)))
		h.send = func(int, activities.SendRequest) (activities.SendResult, error) {
			return activities.SendResult{}, providerErr(providers.ClassPermanent, "InvalidParameterValue.IncorrectPhoneNumber", "bad number", 0)
		}

		res := h.run(t, input())
		require.Equal(t, workflows.StatusFailed, res.Status)
		require.Equal(t, 1, res.Attempts)
		require.Equal(t, "permanent: InvalidParameterValue.IncorrectPhoneNumber: bad number", res.LastError)
		require.Equal(t, []int64{1}, h.sendAccounts())
		require.Equal(t, []string{workflows.StatusProcessing, workflows.StatusFailed}, h.statuses())
		require.Equal(t, []string{workflows.EventAttempt, workflows.EventSendFailed, workflows.EventDecision, workflows.EventFinished}, h.kinds())
		require.Equal(t, "InvalidParameterValue.IncorrectPhoneNumber", h.event(t, workflows.EventFinished).Event.Code)
		require.Equal(t, time.Duration(0), h.env.Now().Sub(start))
	})

	t.Run("TransientRetriedWithBackoff", func(t *testing.T) {
		t.Parallel()
		h := setup(t, newPlan(hook(1), hook(2)))
		h.send = func(n int, _ activities.SendRequest) (activities.SendResult, error) {
			if n < 3 {
				return activities.SendResult{}, providerErr(providers.ClassTransient, "HTTP_503", "endpoint answered 503", 0)
			}
			return activities.SendResult{Delivered: true}, nil
		}

		res := h.run(t, input())
		require.Equal(t, workflows.SendResult{Status: workflows.StatusSuccess, CallbackStatus: workflows.CallbackDelivered, Attempts: 3}, res)
		require.Equal(t, []int64{1, 1, 1}, h.sendAccounts(), "retries stay on the same account")
		require.Equal(t, []int{1, 2, 3}, h.sendAttempts())
		require.Equal(t, []time.Duration{0, time.Second, 3 * time.Second}, h.sendOffsets(), "default backoff 1s, then 2s")
		require.Equal(t, []string{
			workflows.EventAttempt, workflows.EventSendFailed, workflows.EventDecision,
			workflows.EventAttempt, workflows.EventSendFailed, workflows.EventDecision,
			workflows.EventAttempt, workflows.EventFinished,
		}, h.kinds())
		require.Equal(t, []string{
			workflows.StatusProcessing, workflows.StatusProcessing, workflows.StatusProcessing, workflows.StatusSuccess,
		}, h.statuses())
	})

	t.Run("ThrottledHonoursRetryAfter", func(t *testing.T) {
		t.Parallel()
		h := setup(t, newPlan(hook(1)))
		h.send = func(n int, _ activities.SendRequest) (activities.SendResult, error) {
			if n == 1 {
				return activities.SendResult{}, providerErr(providers.ClassThrottled, "HTTP_429", "slow down", 30*time.Second)
			}
			return activities.SendResult{Delivered: true}, nil
		}

		res := h.run(t, input())
		require.Equal(t, workflows.StatusSuccess, res.Status)
		require.Equal(t, []time.Duration{0, 30 * time.Second}, h.sendOffsets())
	})

	t.Run("ThrottlingDefersWithoutDropping", func(t *testing.T) {
		t.Parallel()
		// A robot blocked for ten minutes, seven times over, on a pool of
		// one with an attempt cap of five: the message waits and goes out.
		plan := newPlan(hook(1))
		plan.MaxAttempts = 5
		h := setup(t, plan)
		h.send = func(n int, _ activities.SendRequest) (activities.SendResult, error) {
			if n <= 7 {
				return activities.SendResult{}, providerErr(providers.ClassThrottled, "130101", "send too fast", 10*time.Minute)
			}
			return activities.SendResult{Delivered: true}, nil
		}

		res := h.run(t, input())
		require.Equal(t, workflows.StatusSuccess, res.Status)
		require.Equal(t, 8, res.Attempts)
		offsets := h.sendOffsets()
		require.Len(t, offsets, 8)
		for i := 1; i < len(offsets); i++ {
			require.GreaterOrEqual(t, offsets[i]-offsets[i-1], 10*time.Minute, "never sooner than the provider asks")
		}
	})

	t.Run("AccountErrorSwitchesAndAlerts", func(t *testing.T) {
		t.Parallel()
		h := setup(t, newPlan(sms(1), hook(2)))
		h.send = func(n int, _ activities.SendRequest) (activities.SendResult, error) {
			if n == 1 {
				return activities.SendResult{}, providerErr(providers.ClassAccount, "FailedOperation.InsufficientBalanceInSmsPackage", "no balance", 0)
			}
			return activities.SendResult{Delivered: true, ProviderMessageID: "wh-1"}, nil
		}

		res := h.run(t, input())
		require.Equal(t, workflows.SendResult{Status: workflows.StatusSuccess, CallbackStatus: workflows.CallbackDelivered, Attempts: 2}, res)
		require.Equal(t, []int64{1, 2}, h.sendAccounts())
		require.Equal(t, []string{
			workflows.EventAttempt, workflows.EventSendFailed, workflows.EventAlert, workflows.EventDecision,
			workflows.EventAttempt, workflows.EventFinished,
		}, h.kinds())
		h.mu.Lock()
		require.Equal(t, []activities.AlertRequest{{
			TaskID: taskID, AppID: "app-1", ChannelID: 3, AccountID: 1, ProviderKind: "tencent",
			Rule: rules.DefaultRuleName, Class: string(providers.ClassAccount), Code: "FailedOperation.InsufficientBalanceInSmsPackage",
			Message: "no balance", Decision: string(rules.ActionSwitch),
		}}, h.alerts)
		h.mu.Unlock()
		require.Equal(t, "alert sent (default)", h.event(t, workflows.EventAlert).Event.Detail)
	})

	t.Run("ScheduledThenCancelled", func(t *testing.T) {
		t.Parallel()
		h := setup(t, newPlan(sms(1)))
		var (
			rejected  error
			completed any
		)
		h.after(10*time.Minute, func() {
			h.env.UpdateWorkflow(workflows.CancelUpdate, "cancel-1", &testsuite.TestUpdateCallback{
				OnAccept:   func() {},
				OnReject:   func(err error) { rejected = err },
				OnComplete: func(v any, err error) { completed = v; rejected = err },
			})
		})
		in := input()
		in.ScheduledAt = start.Add(time.Hour)

		res := h.run(t, in)
		require.NoError(t, rejected)
		require.Equal(t, workflows.StatusCancelled, completed)
		require.Equal(t, workflows.SendResult{Status: workflows.StatusCancelled, LastError: "cancelled before its scheduled time"}, res)
		require.Empty(t, h.sendAccounts())
		require.Equal(t, []string{workflows.StatusPending, workflows.StatusCancelled}, h.statuses())
		require.Equal(t, []string{workflows.EventScheduled, workflows.EventFinished}, h.kinds())
		require.Equal(t, 10*time.Minute, h.env.Now().Sub(start), "the workflow ends when cancelled, not at the scheduled time")
		_, _, _, plans := h.counts()
		require.Zero(t, plans)
	})

	t.Run("ScheduledThenWorkflowCancelled", func(t *testing.T) {
		t.Parallel()
		// Cancelling the workflow itself (from the Web UI) also ends a
		// scheduled message cleanly, with its final status recorded.
		h := setup(t, newPlan(sms(1)))
		h.after(10*time.Minute, h.env.CancelWorkflow)
		in := input()
		in.ScheduledAt = start.Add(time.Hour)

		res := h.run(t, in)
		require.Equal(t, workflows.StatusCancelled, res.Status)
		require.Empty(t, h.sendAccounts())
		require.Equal(t, []string{workflows.StatusPending, workflows.StatusCancelled}, h.statuses())
		require.True(t, h.event(t, workflows.EventFinished).Final)
	})

	t.Run("ScheduledSendsAtItsTime", func(t *testing.T) {
		t.Parallel()
		h := setup(t, newPlan(hook(1)))
		h.send = func(int, activities.SendRequest) (activities.SendResult, error) {
			return activities.SendResult{Delivered: true}, nil
		}
		in := input()
		in.ScheduledAt = start.Add(time.Hour)

		res := h.run(t, in)
		require.Equal(t, workflows.StatusSuccess, res.Status)
		require.Equal(t, []time.Duration{time.Hour}, h.sendOffsets())
		require.Equal(t, []string{workflows.EventScheduled, workflows.EventAttempt, workflows.EventFinished}, h.kinds())
		require.Equal(t, "waiting until 2025-03-01T10:00:00Z", h.event(t, workflows.EventScheduled).Event.Detail)
	})

	t.Run("CancelRejectedWhileSending", func(t *testing.T) {
		t.Parallel()
		h := setup(t, newPlan(hook(1)))
		h.sendDelay = 5 * time.Second
		h.send = func(int, activities.SendRequest) (activities.SendResult, error) {
			return activities.SendResult{Delivered: true}, nil
		}
		var rejected error
		accepted := false
		h.after(2*time.Second, func() {
			h.env.UpdateWorkflow(workflows.CancelUpdate, "cancel-1", &testsuite.TestUpdateCallback{
				OnAccept:   func() { accepted = true },
				OnReject:   func(err error) { rejected = err },
				OnComplete: func(any, error) {},
			})
		})

		res := h.run(t, input())
		require.False(t, accepted)
		require.Error(t, rejected)
		require.Contains(t, rejected.Error(), workflows.ErrNotCancellable.Error())
		require.Equal(t, workflows.StatusSuccess, res.Status)
		require.Equal(t, []int64{1}, h.sendAccounts())
	})

	t.Run("CancelRejectedOnceScheduledTimeCame", func(t *testing.T) {
		t.Parallel()
		// The plan is still loading when the cancel arrives: the status
		// is still pending, but the send is under way and must not be
		// reported as cancelled.
		h := setup(t, newPlan(hook(1)))
		h.planDelay = 5 * time.Second
		h.send = func(int, activities.SendRequest) (activities.SendResult, error) {
			return activities.SendResult{Delivered: true}, nil
		}
		var rejected error
		accepted := false
		h.after(time.Hour+2*time.Second, func() {
			h.env.UpdateWorkflow(workflows.CancelUpdate, "cancel-1", &testsuite.TestUpdateCallback{
				OnAccept:   func() { accepted = true },
				OnReject:   func(err error) { rejected = err },
				OnComplete: func(any, error) {},
			})
		})
		in := input()
		in.ScheduledAt = start.Add(time.Hour)

		res := h.run(t, in)
		require.False(t, accepted)
		require.ErrorContains(t, rejected, workflows.ErrNotCancellable.Error())
		require.Equal(t, workflows.StatusSuccess, res.Status)
		require.Equal(t, []int64{1}, h.sendAccounts())
	})

	t.Run("UnknownOutcomePendingAtTheProvider", func(t *testing.T) {
		t.Parallel()
		// Aliyun answers "taken, no receipt yet" without its message id:
		// the message waits for its receipt and is never sent again.
		acc := sms(1)
		acc.CanCheckStatus = true
		h := setup(t, newPlan(acc, sms(2)))
		h.send = func(int, activities.SendRequest) (activities.SendResult, error) {
			return activities.SendResult{}, providerErr(providers.ClassUnknownOutcome, "TIMEOUT", "no answer after the request was sent", 0)
		}
		h.check = func(activities.CheckRequest) (activities.CheckResult, error) {
			return activities.CheckResult{Found: true, Status: string(providers.ReceiptPending)}, nil
		}
		h.receipt(time.Minute, delivered(1, ""))

		res := h.run(t, input())
		require.Equal(t, workflows.StatusSuccess, res.Status)
		require.Equal(t, []int64{1}, h.sendAccounts(), "never sent twice")
	})

	t.Run("UnknownOutcomeReconciled", func(t *testing.T) {
		t.Parallel()
		acc := sms(1)
		acc.CanCheckStatus = true
		h := setup(t, newPlan(acc, sms(2)))
		h.send = func(int, activities.SendRequest) (activities.SendResult, error) {
			return activities.SendResult{}, providerErr(providers.ClassUnknownOutcome, "TIMEOUT", "no answer after the request was sent", 0)
		}
		h.check = func(activities.CheckRequest) (activities.CheckResult, error) {
			// The provider has the message but no final status yet.
			return activities.CheckResult{Found: true, ProviderMessageID: "pm-9"}, nil
		}
		h.receipt(time.Minute, delivered(1, "pm-9"))

		res := h.run(t, input())
		require.Equal(t, workflows.SendResult{Status: workflows.StatusSuccess, CallbackStatus: workflows.CallbackDelivered, Attempts: 1}, res)
		require.Equal(t, []int64{1}, h.sendAccounts(), "never sent twice")
		require.Equal(t, []string{
			workflows.EventAttempt, workflows.EventUnknownOutcome, workflows.EventReconciled,
			workflows.EventAccepted, workflows.EventReceipt, workflows.EventFinished,
		}, h.kinds())
		require.Equal(t, "pm-9", h.event(t, workflows.EventReconciled).ProviderMessageID)
		require.Equal(t, "pm-9", h.event(t, workflows.EventAccepted).ProviderMessageID)
		h.mu.Lock()
		require.Len(t, h.checks, 1)
		require.Equal(t, activities.CheckRequest{TaskID: taskID, AccountID: 1, SentAt: start}, h.checks[0].req)
		require.Equal(t, 5*time.Second, h.checks[0].at.Sub(start), "the provider gets time to record the send")
		h.mu.Unlock()
	})

	t.Run("UnknownOutcomeDeliveredPerStatusCheck", func(t *testing.T) {
		t.Parallel()
		acc := sms(1)
		acc.CanCheckStatus = true
		h := setup(t, newPlan(acc))
		h.send = func(int, activities.SendRequest) (activities.SendResult, error) {
			return activities.SendResult{}, providerErr(providers.ClassUnknownOutcome, "TIMEOUT", "no answer", 0)
		}
		h.check = func(activities.CheckRequest) (activities.CheckResult, error) {
			return activities.CheckResult{Found: true, ProviderMessageID: "pm-9", Status: workflows.CallbackDelivered}, nil
		}

		res := h.run(t, input())
		require.Equal(t, workflows.SendResult{Status: workflows.StatusSuccess, CallbackStatus: workflows.CallbackDelivered, Attempts: 1}, res)
		require.Equal(t, []int64{1}, h.sendAccounts())
		require.Equal(t, []string{
			workflows.EventAttempt, workflows.EventUnknownOutcome, workflows.EventReconciled, workflows.EventReceipt, workflows.EventFinished,
		}, h.kinds())
	})

	t.Run("UnknownOutcomeNotFoundSendsAgain", func(t *testing.T) {
		t.Parallel()
		acc := sms(1)
		acc.CanCheckStatus = true
		h := setup(t, newPlan(acc))
		h.send = func(n int, _ activities.SendRequest) (activities.SendResult, error) {
			if n == 1 {
				return activities.SendResult{}, providerErr(providers.ClassUnknownOutcome, "TIMEOUT", "no answer", 0)
			}
			return activities.SendResult{ProviderMessageID: pmID(n)}, nil
		}
		h.receipt(time.Minute, delivered(1, "pm-2"))

		res := h.run(t, input())
		require.Equal(t, workflows.StatusSuccess, res.Status)
		require.Equal(t, 2, res.Attempts)
		// The provider has no record after 5s; the default policy retries
		// after 1s more.
		require.Equal(t, []time.Duration{0, 6 * time.Second}, h.sendOffsets())
		checks, _, _, _ := h.counts()
		require.Equal(t, 1, checks)
	})

	t.Run("UnknownOutcomeRetryKeepsIdempotencyKey", func(t *testing.T) {
		t.Parallel()
		// A provider that cannot be asked (a webhook) gets the retry under
		// the same attempt key, so it can recognise the repeat.
		h := setup(t, newPlan(hook(1)))
		h.send = func(n int, _ activities.SendRequest) (activities.SendResult, error) {
			if n == 1 {
				return activities.SendResult{}, providerErr(providers.ClassUnknownOutcome, "TIMEOUT", "no answer", 0)
			}
			return activities.SendResult{Delivered: true}, nil
		}

		res := h.run(t, input())
		require.Equal(t, workflows.StatusSuccess, res.Status)
		require.Equal(t, 2, res.Attempts)
		require.Equal(t, []int{1, 1}, h.sendAttempts())
	})

	t.Run("RefusedReceiversOnTheTimeline", func(t *testing.T) {
		t.Parallel()
		h := setup(t, newPlan(hook(1)))
		h.send = func(int, activities.SendRequest) (activities.SendResult, error) {
			return activities.SendResult{Delivered: true, InvalidReceivers: []string{"ghost", "party:9"}}, nil
		}

		res := h.run(t, input())
		require.Equal(t, workflows.StatusSuccess, res.Status)
		require.Equal(t, "the provider refused 2 of the receivers: ghost, party:9", h.event(t, workflows.EventReceiversRefused).Event.Detail)
		h.requireSeqs(t)
	})

	t.Run("DeletedChannelFailsWithoutSending", func(t *testing.T) {
		t.Parallel()
		plan := newPlan(sms(1))
		plan.ProblemCode, plan.ProblemDetail = "CHANNEL_NOT_FOUND", "channel 7 no longer exists"
		h := setup(t, plan)

		res := h.run(t, input())
		require.Equal(t, workflows.StatusFailed, res.Status)
		require.Equal(t, "channel 7 no longer exists", res.LastError)
		require.Empty(t, h.sendAccounts())
		require.Equal(t, "CHANNEL_NOT_FOUND", h.event(t, workflows.EventFinished).Event.Code)
	})

	t.Run("ActivityNeverConfirmsWithoutStatusCheck", func(t *testing.T) {
		t.Parallel()
		// An activity that keeps failing without a provider answer is
		// retried by Temporal (5 tries), then the workflow treats the
		// outcome as unknown and leaves the decision to the rules.
		plan := newPlan(hook(1))
		plan.MaxAttempts = 1
		h := setup(t, plan)
		h.send = func(int, activities.SendRequest) (activities.SendResult, error) {
			return activities.SendResult{}, errors.New("store unavailable")
		}

		res := h.run(t, input())
		require.Equal(t, workflows.StatusFailed, res.Status)
		require.Equal(t, 1, res.Attempts)
		require.Contains(t, res.LastError, workflows.CodeSendNotConfirmed)
		require.Len(t, h.sendAccounts(), 5)
		require.Equal(t, []string{workflows.EventAttempt, workflows.EventSendFailed, workflows.EventDecision, workflows.EventFinished}, h.kinds())
	})

	t.Run("ReceiptBeforeSendReturns", func(t *testing.T) {
		t.Parallel()
		h := setup(t, newPlan(sms(1)))
		h.sendDelay = 5 * time.Second
		h.receipt(2*time.Second, delivered(1, "pm-1"))

		res := h.run(t, input())
		require.Equal(t, workflows.SendResult{Status: workflows.StatusSuccess, CallbackStatus: workflows.CallbackDelivered, Attempts: 1}, res)
		require.Equal(t, []string{workflows.EventAttempt, workflows.EventAccepted, workflows.EventReceipt, workflows.EventFinished}, h.kinds())
		require.Equal(t, 5*time.Second, h.env.Now().Sub(start))
	})

	t.Run("ReceiptByUpdateAndSignalCountsOnce", func(t *testing.T) {
		t.Parallel()
		for _, signalFirst := range []bool{true, false} {
			h := setup(t, newPlan(sms(1)))
			r := delivered(1, "pm-1")
			r.DeliveryID = "delivery-1"
			// An update that timed out for the API may still be applied,
			// before or after the signal the API sent instead.
			h.after(time.Minute, func() {
				if signalFirst {
					h.env.SignalWorkflow(workflows.ReceiptSignal, r)
					h.receiptNow(r)
				} else {
					h.receiptNow(r)
					h.env.SignalWorkflow(workflows.ReceiptSignal, r)
				}
			})
			res := h.run(t, input())
			require.Equal(t, workflows.SendResult{Status: workflows.StatusSuccess, CallbackStatus: workflows.CallbackDelivered, Attempts: 1}, res)
			require.Equal(t, []string{workflows.EventAttempt, workflows.EventAccepted, workflows.EventReceipt, workflows.EventFinished}, h.kinds(),
				"signal first: %v; no late receipt", signalFirst)
		}
	})

	t.Run("DeliveredThenFailedNeverRegresses", func(t *testing.T) {
		t.Parallel()
		h := setup(t, newPlan(sms(1), sms(2)))
		h.after(time.Minute, func() {
			h.env.SignalWorkflow(workflows.ReceiptSignal, delivered(1, "pm-1"))
			h.env.SignalWorkflow(workflows.ReceiptSignal, failedReceipt(1, "pm-1", "UNDELIV"))
		})

		res := h.run(t, input())
		require.Equal(t, workflows.SendResult{Status: workflows.StatusSuccess, CallbackStatus: workflows.CallbackDelivered, Attempts: 1}, res)
		require.Equal(t, []int64{1}, h.sendAccounts())
		// The failed receipt is kept on the timeline, after the final
		// state, without changing the status or the callback status.
		require.Equal(t, []string{
			workflows.EventAttempt, workflows.EventAccepted, workflows.EventReceipt, workflows.EventFinished, workflows.EventLateReceipt,
		}, h.kinds())
		require.Equal(t, []string{workflows.StatusProcessing, workflows.StatusSent, workflows.StatusSuccess}, h.statuses())
		late := h.event(t, workflows.EventLateReceipt)
		require.Empty(t, late.Status)
		require.Empty(t, late.CallbackStatus)
		require.Equal(t, "UNDELIV", late.Event.Code)
	})

	t.Run("StaleFailedReceiptIgnored", func(t *testing.T) {
		t.Parallel()
		h := setup(t, newPlan(sms(1), sms(2)))
		h.receipt(time.Minute, failedReceipt(1, "pm-1", "UNDELIV"))
		// The first account's provider repeats its receipt while the
		// second attempt waits.
		h.receipt(2*time.Minute, failedReceipt(1, "pm-1", "UNDELIV"))
		h.receipt(3*time.Minute, delivered(2, "pm-2"))

		res := h.run(t, input())
		require.Equal(t, workflows.SendResult{Status: workflows.StatusSuccess, CallbackStatus: workflows.CallbackDelivered, Attempts: 2}, res)
		require.Equal(t, []int64{1, 2}, h.sendAccounts())
		require.Equal(t, []string{
			workflows.EventAttempt, workflows.EventAccepted, workflows.EventReceipt, workflows.EventDecision,
			workflows.EventAttempt, workflows.EventAccepted, workflows.EventStaleReceipt, workflows.EventReceipt, workflows.EventFinished,
		}, h.kinds())
		require.Equal(t, 3*time.Minute, h.env.Now().Sub(start))
	})

	t.Run("DeliveredReceiptOfEarlierAttemptEnds", func(t *testing.T) {
		t.Parallel()
		// The first account reported failure, then delivery after all:
		// the receiver has the message, so the second attempt stops.
		h := setup(t, newPlan(sms(1), sms(2)))
		h.receipt(time.Minute, failedReceipt(1, "pm-1", "UNDELIV"))
		h.receipt(2*time.Minute, delivered(1, "pm-1"))

		res := h.run(t, input())
		require.Equal(t, workflows.SendResult{Status: workflows.StatusSuccess, CallbackStatus: workflows.CallbackDelivered, Attempts: 2}, res)
		require.Equal(t, []int64{1, 2}, h.sendAccounts())
		require.Equal(t, 2*time.Minute, h.env.Now().Sub(start))
	})

	t.Run("MaxAttemptsReached", func(t *testing.T) {
		t.Parallel()
		plan := newPlan(hook(1), hook(2))
		plan.MaxAttempts = 2
		h := setup(t, plan)
		h.send = func(int, activities.SendRequest) (activities.SendResult, error) {
			return activities.SendResult{}, providerErr(providers.ClassTransient, "HTTP_503", "endpoint answered 503", 0)
		}

		res := h.run(t, input())
		require.Equal(t, workflows.StatusFailed, res.Status)
		require.Equal(t, 2, res.Attempts)
		require.Equal(t, "transient: HTTP_503: endpoint answered 503", res.LastError)
		require.Equal(t, []int64{1, 1}, h.sendAccounts())
		require.Contains(t, h.event(t, workflows.EventDecision).Event.Detail, "limit of 2 attempts")
		require.Equal(t, workflows.StatusFailed, h.statuses()[len(h.statuses())-1])
	})

	t.Run("QueryWhileWaitingForReceipt", func(t *testing.T) {
		t.Parallel()
		h := setup(t, newPlan(sms(1)))
		var (
			live     workflows.State
			queryErr error
		)
		h.after(time.Minute, func() {
			v, err := h.env.QueryWorkflow(workflows.StateQuery)
			if err == nil {
				err = v.Get(&live)
			}
			queryErr = err
		})
		h.receipt(2*time.Minute, delivered(1, "pm-1"))

		res := h.run(t, input())
		require.Equal(t, workflows.StatusSuccess, res.Status)
		require.NoError(t, queryErr)
		require.Equal(t, taskID, live.TaskID)
		require.Equal(t, workflows.StatusSent, live.Status)
		require.Empty(t, live.CallbackStatus)
		require.Equal(t, 1, live.Attempts)
		require.Equal(t, int64(1), live.AccountID)
		require.Equal(t, "tencent", live.ProviderKind)
		require.Equal(t, "pm-1", live.ProviderMessageID)
		require.Len(t, live.Timeline, 2)
		require.Equal(t, workflows.TimelineEntry{
			Seq: 1, At: start, Kind: workflows.EventAttempt, Status: workflows.StatusProcessing, AccountID: 1,
			Detail: "attempt 1 through tencent account 1",
		}, live.Timeline[0])
		require.Equal(t, 2, live.Timeline[1].Seq)
		require.Equal(t, workflows.EventAccepted, live.Timeline[1].Kind)
		require.Equal(t, workflows.StatusSent, live.Timeline[1].Status)

		// After the end the query still answers, with the whole timeline.
		v, err := h.env.QueryWorkflow(workflows.StateQuery)
		require.NoError(t, err)
		var final workflows.State
		require.NoError(t, v.Get(&final))
		require.Equal(t, workflows.StatusSuccess, final.Status)
		require.Equal(t, workflows.CallbackDelivered, final.CallbackStatus)
		require.Len(t, final.Timeline, 4)
	})

	t.Run("PlanRuleOverridesDefault", func(t *testing.T) {
		t.Parallel()
		plan := newPlan(hook(1), hook(2))
		plan.Rules = []rules.Rule{{
			ID: 7, Name: "blocked-endpoint", Scene: rules.SceneSendFailure, ErrorCodes: []string{"HTTP_503"}, Action: rules.ActionFail,
		}}
		h := setup(t, plan)
		h.send = func(int, activities.SendRequest) (activities.SendResult, error) {
			return activities.SendResult{}, providerErr(providers.ClassTransient, "HTTP_503", "endpoint answered 503", 0)
		}

		res := h.run(t, input())
		require.Equal(t, workflows.StatusFailed, res.Status)
		require.Equal(t, 1, res.Attempts, "the default policy would have retried")
		require.Equal(t, []int64{1}, h.sendAccounts())
		decision := h.event(t, workflows.EventDecision)
		require.Equal(t, "blocked-endpoint", decision.Event.Code)
		require.Contains(t, decision.Event.Detail, `Rule "blocked-endpoint" (#7)`)
	})

	t.Run("InvalidRulesOnTimeline", func(t *testing.T) {
		t.Parallel()
		plan := newPlan(hook(1))
		plan.InvalidRules = []string{"rule 4 (x): bad scene"}
		h := setup(t, plan)
		h.send = func(int, activities.SendRequest) (activities.SendResult, error) {
			return activities.SendResult{Delivered: true}, nil
		}

		res := h.run(t, input())
		require.Equal(t, workflows.StatusSuccess, res.Status)
		require.Equal(t, []string{workflows.EventConfig, workflows.EventAttempt, workflows.EventFinished}, h.kinds())
		require.Equal(t, "rule 4 (x): bad scene", h.event(t, workflows.EventConfig).Event.Detail)
	})

	t.Run("NoEnabledAccount", func(t *testing.T) {
		t.Parallel()
		off := sms(1)
		off.Enabled = false
		zero := sms(2)
		zero.Weight = 0
		h := setup(t, newPlan(off, zero))

		res := h.run(t, input())
		require.Equal(t, workflows.StatusFailed, res.Status)
		require.Zero(t, res.Attempts)
		require.Empty(t, h.sendAccounts())
		require.Equal(t, []string{workflows.EventFinished}, h.kinds())
		require.Equal(t, workflows.CodeNoProvider, h.event(t, workflows.EventFinished).Event.Code)
	})

	t.Run("AlreadyFinishedIsNotSentAgain", func(t *testing.T) {
		t.Parallel()
		plan := newPlan(sms(1))
		plan.MessageStatus = workflows.StatusSuccess
		h := setup(t, plan)

		res := h.run(t, input())
		require.Equal(t, workflows.StatusSuccess, res.Status)
		require.Empty(t, h.sendAccounts())
		require.Empty(t, h.kinds())
	})
}

// A message sets its provider and status search attributes once, when it
// is final: each upsert is a write to the server's visibility store.
func TestSearchAttributesOnceAtEnd(t *testing.T) {
	t.Parallel()
	h := setup(t, newPlan(sms(1)))
	var upserts []temporal.SearchAttributes
	h.env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
		upserts = append(upserts, args.Get(0).(temporal.SearchAttributes))
	}).Return(nil)
	h.receipt(time.Minute, delivered(1, "pm-1"))

	res := h.run(t, input())
	require.Equal(t, workflows.StatusSuccess, res.Status)
	require.Len(t, upserts, 1)
	status, _ := upserts[0].GetKeyword(workflows.SearchStatus)
	provider, _ := upserts[0].GetKeyword(workflows.SearchProvider)
	require.Equal(t, workflows.StatusSuccess, status)
	require.Equal(t, sms(1).Kind, provider)
}
