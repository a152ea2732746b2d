package workflows_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/heraldhq/herald/activities"
	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/workflows"
)

// expiringSend makes the harness's Send refuse a message past expiresAt,
// as the real activity does, and accept it before.
func expiringSend(h *harness, expiresAt time.Time) {
	h.send = func(n int, _ activities.SendRequest) (activities.SendResult, error) {
		if !h.env.Now().Before(expiresAt) {
			return activities.SendResult{}, temporal.NewApplicationErrorWithOptions("expired", activities.ExpiredErrorType, temporal.ApplicationErrorOptions{
				NonRetryable: true, Details: []any{activities.Failure{Code: activities.CodeExpired, Message: "the message expired before any provider accepted it"}},
			})
		}
		return activities.SendResult{ProviderMessageID: pmID(n)}, nil
	}
}

func TestExpiry(t *testing.T) {
	t.Parallel()

	t.Run("ExpiredWhileScheduled", func(t *testing.T) {
		t.Parallel()
		h := setup(t, newPlan(sms(1)))
		in := input()
		in.ScheduledAt = start.Add(time.Hour)
		in.ExpiresAt = start.Add(30 * time.Minute)

		res := h.run(t, in)
		require.Equal(t, workflows.StatusFailed, res.Status)
		require.Empty(t, h.sendAccounts())
		require.Equal(t, []string{workflows.EventScheduled, workflows.EventFinished}, h.kinds())
		require.Equal(t, workflows.CodeExpired, h.event(t, workflows.EventFinished).Event.Code)
		require.Less(t, h.env.Now().Sub(start), time.Hour, "the wait ends at the expiry, not the scheduled time")
	})

	t.Run("ExpiredDuringRetryDelay", func(t *testing.T) {
		t.Parallel()
		// The transient failure's retry delay would take the message past
		// its expiry: it ends at once, without a second send.
		h := setup(t, newPlan(sms(1)))
		h.send = func(int, activities.SendRequest) (activities.SendResult, error) {
			return activities.SendResult{}, providerErr(providers.ClassTransient, "BUSY", "try later", 0)
		}
		in := input()
		in.ExpiresAt = start.Add(time.Second)

		res := h.run(t, in)
		require.Equal(t, workflows.StatusFailed, res.Status)
		require.Len(t, h.sendAccounts(), 1)
		fin := h.event(t, workflows.EventFinished)
		require.Equal(t, workflows.CodeExpired, fin.Event.Code)
		require.Contains(t, fin.Event.Detail, "BUSY", "the last failure is kept")
		require.Equal(t, time.Duration(0), h.env.Now().Sub(start))
	})

	t.Run("ThrottlingDeferralBounded", func(t *testing.T) {
		t.Parallel()
		// Throttling holds a message back for up to a day; not past its
		// expiry.
		h := setup(t, newPlan(sms(1)))
		h.send = func(int, activities.SendRequest) (activities.SendResult, error) {
			return activities.SendResult{}, providerErr(providers.ClassThrottled, "LIMIT", "slow down", time.Hour)
		}
		in := input()
		in.ExpiresAt = start.Add(10 * time.Minute)

		res := h.run(t, in)
		require.Equal(t, workflows.StatusFailed, res.Status)
		require.Len(t, h.sendAccounts(), 1)
		require.Equal(t, workflows.CodeExpired, h.event(t, workflows.EventFinished).Event.Code)
	})

	t.Run("PacedPastExpiry", func(t *testing.T) {
		t.Parallel()
		// The account's next slot is an hour away; the message expires in
		// a minute. The wait ends just past the expiry and the send
		// activity refuses the message: nothing is sent.
		acc := sms(1)
		acc.Rate = providers.Rate{Limit: 1, Per: time.Hour}
		h := setup(t, newPlan(acc))
		h.env.OnActivity(acts.Pace, mock.Anything, mock.Anything).Return(time.Hour, nil)
		in := input()
		in.ExpiresAt = start.Add(time.Minute)
		expiringSend(h, in.ExpiresAt)

		res := h.run(t, in)
		require.Equal(t, workflows.StatusFailed, res.Status)
		require.Equal(t, []string{workflows.EventAttempt, workflows.EventPaced, workflows.EventFinished}, h.kinds())
		require.Equal(t, workflows.CodeExpired, h.event(t, workflows.EventFinished).Event.Code)
		require.Less(t, h.env.Now().Sub(start), 2*time.Minute)
	})

	t.Run("DeliveredInTimeUnaffected", func(t *testing.T) {
		t.Parallel()
		// An expiry adds no write and no event to a message delivered in
		// time, and the receipt wait is not cut short by it.
		plain := setup(t, newPlan(sms(1)))
		plain.receipt(5*time.Minute, delivered(1, "pm-1"))
		plain.run(t, input())

		h := setup(t, newPlan(sms(1)))
		h.receipt(5*time.Minute, delivered(1, "pm-1"))
		in := input()
		in.ExpiresAt = start.Add(time.Minute)
		expiringSend(h, in.ExpiresAt)
		res := h.run(t, in)
		require.Equal(t, workflows.StatusSuccess, res.Status)
		require.Equal(t, plain.updateKinds(), h.updateKinds())
	})
}

