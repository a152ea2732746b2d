package workflows_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/heraldhq/herald/activities"
	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/workflows"
)

// disabledErr is a Send refused because the app or channel is disabled, as
// the activity reports it.
func disabledErr(code string) error {
	return temporal.NewApplicationErrorWithOptions("disabled", activities.DisabledErrorType, temporal.ApplicationErrorOptions{
		NonRetryable: true, Details: []any{activities.Failure{Code: code, Message: "app app-1 is disabled; nothing more is sent"}},
	})
}

func TestKillSwitch(t *testing.T) {
	t.Parallel()

	t.Run("DisabledBeforeTheScheduledTime", func(t *testing.T) {
		t.Parallel()
		// The plan, loaded when the scheduled time comes, says the app was
		// disabled meanwhile: the message ends without a send.
		plan := newPlan(sms(1))
		plan.ProblemCode, plan.ProblemDetail = activities.CodeAppDisabled, "app app-1 is disabled; nothing more is sent"
		h := setup(t, plan)
		in := input()
		in.ScheduledAt = start.Add(time.Hour)

		res := h.run(t, in)
		require.Equal(t, workflows.StatusFailed, res.Status)
		require.Empty(t, h.sendAccounts())
		require.Equal(t, []string{workflows.EventScheduled, workflows.EventFinished}, h.kinds())
		require.Equal(t, activities.CodeAppDisabled, h.event(t, workflows.EventFinished).Event.Code)
		require.Equal(t, time.Hour, h.env.Now().Sub(start))
	})

	t.Run("DisabledDuringARetryDelay", func(t *testing.T) {
		t.Parallel()
		// The first send fails transiently; during the retry delay the
		// channel is disabled, and the send activity refuses the retry.
		h := setup(t, newPlan(sms(1)))
		h.send = func(n int, _ activities.SendRequest) (activities.SendResult, error) {
			if n == 1 {
				return activities.SendResult{}, providerErr(providers.ClassTransient, "BUSY", "try later", 0)
			}
			return activities.SendResult{}, disabledErr(activities.CodeChannelDisabled)
		}

		res := h.run(t, input())
		require.Equal(t, workflows.StatusFailed, res.Status)
		require.Len(t, h.sendAccounts(), 2, "the refused send is the last")
		fin := h.event(t, workflows.EventFinished)
		require.Equal(t, activities.CodeChannelDisabled, fin.Event.Code)
		require.Equal(t, workflows.StatusFailed, fin.Status)
		require.True(t, fin.Final)
		// No decision follows the refusal: the rules are not asked.
		require.Equal(t, []string{
			workflows.EventAttempt, workflows.EventSendFailed, workflows.EventDecision, workflows.EventAttempt, workflows.EventFinished,
		}, h.kinds())
	})

	t.Run("DeliveredMessageUnaffected", func(t *testing.T) {
		t.Parallel()
		// The check adds nothing to a message that is delivered.
		h := setup(t, newPlan(sms(1)))
		h.receipt(time.Minute, delivered(1, "pm-1"))
		h.run(t, input())
		require.Equal(t, [][]string{{workflows.EventReceipt, workflows.EventFinished}}, h.updateKinds()[2:])
	})
}

func TestReceiptsBoundToAcceptedSends(t *testing.T) {
	t.Parallel()

	t.Run("UnknownProviderIDChangesNothing", func(t *testing.T) {
		t.Parallel()
		h := setup(t, newPlan(sms(1)))
		// A delivered receipt naming an id the provider never returned,
		// one of another account, and one without an id are stale.
		h.receipt(time.Minute, delivered(1, "forged"))
		h.receipt(2*time.Minute, delivered(2, "pm-1"))
		h.receipt(3*time.Minute, delivered(1, ""))
		h.receipt(4*time.Minute, delivered(1, "pm-1"))

		res := h.run(t, input())
		require.Equal(t, workflows.StatusSuccess, res.Status)
		require.Equal(t, 4*time.Minute, h.env.Now().Sub(start))
		require.Equal(t, []string{
			workflows.EventAttempt, workflows.EventAccepted, workflows.EventStaleReceipt, workflows.EventStaleReceipt,
			workflows.EventStaleReceipt, workflows.EventReceipt, workflows.EventFinished,
		}, h.kinds())
	})

	t.Run("FailedReceiptWithoutIDIsNotCurrent", func(t *testing.T) {
		t.Parallel()
		h := setup(t, newPlan(sms(1), sms(2)))
		h.receipt(time.Minute, failedReceipt(1, "", "UNDELIV"))
		h.receipt(2*time.Minute, delivered(1, "pm-1"))

		res := h.run(t, input())
		require.Equal(t, workflows.StatusSuccess, res.Status)
		require.Equal(t, []int64{1}, h.sendAccounts(), "no switch on a receipt naming no send")
	})

	t.Run("DeliveredForAnEarlierAcceptedSendEnds", func(t *testing.T) {
		t.Parallel()
		h := setup(t, newPlan(sms(1), sms(2)))
		h.receipt(time.Minute, failedReceipt(1, "pm-1", "UNDELIV"))
		// Account 2 never accepted pm-1; account 1 did.
		h.receipt(2*time.Minute, delivered(2, "pm-1"))
		h.receipt(3*time.Minute, delivered(1, "pm-1"))

		res := h.run(t, input())
		require.Equal(t, workflows.StatusSuccess, res.Status)
		require.Equal(t, []int64{1, 2}, h.sendAccounts())
		require.Equal(t, 3*time.Minute, h.env.Now().Sub(start))
		require.Contains(t, h.kinds(), workflows.EventStaleReceipt)
	})

	t.Run("ReconciledWithoutIDTakesReceiptsWithoutID", func(t *testing.T) {
		t.Parallel()
		plan := newPlan(sms(1))
		plan.Accounts[0].CanCheckStatus = true
		h := setup(t, plan)
		h.send = func(int, activities.SendRequest) (activities.SendResult, error) {
			return activities.SendResult{}, providerErr(providers.ClassUnknownOutcome, "TIMEOUT", "no answer", 0)
		}
		h.check = func(activities.CheckRequest) (activities.CheckResult, error) {
			return activities.CheckResult{Found: true, Status: string(providers.ReceiptPending)}, nil
		}
		h.receipt(time.Minute, delivered(1, ""))

		res := h.run(t, input())
		require.Equal(t, workflows.StatusSuccess, res.Status)
		require.Len(t, h.sendAccounts(), 1)
	})
}

