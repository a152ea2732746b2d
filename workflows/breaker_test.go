package workflows_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/heraldhq/herald/activities"
	"github.com/heraldhq/herald/internal/breaker"
	"github.com/heraldhq/herald/workflows"
)

// breakerHarness runs one account's BreakerWorkflow with the publish
// activity recording what it is given.
type breakerHarness struct {
	env *testsuite.TestWorkflowEnvironment
	mu  sync.Mutex
	pub []activities.PublishBreakerRequest
	at  []time.Time
}

var testBreakerConfig = breaker.Config{MinFailures: 3, FailureRatio: 0.5, Window: 10 * time.Second, CoolDown: 5 * time.Second, Probes: 2, CloseAfter: 2}

func setupBreaker(t *testing.T) *breakerHarness {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := suite.NewTestWorkflowEnvironment()
	env.SetStartTime(start)
	env.RegisterWorkflowWithOptions(workflows.BreakerWorkflow, workflow.RegisterOptions{Name: workflows.BreakerWorkflowName})
	h := &breakerHarness{env: env}
	env.OnActivity(acts.PublishBreaker, mock.Anything, mock.Anything).
		Return(func(_ context.Context, req activities.PublishBreakerRequest) (breaker.Config, error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.pub = append(h.pub, req)
			h.at = append(h.at, env.Now())
			return testBreakerConfig, nil
		})
	return h
}

func (h *breakerHarness) signal(after time.Duration, name string, v any) {
	h.env.RegisterDelayedCallback(func() { h.env.SignalWorkflow(name, v) }, after)
}

// transitions lists the published transitions as from→to.
func (h *breakerHarness) transitions() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, p := range h.pub {
		if p.Transition != nil {
			out = append(out, string(p.Transition.From)+"→"+string(p.Transition.To))
		}
	}
	return out
}

func TestBreakerWorkflow(t *testing.T) {
	t.Parallel()

	t.Run("OpensHalfOpensCloses", func(t *testing.T) {
		t.Parallel()
		h := setupBreaker(t)
		fail := workflows.BreakerOutcomes{Counts: breaker.Counts{Failures: 2}}
		// Two failures stay under the minimum; two more open it.
		h.signal(time.Second, workflows.BreakerOutcomesSignal, fail)
		h.signal(2*time.Second, workflows.BreakerOutcomesSignal, fail)
		// After the 5 s cool-down it half-opens by itself; two successes
		// in a row close it.
		h.signal(9*time.Second, workflows.BreakerOutcomesSignal, workflows.BreakerOutcomes{Counts: breaker.Counts{Successes: 1}})
		h.signal(10*time.Second, workflows.BreakerOutcomesSignal, workflows.BreakerOutcomes{Counts: breaker.Counts{Successes: 1}})
		h.env.RegisterDelayedCallback(func() {
			v, err := h.env.QueryWorkflow(workflows.BreakerStateQuery)
			require.NoError(t, err)
			var st workflows.BreakerState
			require.NoError(t, v.Get(&st))
			require.Equal(t, breaker.Closed, st.Breaker.State)
			h.env.CancelWorkflow()
		}, 11*time.Second)
		h.env.ExecuteWorkflow(workflows.BreakerWorkflow, workflows.BreakerInput{AccountID: 7})
		require.Equal(t, []string{"closed→open", "open→half_open", "half_open→closed"}, h.transitions())
		h.mu.Lock()
		defer h.mu.Unlock()
		require.Equal(t, int64(7), h.pub[0].AccountID)
		// The first publish happens at start; the opening at 2 s; the
		// half-opening exactly a cool-down later.
		var openedAt, halfAt time.Time
		for i, p := range h.pub {
			if p.Transition != nil && p.Transition.To == breaker.Open {
				openedAt = h.at[i]
			}
			if p.Transition != nil && p.Transition.To == breaker.HalfOpen {
				halfAt = h.at[i]
			}
		}
		require.Equal(t, 5*time.Second, halfAt.Sub(openedAt))
	})

	t.Run("ForcedStateHoldsUntilAuto", func(t *testing.T) {
		t.Parallel()
		h := setupBreaker(t)
		h.signal(time.Second, workflows.BreakerForceSignal, workflows.BreakerForce{Order: workflows.BreakerForceOpen, Reason: "vendor maintenance", Actor: "cli"})
		h.signal(time.Hour, workflows.BreakerForceSignal, workflows.BreakerForce{Order: workflows.BreakerForceAuto, Reason: "maintenance over", Actor: "cli"})
		h.env.RegisterDelayedCallback(h.env.CancelWorkflow, 2*time.Hour)
		h.env.ExecuteWorkflow(workflows.BreakerWorkflow, workflows.BreakerInput{AccountID: 7})
		// Held open for an hour, far past the cool-down; auto half-opens
		// it, and with no probe outcomes it stays half-open.
		require.Equal(t, []string{"closed→open", "open→half_open"}, h.transitions())
		h.mu.Lock()
		defer h.mu.Unlock()
		require.True(t, h.pub[1].Transition.Forced)
		require.Equal(t, "vendor maintenance", h.pub[1].Transition.Reason)
		require.Equal(t, "cli", h.pub[1].Transition.Actor)
	})

	t.Run("ContinuesAsNewWithItsState", func(t *testing.T) {
		t.Parallel()
		h := setupBreaker(t)
		for i := 1; i <= 4; i++ {
			h.signal(time.Duration(i)*time.Second, workflows.BreakerOutcomesSignal, workflows.BreakerOutcomes{Counts: breaker.Counts{Failures: 1}})
		}
		h.env.ExecuteWorkflow(workflows.BreakerWorkflow, workflows.BreakerInput{AccountID: 7, EventsPerRun: 4})
		err := h.env.GetWorkflowError()
		var can *workflow.ContinueAsNewError
		require.True(t, errors.As(err, &can), "got %v", err)
		var next workflows.BreakerInput
		require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
		require.Equal(t, int64(7), next.AccountID)
		require.NotNil(t, next.Breaker)
		require.Equal(t, breaker.Open, next.Breaker.State, "three failures opened it before the hand-over")
		require.Equal(t, testBreakerConfig.WithDefaults(), next.Config)
	})
}

