package workflows_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/heraldhq/herald/activities"
	"github.com/heraldhq/herald/workflows"
)

// breakerRefused is the send activity's answer when the account's breaker
// opened after the message picked it.
func breakerRefused(account int64) error {
	detail := "provider account's circuit breaker opened after the message picked it; nothing was sent through it"
	return temporal.NewApplicationErrorWithOptions(detail, activities.BreakerErrorType, temporal.ApplicationErrorOptions{
		NonRetryable: true, Details: []any{activities.Failure{Code: activities.CodeBreakerOpen, Message: detail}},
	})
}

func TestSendRechecksBreaker(t *testing.T) {
	t.Parallel()

	t.Run("SwitchesAccount", func(t *testing.T) {
		t.Parallel()
		plan := newPlan(sms(1), sms(2))
		plan.FirstAccountID = 1
		plan.MaxAttempts = 1
		h := setup(t, plan)
		h.send = func(n int, req activities.SendRequest) (activities.SendResult, error) {
			require.True(t, req.CheckBreaker, "every send asks for the check")
			if req.AccountID == 1 {
				return activities.SendResult{}, breakerRefused(1)
			}
			return activities.SendResult{ProviderMessageID: pmID(n)}, nil
		}
		h.receipt(time.Minute, delivered(2, "pm-2"))

		res := h.run(t, input())
		require.Equal(t, workflows.StatusSuccess, res.Status, "the refused attempt does not use up the one attempt allowed")
		require.Equal(t, []int64{1, 2}, h.sendAccounts())
		require.Equal(t, []string{
			workflows.EventAttempt, workflows.EventBreakerSkip, workflows.EventAttempt,
			workflows.EventAccepted, workflows.EventReceipt, workflows.EventFinished,
		}, h.kinds())
		skip := h.event(t, workflows.EventBreakerSkip)
		require.Equal(t, int64(1), skip.Event.AccountID)
		require.Equal(t, activities.CodeBreakerOpen, skip.Event.Code)
		_, alerts, _, plans := h.counts()
		require.Zero(t, alerts, "a breaker refusal is no provider failure")
		require.Equal(t, 1, plans, "no plan load of its own")
	})

	t.Run("ProbeFlagFollowsThePlan", func(t *testing.T) {
		t.Parallel()
		a := sms(1)
		a.BreakerProbe = true
		plan := newPlan(a)
		plan.FirstAccountID = 1
		h := setup(t, plan)
		h.receipt(time.Minute, delivered(1, "pm-1"))
		res := h.run(t, input())
		require.Equal(t, workflows.StatusSuccess, res.Status)
		h.mu.Lock()
		defer h.mu.Unlock()
		require.True(t, h.sends[0].req.Probe)
	})

	t.Run("LastAccountWaitsForTheBreaker", func(t *testing.T) {
		t.Parallel()
		// The only account opened after the pick: the message waits and
		// loads its plan again, like any message whose accounts are open.
		plan := newPlan(sms(1))
		plan.FirstAccountID = 1
		h := setup(t, plan)
		h.send = func(n int, req activities.SendRequest) (activities.SendResult, error) {
			if n == 1 {
				return activities.SendResult{}, breakerRefused(1)
			}
			return activities.SendResult{ProviderMessageID: pmID(n)}, nil
		}
		h.receipt(2*time.Minute, delivered(1, "pm-2"))

		res := h.run(t, input())
		require.Equal(t, workflows.StatusSuccess, res.Status)
		require.Equal(t, []int64{1, 1}, h.sendAccounts())
		offsets := h.sendOffsets()
		require.GreaterOrEqual(t, offsets[1]-offsets[0], activities.BreakerRecheck)
		_, _, _, plans := h.counts()
		require.Equal(t, 2, plans)
		require.Contains(t, h.kinds(), workflows.EventBreakerWait)
	})
}
