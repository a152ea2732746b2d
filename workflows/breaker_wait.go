package workflows

import (
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/heraldhq/herald/activities"
)

// CodeBreakerOpen ends a message that waited BreakerWaitBound for an
// account of its channel to come out of an open circuit breaker (the
// API's code 40007, BREAKER_OPEN).
const CodeBreakerOpen = "40007"

// EventBreakerWait records that every account a message could use has its
// breaker open, and until when the message waits.
const EventBreakerWait = "breaker_wait"

// EventBreakerSkip records that the send found the picked account's
// breaker open, sent nothing, and the message goes to another account.
const EventBreakerSkip = "breaker_skip"

// breakerRecheckAtSend gates handling the send activity's refusal of an
// account whose breaker opened after the message picked it (see
// offOpenAccount); only histories with such a refusal carry the marker.
const breakerRecheckAtSend = "breaker-recheck-at-send"

// BreakerWaitBound is the longest a message waits for an open breaker, as
// throttling may defer one for a day; a message's own expiry ends the wait
// sooner, failing it as EXPIRED.
const BreakerWaitBound = 24 * time.Hour

// breakerBlocked tells whether the plan kept accounts off this message
// only because their breakers are open: some enabled account not yet
// failed for the message is skipped for its breaker.
func (s *send) breakerBlocked() bool {
	for _, a := range s.plan.Accounts {
		if a.Enabled && a.Weight > 0 && a.BreakerOpen && !slices.Contains(s.failed, a.ID) {
			return true
		}
	}
	return false
}

// breakerOpenLeft counts enabled accounts not yet failed for the message
// that the plan keeps off it for their breaker.
func (s *send) breakerOpenLeft() int {
	n := 0
next:
	for _, a := range s.plan.Accounts {
		if !a.Enabled || a.Weight <= 0 || !a.BreakerOpen || a.ID == s.state.AccountID {
			continue
		}
		for _, f := range s.failed {
			if f == a.ID {
				continue next
			}
		}
		n++
	}
	return n
}

// awaitBreaker waits on a durable timer until an open breaker may let the
// message through, then loads the plan again (only on this path, so a
// message that never meets an open breaker pays nothing). It returns
// done with the message's result when the wait is over for good: waited
// BreakerWaitBound, or the app or channel was disabled meanwhile.
func (s *send) awaitBreaker(ctx workflow.Context) (res SendResult, done bool, err error) {
	now := workflow.Now(ctx)
	if s.breakerSince.IsZero() {
		s.breakerSince = now
	}
	if s.expiresWithin(ctx, 0) {
		res, err := s.finishExpired(ctx, "every provider account of the channel kept its circuit breaker open")
		return res, true, err
	}
	deadline := s.breakerSince.Add(BreakerWaitBound)
	if !now.Before(deadline) {
		res, err := s.finish(ctx, StatusFailed, "", CodeBreakerOpen,
			fmt.Sprintf("every provider account of the channel kept its circuit breaker open for %s", BreakerWaitBound))
		return res, true, err
	}
	until := s.plan.BreakerWaitUntil
	if !until.After(now) {
		// The plan was loaded before this wait (a switch after a failure
		// left only open accounts): look again soon.
		until = now.Add(activities.BreakerRecheck)
	}
	if until.After(deadline) {
		until = deadline
	}
	if !s.in.ExpiresAt.IsZero() && until.After(s.in.ExpiresAt) {
		// Waking just past the expiry ends the message as expired.
		until = s.in.ExpiresAt.Add(expiryMargin)
	}
	if !s.breakerNoted {
		// One timeline entry per message, not one per wake-up.
		if err := s.record(ctx, activities.StatusUpdate{}, EventBreakerWait, CodeBreakerOpen,
			fmt.Sprintf("every provider account of channel %d has its circuit breaker open; waiting until %s", s.in.ChannelID, until.UTC().Format(time.RFC3339))); err != nil {
			return SendResult{}, true, err
		}
		s.breakerNoted = true
	}
	if err := workflow.Sleep(ctx, max(until.Sub(now), time.Second)); err != nil {
		return SendResult{}, true, err
	}
	var p activities.Plan
	if err := workflow.ExecuteLocalActivity(ctx, acts.LoadPlan, activities.PlanInput{TaskID: s.in.TaskID, ChannelID: s.in.ChannelID}).Get(ctx, &p); err != nil {
		return SendResult{}, true, fmt.Errorf("load plan: %w", err)
	}
	if p.ProblemCode != "" {
		res, err := s.finish(ctx, StatusFailed, "", p.ProblemCode, p.ProblemDetail)
		return res, true, err
	}
	// The attempt budget counts from the first plan; the rest (accounts,
	// breakers, rules) is what holds now.
	p.MaxAttempts = s.plan.MaxAttempts
	s.plan = p
	return SendResult{}, false, nil
}

// offOpenAccount keeps the message off an account the send activity
// refused for its breaker: the plan marks it open, so the next pick goes
// elsewhere, or the message waits for it like for any open breaker. The
// refused attempt sent nothing and does not count against the message's
// attempts; the timeline says why the account was left.
func (s *send) offOpenAccount(ctx workflow.Context, account activities.PlanAccount, o outcome) {
	for i := range s.plan.Accounts {
		if s.plan.Accounts[i].ID == account.ID {
			s.plan.Accounts[i].BreakerOpen = true
			s.plan.Accounts[i].BreakerProbe = false
		}
	}
	s.throttled++
	s.note(ctx, account.ID, EventBreakerSkip, o.code, o.detail)
}
