package workflows

import (
	"fmt"
	"hash/fnv"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/heraldhq/herald/activities"
)

// Timeline event kinds of expiry and quiet hours.
const (
	// EventQuietHours records that a message waits for the channel's quiet
	// hours to end; its detail says until when.
	EventQuietHours = "quiet_hours"
)

// CodeExpired ends a message that expired before any provider accepted
// it: nothing was sent.
const CodeExpired = activities.CodeExpired

// quietJitterMax spreads the messages released when quiet hours end over a
// few seconds, so they do not all reach the balancer and the accounts'
// pacing in the same instant.
const quietJitterMax = 5 * time.Second

// expiryMargin is how long past a message's expiry a bounded wait ends,
// so that the send activity, on a worker whose clock may lag a little,
// sees the message expired and refuses it.
const expiryMargin = time.Second

// Expiry and quiet hours add no version marker: they only act when
// SendInput.ExpiresAt or Plan.QuietUntil is set, and both are zero in every
// history recorded before they existed (see the versioning rules in
// doc.go), so old histories replay the same commands.

// expiresWithin reports whether the message expires within d from now
// (d = 0: it has expired). Messages without an expiry never do.
func (s *send) expiresWithin(ctx workflow.Context, d time.Duration) bool {
	return !s.in.ExpiresAt.IsZero() && !workflow.Now(ctx).Add(d).Before(s.in.ExpiresAt)
}

// boundByExpiry shortens a wait before a send that would end after the
// message's expiry to end just past it: whatever comes next then finds
// the message expired, and the send activity refuses it.
func (s *send) boundByExpiry(ctx workflow.Context, wait time.Duration) time.Duration {
	if !s.expiresWithin(ctx, wait) {
		return wait
	}
	return max(s.in.ExpiresAt.Sub(workflow.Now(ctx)), 0) + expiryMargin
}

// finishExpired ends a message that can no longer be sent before its
// expiry.
func (s *send) finishExpired(ctx workflow.Context, why string) (SendResult, error) {
	detail := fmt.Sprintf("%s; the message expires at %s and nothing more is sent", why, s.in.ExpiresAt.UTC().Format(time.RFC3339))
	if s.state.LastError != "" {
		detail += "; last failure: " + s.state.LastError
	}
	return s.finish(ctx, StatusFailed, "", CodeExpired, detail)
}

// expiredBeforeRetry ends the message when the rule engine's delay before
// the next attempt would take it past its expiry; done is false when the
// retry may go ahead.
func (s *send) expiredBeforeRetry(ctx workflow.Context, delay time.Duration) (res SendResult, done bool, err error) {
	if !s.expiresWithin(ctx, delay) {
		return SendResult{}, false, nil
	}
	res, err = s.finishExpired(ctx, fmt.Sprintf("the next attempt would come in %s, after the expiry", delay))
	return res, true, err
}

// holdForTraffic runs after the plan is loaded and before the first
// attempt: it ends a message that has expired, and holds one loaded during
// its channel's quiet hours until they end (plus a jitter), on a durable
// timer bounded by the expiry. The message stays pending and cancellable
// while it waits, by the cancel update or by cancelling the workflow
// (waitCtx, which unlike ctx is not disconnected from the workflow's
// cancellation). done is true when the message ended (expired, or
// cancelled meanwhile).
func (s *send) holdForTraffic(ctx, waitCtx workflow.Context) (res SendResult, done bool, err error) {
	if s.expiresWithin(ctx, 0) {
		res, err := s.finishExpired(ctx, "the message expired before it could be sent")
		return res, true, err
	}
	if s.plan.QuietUntil.IsZero() {
		return SendResult{}, false, nil
	}
	opens := s.plan.QuietUntil
	release := opens.Add(quietJitter(s.in.TaskID))
	if !s.in.ExpiresAt.IsZero() && !release.Before(s.in.ExpiresAt) {
		res, err := s.finishExpired(ctx, fmt.Sprintf("quiet hours (%s) end at %s, after the expiry", s.plan.QuietZone, opens.Format(time.RFC3339)))
		return res, true, err
	}
	wait := release.Sub(workflow.Now(ctx))
	if wait <= 0 {
		return SendResult{}, false, nil
	}
	if err := s.record(ctx, activities.StatusUpdate{HeldUntil: release}, EventQuietHours, "",
		fmt.Sprintf("waiting until %s (quiet hours, %s)", opens.Format(time.RFC3339), s.plan.QuietZone)); err != nil {
		return SendResult{}, true, err
	}
	// Nothing is on its way yet: the cancel update is accepted again
	// until the wait ends.
	s.sending = false
	cancelled, err := workflow.AwaitWithTimeout(waitCtx, wait, func() bool { return s.cancelRequested })
	s.sending = true
	if err != nil && !temporal.IsCanceledError(err) {
		return SendResult{}, true, err
	}
	if cancelled || err != nil {
		res, err := s.finish(ctx, StatusCancelled, "", "", "cancelled while waiting for quiet hours to end")
		return res, true, err
	}
	return SendResult{}, false, nil
}

// quietJitter is a message's release delay after quiet hours end: up to
// quietJitterMax, derived from the task id, so replay computes the same
// value without a side effect.
func quietJitter(taskID string) time.Duration {
	h := fnv.New32a()
	_, _ = h.Write([]byte(taskID))
	return time.Duration(h.Sum32()%uint32(quietJitterMax/time.Millisecond)) * time.Millisecond
}
