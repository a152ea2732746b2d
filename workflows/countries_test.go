package workflows_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/activities"
	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/workflows"
)

func TestCountryRouting(t *testing.T) {
	t.Parallel()

	// excluded is an account the plan keeps off the message because it
	// does not reach the receiver's country.
	excluded := func(id int64) activities.PlanAccount {
		a := sms(id)
		a.CountryExcluded = true
		return a
	}

	t.Run("SwitchSkipsExcludedAccounts", func(t *testing.T) {
		t.Parallel()
		// Account 1 fails for its balance; the switch goes to 3, never to
		// the heavier 2, which does not reach the country.
		a2 := excluded(2)
		a2.Weight = 10
		plan := newPlan(sms(1), a2, sms(3))
		plan.FirstAccountID = 1
		h := setup(t, plan)
		h.send = func(n int, _ activities.SendRequest) (activities.SendResult, error) {
			if n == 1 {
				return activities.SendResult{}, providerErr(providers.ClassAccount, "FailedOperation.InsufficientBalanceInSmsPackage", "no balance", 0)
			}
			return activities.SendResult{ProviderMessageID: pmID(n)}, nil
		}
		h.receipt(0, delivered(3, "pm-2"))

		res := h.run(t, input())
		require.Equal(t, workflows.StatusSuccess, res.Status)
		require.Equal(t, []int64{1, 3}, h.sendAccounts())
	})

	t.Run("NoReachableAccountLeftFails", func(t *testing.T) {
		t.Parallel()
		// The only account that reaches the country fails for good: the
		// message fails rather than trying one that cannot deliver.
		plan := newPlan(sms(1), excluded(2), excluded(3))
		plan.FirstAccountID = 1
		h := setup(t, plan)
		h.send = func(int, activities.SendRequest) (activities.SendResult, error) {
			return activities.SendResult{}, providerErr(providers.ClassAccount, "FailedOperation.InsufficientBalanceInSmsPackage", "no balance", 0)
		}

		res := h.run(t, input())
		require.Equal(t, workflows.StatusFailed, res.Status)
		for _, id := range h.sendAccounts() {
			require.Equal(t, int64(1), id)
		}
	})

	t.Run("UnreachableCountryFailsWithoutSending", func(t *testing.T) {
		t.Parallel()
		plan := newPlan(excluded(1))
		plan.ProblemCode = activities.CodeCountryUnreachable
		plan.ProblemDetail = "receiver's country (US) is reached by no enabled provider account of channel 3"
		h := setup(t, plan)

		res := h.run(t, input())
		require.Equal(t, workflows.StatusFailed, res.Status)
		require.Equal(t, plan.ProblemDetail, res.LastError)
		require.Empty(t, h.sendAccounts())
		require.Equal(t, activities.CodeCountryUnreachable, h.event(t, workflows.EventFinished).Event.Code)
	})

}