func TestQuietHours(t *testing.T) {
	t.Parallel()
	shanghai := time.FixedZone("", 8*3600)
	// quietPlan is loaded at 17:00 in Shanghai during quiet hours that end
	// at 08:00 the next morning, 15 hours later.
	quietPlan := func() activities.Plan {
		p := newPlan(sms(1))
		p.QuietUntil = start.Add(15 * time.Hour).In(shanghai)
		p.QuietZone = "Asia/Shanghai"
		return p
	}

	t.Run("WaitThenSend", func(t *testing.T) {
		t.Parallel()
		h := setup(t, quietPlan())
		h.receipt(15*time.Hour+2*time.Minute, delivered(1, "pm-1"))

		res := h.run(t, input())
		require.Equal(t, workflows.StatusSuccess, res.Status)
		q := h.event(t, workflows.EventQuietHours)
		require.Equal(t, "waiting until 2025-03-02T08:00:00+08:00 (quiet hours, Asia/Shanghai)", q.Event.Detail)
		require.Empty(t, q.Status, "the message stays pending")
		held := q.HeldUntil.Sub(start)
		require.True(t, held >= 15*time.Hour && held < 15*time.Hour+5*time.Second, "held until %s after the start; the sweeper leaves it alone until then", held)
		offsets := h.sendOffsets()
		require.Len(t, offsets, 1)
		require.GreaterOrEqual(t, offsets[0], 15*time.Hour)
		require.Less(t, offsets[0], 15*time.Hour+5*time.Second, "released with a jitter of a few seconds")
		require.Equal(t, []string{workflows.EventQuietHours, workflows.EventAttempt, workflows.EventAccepted, workflows.EventReceipt, workflows.EventFinished}, h.kinds())
	})

	t.Run("ScheduledIntoQuietHours", func(t *testing.T) {
		t.Parallel()
		// The plan is loaded at the scheduled time; quiet hours then hold
		// the message as they hold any other.
		h := setup(t, quietPlan())
		h.receipt(15*time.Hour+2*time.Minute, delivered(1, "pm-1"))
		in := input()
		in.ScheduledAt = start.Add(time.Hour)

		res := h.run(t, in)
		require.Equal(t, workflows.StatusSuccess, res.Status)
		require.Equal(t, []string{workflows.EventScheduled, workflows.EventQuietHours, workflows.EventAttempt, workflows.EventAccepted, workflows.EventReceipt, workflows.EventFinished}, h.kinds())
		require.GreaterOrEqual(t, h.sendOffsets()[0], 15*time.Hour)
	})

	t.Run("OpensAfterExpiry", func(t *testing.T) {
		t.Parallel()
		h := setup(t, quietPlan())
		in := input()
		in.ExpiresAt = start.Add(time.Hour)

		res := h.run(t, in)
		require.Equal(t, workflows.StatusFailed, res.Status)
		require.Empty(t, h.sendAccounts())
		fin := h.event(t, workflows.EventFinished)
		require.Equal(t, workflows.CodeExpired, fin.Event.Code)
		require.Contains(t, fin.Event.Detail, "quiet hours (Asia/Shanghai) end at 2025-03-02T08:00:00+08:00")
		require.Equal(t, time.Duration(0), h.env.Now().Sub(start), "no point waiting for a window the message cannot use")
	})

	t.Run("CriticalIgnores", func(t *testing.T) {
		t.Parallel()
		// LoadPlan leaves QuietUntil zero for a critical message (see the
		// activities' tests): it goes at once.
		h := setup(t, newPlan(sms(1)))
		h.receipt(time.Minute, delivered(1, "pm-1"))
		res := h.run(t, input())
		require.Equal(t, workflows.StatusSuccess, res.Status)
		require.Equal(t, []time.Duration{0}, h.sendOffsets())
	})

	t.Run("CancelWhileWaiting", func(t *testing.T) {
		t.Parallel()
		h := setup(t, quietPlan())
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

		res := h.run(t, input())
		require.NoError(t, rejected)
		require.Equal(t, workflows.StatusCancelled, completed)
		require.Equal(t, workflows.StatusCancelled, res.Status)
		require.Empty(t, h.sendAccounts())
		require.Equal(t, []string{workflows.EventQuietHours, workflows.EventFinished}, h.kinds())
		require.Equal(t, 10*time.Minute, h.env.Now().Sub(start))
	})

	t.Run("WorkflowCancelledWhileWaiting", func(t *testing.T) {
		t.Parallel()
		// Cancelling the workflow itself (from the Web UI) ends a message
		// held for quiet hours as it ends a scheduled one.
		h := setup(t, quietPlan())
		h.after(10*time.Minute, h.env.CancelWorkflow)

		res := h.run(t, input())
		require.Equal(t, workflows.StatusCancelled, res.Status)
		require.Empty(t, h.sendAccounts())
		require.Equal(t, []string{workflows.EventQuietHours, workflows.EventFinished}, h.kinds())
	})

	t.Run("CancelRejectedOnceReleased", func(t *testing.T) {
		t.Parallel()
		h := setup(t, quietPlan())
		h.sendDelay = time.Minute
		h.receipt(15*time.Hour+2*time.Minute, delivered(1, "pm-1"))
		var rejected error
		h.after(15*time.Hour+10*time.Second, func() {
			h.env.UpdateWorkflow(workflows.CancelUpdate, "cancel-1", &testsuite.TestUpdateCallback{
				OnAccept:   func() {},
				OnReject:   func(err error) { rejected = err },
				OnComplete: func(any, error) {},
			})
		})
		res := h.run(t, input())
		require.Equal(t, workflows.StatusSuccess, res.Status)
		require.ErrorContains(t, rejected, workflows.ErrNotCancellable.Error())
	})
}