// openHook is a webhook account kept off by its open breaker.
func openHook(id int64) activities.PlanAccount {
	a := hook(id)
	a.BreakerOpen = true
	return a
}

func TestSendWaitsForOpenBreaker(t *testing.T) {
	t.Parallel()

	t.Run("SentOnceAnAccountHalfOpens", func(t *testing.T) {
		t.Parallel()
		h := setup(t, activities.Plan{})
		h.planFn = func(n int, now time.Time) activities.Plan {
			if n == 1 {
				p := newPlan(openHook(11), openHook(12))
				p.BreakerWaitUntil = now.Add(40 * time.Second)
				return p
			}
			p := newPlan(hook(11), openHook(12))
			p.FirstAccountID = 11
			return p
		}
		res := h.run(t, input())
		require.Equal(t, workflows.StatusSuccess, res.Status)
		require.Len(t, h.sends, 1)
		require.Equal(t, int64(11), h.sends[0].req.AccountID)
		require.True(t, start.Add(40*time.Second).Equal(h.sends[0].at), "never sent before the account half-opened")
		require.Equal(t, 2, h.plans, "the plan is loaded again once, when the wait ends")
		w := h.event(t, workflows.EventBreakerWait)
		require.Equal(t, workflows.CodeBreakerOpen, w.Event.Code)
		require.Contains(t, w.Event.Detail, "waiting until 2025-03-01T09:00:40Z")
	})

	t.Run("FailsWith40007AfterTheBound", func(t *testing.T) {
		t.Parallel()
		h := setup(t, activities.Plan{})
		h.planFn = func(_ int, now time.Time) activities.Plan {
			p := newPlan(openHook(11))
			p.BreakerWaitUntil = now.Add(time.Hour)
			return p
		}
		res := h.run(t, input())
		require.Equal(t, workflows.StatusFailed, res.Status)
		require.Empty(t, h.sends, "never tried on an open account")
		fin := h.event(t, workflows.EventFinished)
		require.Equal(t, workflows.CodeBreakerOpen, fin.Event.Code)
		require.Equal(t, 25, h.plans, "woken once an hour for a day")
		require.Len(t, h.kinds(), 2, "one wait entry on the timeline, then the end: %v", h.kinds())
	})

	t.Run("ExpiresWhileWaiting", func(t *testing.T) {
		t.Parallel()
		h := setup(t, activities.Plan{})
		h.planFn = func(_ int, now time.Time) activities.Plan {
			p := newPlan(openHook(11))
			p.BreakerWaitUntil = now.Add(time.Hour)
			return p
		}
		in := input()
		in.ExpiresAt = start.Add(10 * time.Minute)
		res := h.run(t, in)
		require.Equal(t, workflows.StatusFailed, res.Status)
		require.Empty(t, h.sends, "never tried on an open account")
		fin := h.event(t, workflows.EventFinished)
		require.Equal(t, workflows.CodeExpired, fin.Event.Code, "the expiry ends the wait long before the breaker's hour")
		require.Equal(t, 2, h.plans, "woken once, just past the expiry")
	})

	t.Run("SwitchWaitsForAnOpenAccountLeft", func(t *testing.T) {
		t.Parallel()
		h := setup(t, activities.Plan{})
		h.planFn = func(n int, now time.Time) activities.Plan {
			if n == 1 {
				p := newPlan(hook(11), openHook(12))
				p.FirstAccountID = 11
				return p
			}
			return newPlan(hook(11), hook(12))
		}
		h.send = func(n int, req activities.SendRequest) (activities.SendResult, error) {
			if req.AccountID == 11 {
				return activities.SendResult{}, providerErr("account", "SUSPENDED", "account suspended", 0)
			}
			return activities.SendResult{ProviderMessageID: pmID(n)}, nil
		}
		res := h.run(t, input())
		require.Equal(t, workflows.StatusSuccess, res.Status)
		require.Len(t, h.sends, 2)
		require.Equal(t, int64(12), h.sends[1].req.AccountID)
		require.Equal(t, activities.BreakerRecheck, h.sends[1].at.Sub(h.sends[0].at), "waited for the open account instead of failing")
	})
}