func TestSendActivityTimeoutFollowsTheProvider(t *testing.T) {
	t.Parallel()
	// A provider that may take 70 s: the send takes 100 s and succeeds
	// once, instead of being cut off at a minute and sent again.
	acc := hook(1)
	acc.SendTimeout = activities.SendTimeoutFor(70 * time.Second)
	h := setup(t, newPlan(acc))
	h.sendDelay = 100 * time.Second
	var timeouts []time.Duration
	// Sends run as local activities; one through an activity task would
	// show up here too, and fail the count.
	h.env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
		if info.ActivityType.Name == "Send" {
			timeouts = append(timeouts, info.Deadline.Sub(info.StartedTime).Round(time.Second))
		}
	})
	h.env.SetOnLocalActivityStartedListener(func(info *activity.Info, _ context.Context, _ []any) {
		if info.ActivityType.Name == "Send" {
			timeouts = append(timeouts, info.Deadline.Sub(info.StartedTime).Round(time.Second))
		}
	})

	res := h.run(t, input())
	require.Equal(t, workflows.StatusSuccess, res.Status)
	require.Len(t, h.sendAccounts(), 1)
	require.Equal(t, []time.Duration{170 * time.Second}, timeouts)
}

func TestUnknownOutcomeWithoutStatusQuery(t *testing.T) {
	t.Parallel()
	unknown := func(int, activities.SendRequest) (activities.SendResult, error) {
		return activities.SendResult{}, providerErr(providers.ClassUnknownOutcome, "TIMEOUT", "no answer after the request was written", 0)
	}

	t.Run("Fail", func(t *testing.T) {
		t.Parallel()
		acc := hook(1)
		acc.FailOnUnknownOutcome = true
		h := setup(t, newPlan(acc, hook(2)))
		h.send = unknown

		res := h.run(t, input())
		require.Equal(t, workflows.StatusFailed, res.Status)
		require.Len(t, h.sendAccounts(), 1, "never sent again")
		require.Equal(t, workflows.CodeUnknownOutcomeNotResent, h.event(t, workflows.EventFinished).Event.Code)
		require.Equal(t, []string{workflows.EventAttempt, workflows.EventSendFailed, workflows.EventFinished}, h.kinds())
	})

	t.Run("Resend", func(t *testing.T) {
		t.Parallel()
		h := setup(t, newPlan(hook(1)))
		h.send = func(n int, req activities.SendRequest) (activities.SendResult, error) {
			if n == 1 {
				return unknown(n, req)
			}
			return activities.SendResult{Delivered: true}, nil
		}

		res := h.run(t, input())
		require.Equal(t, workflows.StatusSuccess, res.Status)
		// Sent again under the first attempt's idempotency key (the
		// webhook-id the endpoint deduplicates by).
		require.Equal(t, []int{1, 1}, h.sendAttempts())
	})

	t.Run("StatusQueryIgnoresTheSetting", func(t *testing.T) {
		t.Parallel()
		acc := sms(1)
		acc.CanCheckStatus, acc.FailOnUnknownOutcome = true, true
		h := setup(t, newPlan(acc))
		h.send = unknown
		h.check = func(activities.CheckRequest) (activities.CheckResult, error) {
			return activities.CheckResult{Found: true, ProviderMessageID: "pm-9", Status: workflows.CallbackDelivered}, nil
		}
		res := h.run(t, input())
		require.Equal(t, workflows.StatusSuccess, res.Status)
	})
}
