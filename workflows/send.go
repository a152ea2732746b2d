package workflows

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/heraldhq/herald/activities"
	"github.com/heraldhq/herald/rules"
)

// CancelUpdate is the update that cancels a message still waiting for its
// scheduled time. It answers with an error once the message is on its way.
const CancelUpdate = "cancel"

// Timeline event kinds.
const (
	EventScheduled      = "scheduled"
	EventCancelled      = "cancelled"
	EventAttempt        = "attempt"
	EventAccepted       = "accepted"
	EventSendFailed     = "send_failed"
	EventUnknownOutcome = "unknown_outcome"
	EventReconciled     = "reconciled"
	EventReceipt        = "receipt"
	EventStaleReceipt   = "stale_receipt"
	EventLateReceipt    = "late_receipt"
	EventPaced          = "paced"
	// EventReceiversRefused records receivers of a multi-receiver message
	// that the provider refused while delivering to the rest.
	EventReceiversRefused = "receivers_refused"
	EventReceiptTimeout   = "receipt_timeout"
	EventDecision         = "decision"
	EventAlert            = "alert"
	EventFinished         = "finished"
	EventNotifyFailed     = "notify_failed"
	EventConfig           = "config_warning"
)

// Failure codes Herald itself reports.
const (
	CodeNoProvider       = "NO_PROVIDER_AVAILABLE"
	CodeMaxAttempts      = "MAX_ATTEMPTS_REACHED"
	CodeReceiptTimeout   = "RECEIPT_TIMEOUT"
	CodeSendNotConfirmed = "SEND_NOT_CONFIRMED"
	// CodeUnknownOutcomeNotResent ends a message whose send may or may not
	// have gone out, through an account that cannot be asked and is set
	// not to resend (on_unknown_outcome: fail).
	CodeUnknownOutcomeNotResent = "UNKNOWN_OUTCOME_NOT_RESENT"
)

// localOptions bound Herald's bookkeeping local activities; they retry
// until the store answers, because a message must not be left unrecorded.
var localOptions = workflow.LocalActivityOptions{
	StartToCloseTimeout: 10 * time.Second,
	RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute},
}

// reconcileDelay gives a provider time to record a send whose outcome was
// unknown before Herald asks about it.
const reconcileDelay = 5 * time.Second

// State is the live state of a send, returned by StateQuery.
type State struct {
	TaskID            string
	Status            string
	CallbackStatus    string
	Attempts          int
	AccountID         int64
	ProviderKind      string
	ProviderMessageID string
	ScheduledAt       time.Time
	LastError         string
	Timeline          []TimelineEntry
}

// TimelineEntry is one event of State.Timeline.
type TimelineEntry struct {
	Seq       int
	At        time.Time
	Kind      string
	Status    string
	AccountID int64
	Code      string
	Detail    string
}

// SendResult is the workflow's result: the message's final state.
type SendResult struct {
	Status         string
	CallbackStatus string
	Attempts       int
	LastError      string
}

// SendWorkflow delivers one message: wait for its scheduled time, pick an
// account from the channel's pool, send, wait for the delivery receipt, and
// on every failure do what the rule engine decides. It is registered as
// SendWorkflowName.
func SendWorkflow(ctx workflow.Context, in SendInput) (SendResult, error) {
	s := &send{in: in}
	s.state = State{TaskID: in.TaskID, Status: StatusPending, ScheduledAt: in.ScheduledAt}
	if err := s.setup(ctx); err != nil {
		return SendResult{}, err
	}
	return s.run(ctx)
}

// send is the workflow's private state.
type send struct {
	in    SendInput
	state State
	plan  activities.Plan

	// pending are noted timeline events not yet written, and
	// pendingUpdate a status change not yet written; both go with the
	// next write (a record, or the send activity's start).
	pending       []activities.Event
	pendingUpdate activities.StatusUpdate
	// decisionFacts are the inputs of the decision just taken, for its
	// timeline event.
	decisionFacts *activities.DecisionFacts
	// throttled counts attempts that do not use up the message's attempts
	// (refused by throttling, or by an account's breaker at send) and
	// deferred the time waited for them: throttling delays a message, it
	// does not use up its attempts.
	throttled int
	deferred  time.Duration

	receipts        []Receipt
	consumed        int
	cancelRequested bool
	failed          []int64
	// sending is set once the scheduled time has come: from then on the
	// message is on its way even while its status still reads pending.
	sending bool
	// accepted lists the sends a provider accepted for this message; only
	// receipts matching one of them can end it.
	accepted []acceptance
	// breakerSince is when the message first waited because every account
	// it could use had its breaker open; breakerNoted is set once that is
	// on the timeline.
	breakerSince time.Time
	breakerNoted bool
	// maybeSent is set once an attempt's outcome was unknown: a provider
	// may have the message, so ending it unsent keeps its quota unit.
	maybeSent bool
}

// acceptance is one send an account's provider accepted, under the
// provider's message id (empty when it gave none).
type acceptance struct {
	AccountID         int64
	ProviderMessageID string
}

// acts is only used to name activity methods; the worker registers a real
// instance.
var acts *activities.Activities

func (s *send) setup(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, StateQuery, func() (State, error) { return s.state, nil }); err != nil {
		return err
	}
	err := workflow.SetUpdateHandlerWithOptions(ctx, CancelUpdate,
		func(ctx workflow.Context) (string, error) {
			s.cancelRequested = true
			return StatusCancelled, nil
		},
		workflow.UpdateHandlerOptions{Validator: func() error {
			if s.sending || s.state.Status != StatusPending || s.cancelRequested {
				return fmt.Errorf("%w: message is %s", ErrNotCancellable, s.state.Status)
			}
			return nil
		}})
	if err != nil {
		return err
	}
	// A receipt whose update timed out is sent again as a signal, and the
	// update may still be applied, before or after it: each keeps only
	// what the other did not already bring. Signals from before delivery
	// ids carry none and are all kept, as they always were.
	keep := func(r Receipt) {
		if !slices.ContainsFunc(s.receipts, r.sameDelivery) {
			s.receipts = append(s.receipts, r)
		}
	}
	err = workflow.SetUpdateHandler(ctx, ReceiptUpdate, func(ctx workflow.Context, r Receipt) error {
		keep(r)
		return nil
	})
	if err != nil {
		return err
	}
	ch := workflow.GetSignalChannel(ctx, ReceiptSignal)
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			var r Receipt
			if !ch.Receive(ctx, &r) {
				return
			}
			keep(r)
		}
	})
	return nil
}

func (s *send) run(ctx workflow.Context) (SendResult, error) {
	ctx = workflow.WithLocalActivityOptions(ctx, localOptions)
	if res, done, err := s.waitForSchedule(ctx); done || err != nil {
		return res, err
	}
	// Once sending starts, a cancellation request must not interrupt a
	// send half-way: from here on the message always reaches a final state.
	s.sending = true
	cancellable := ctx
	ctx, _ = workflow.NewDisconnectedContext(ctx)
	if res, done, err := s.loadPlan(ctx); done || err != nil {
		return res, err
	}
	if res, done, err := s.holdForTraffic(ctx, cancellable); done || err != nil {
		return res, err
	}
	return s.deliver(ctx)
}

// waitForSchedule waits for the message's scheduled time on a durable
// timer; done is true when the message was cancelled meanwhile.
func (s *send) waitForSchedule(ctx workflow.Context) (res SendResult, done bool, err error) {
	wait := s.in.ScheduledAt.Sub(workflow.Now(ctx))
	if s.in.ScheduledAt.IsZero() || wait <= 0 {
		return SendResult{}, false, nil
	}
	wait = s.boundByExpiry(ctx, wait)
	if err := s.record(ctx, activities.StatusUpdate{Status: StatusPending}, EventScheduled, "", "waiting until "+s.in.ScheduledAt.UTC().Format(time.RFC3339)); err != nil {
		return SendResult{}, true, err
	}
	cancelled, err := workflow.AwaitWithTimeout(ctx, wait, func() bool { return s.cancelRequested })
	if cancelled || temporal.IsCanceledError(err) {
		// Cleanup must run even though ctx itself may be cancelled.
		dctx, _ := workflow.NewDisconnectedContext(ctx)
		res, err := s.finish(dctx, StatusCancelled, "", "", "cancelled before its scheduled time")
		return res, true, err
	}
	return SendResult{}, err != nil, err
}

// loadPlan loads the channel, its pool and the rules; done is true when
// the message ends without a send: it already ended, its channel is gone,
// or its app or channel is disabled.
func (s *send) loadPlan(ctx workflow.Context) (res SendResult, done bool, err error) {
	if err := workflow.ExecuteLocalActivity(ctx, acts.LoadPlan, activities.PlanInput{TaskID: s.in.TaskID, ChannelID: s.in.ChannelID}).Get(ctx, &s.plan); err != nil {
		return SendResult{}, true, fmt.Errorf("load plan: %w", err)
	}
	if IsFinal(s.plan.MessageStatus) {
		// A workflow started again for a message that already finished
		// (the sweeper racing a slow start) must not send it again.
		s.state.Status = s.plan.MessageStatus
		return SendResult{Status: s.plan.MessageStatus}, true, nil
	}
	if s.plan.ProblemCode != "" {
		res, err := s.finish(ctx, StatusFailed, "", s.plan.ProblemCode, s.plan.ProblemDetail)
		return res, true, err
	}
	if s.in.ForceAccountID != 0 && workflow.GetVersion(ctx, forcedAccount, workflow.DefaultVersion, 1) == 1 {
		if !s.forceAccount() {
			res, err := s.finish(ctx, StatusFailed, "", CodeForcedAccountUnavailable,
				fmt.Sprintf("account %d, which an operator chose for this resend, is not an enabled member of the channel's pool", s.in.ForceAccountID))
			return res, true, err
		}
	}
	for _, r := range s.plan.InvalidRules {
		if err := s.record(ctx, activities.StatusUpdate{}, EventConfig, "INVALID_RULE", r); err != nil {
			return SendResult{}, true, err
		}
	}
	return SendResult{}, false, nil
}

// forcedAccount gates SendInput.ForceAccountID: only workflows started
// with it set call GetVersion, so other sends record no marker.
const forcedAccount = "forced-account"

// forceAccount narrows the plan to the forced account; false when it is
// not an enabled member of the pool.
func (s *send) forceAccount() bool {
	for _, a := range s.plan.Accounts {
		if a.ID == s.in.ForceAccountID && a.Enabled {
			// Forcing is deliberate: a zero pool weight does not stop it.
			a.Weight = max(a.Weight, 1)
			s.plan.Accounts = []activities.PlanAccount{a}
			s.plan.FirstAccountID = a.ID
			return true
		}
	}
	return false
}

// route is where the next attempt goes.
type route struct {
	account activities.PlanAccount
	// onAccount counts the attempts made through account.
	onAccount int
	// keyAttempt, when set, is the attempt whose idempotency key the next
	// send reuses: after an unknown outcome a retry on the same account
	// must look like the same request to a provider that deduplicates.
	keyAttempt int
}

// deliver makes attempts, as the rule engine decides after each failure,
// until the message reaches a final state.
func (s *send) deliver(ctx workflow.Context) (SendResult, error) {
	var r route
	for {
		if r.account.ID == 0 {
			next, ok, err := s.pick(ctx)
			if err != nil {
				return SendResult{}, err
			}
			if !ok && s.breakerBlocked() {
				if res, done, err := s.awaitBreaker(ctx); done || err != nil {
					return res, err
				}
				continue
			}
			if !ok {
				return s.finish(ctx, StatusFailed, "", CodeNoProvider, "no enabled provider account left in the channel's pool")
			}
			r = route{account: next}
		}
		if s.state.Attempts-s.throttled >= s.plan.MaxAttempts {
			return s.finish(ctx, StatusFailed, "", CodeMaxAttempts, fmt.Sprintf("gave up after %d attempts", s.state.Attempts))
		}
		key := s.startAttempt(ctx, &r)
		out, err := s.attempt(ctx, r.account, key)
		if err != nil {
			return SendResult{}, err
		}
		if out.breakerRefused {
			s.offOpenAccount(ctx, r.account, out)
			r = route{}
			continue
		}
		if out.final != "" {
			return s.finish(ctx, out.final, out.callbackStatus, out.code, out.detail)
		}
		d, err := s.handleFailure(ctx, &r, out.failure, key)
		if err != nil {
			return SendResult{}, err
		}
		if d.Action != rules.ActionRetry && d.Action != rules.ActionSwitch {
			return s.finish(ctx, StatusFailed, out.callbackStatus, out.failure.Code, s.state.LastError)
		}
		if d.Delay > 0 {
			if res, done, err := s.expiredBeforeRetry(ctx, d.Delay); done || err != nil {
				return res, err
			}
			if err := workflow.Sleep(ctx, d.Delay); err != nil {
				return SendResult{}, err
			}
		}
	}
}

// startAttempt counts a new attempt through r's account and notes it; it
// returns the attempt number whose idempotency key the send uses.
func (s *send) startAttempt(ctx workflow.Context, r *route) int {
	account := r.account
	r.onAccount++
	s.state.Attempts++
	s.state.AccountID, s.state.ProviderKind, s.state.ProviderMessageID = account.ID, account.Kind, ""
	if !s.searchAtEnd(ctx) {
		_ = workflow.UpsertTypedSearchAttributes(ctx, SearchProvider.ValueSet(account.Kind), SearchStatus.ValueSet(StatusProcessing))
	}
	// Written by the send activity when it starts (or by the next
	// record if the send never runs).
	s.pendingUpdate = activities.StatusUpdate{Status: StatusProcessing, AccountID: account.ID, Attempts: s.state.Attempts}
	s.state.Status = StatusProcessing
	s.note(ctx, account.ID, EventAttempt, "", fmt.Sprintf("attempt %d through %s account %d", s.state.Attempts, account.Kind, account.ID))
	key := s.state.Attempts
	if r.keyAttempt > 0 {
		key, r.keyAttempt = r.keyAttempt, 0
	}
	return key
}

// handleFailure asks the rule engine what to do after a failed attempt,
// alerts and records the decision, and moves r accordingly.
func (s *send) handleFailure(ctx workflow.Context, r *route, f rules.Failure, key int) (rules.Decision, error) {
	d, err := s.decide(ctx, f, r.onAccount)
	if err != nil {
		return d, err
	}
	if d.Alert {
		s.alert(ctx, r.account, f, d)
	}
	s.state.LastError = failureText(f)
	if err := s.record(ctx, activities.StatusUpdate{LastError: s.state.LastError}, EventDecision, d.RuleName,
		fmt.Sprintf("%s: %s", d.Action, d.Reason)); err != nil {
		return d, err
	}
	switch d.Action {
	case rules.ActionRetry:
		if f.Class == rules.ClassUnknownOutcome {
			r.keyAttempt = key
		}
		if f.Class == rules.ClassThrottled {
			s.throttled++
			s.deferred += d.Delay
		}
	case rules.ActionSwitch:
		s.failed = append(s.failed, r.account.ID)
		r.account = activities.PlanAccount{}
	}
	return d, nil
}

// outcome is how one attempt ended: a final status, or a failure for the
// rule engine.
type outcome struct {
	final          string
	callbackStatus string
	// code is the final event's code when final is set.
	code    string
	detail  string
	failure rules.Failure
	// breakerRefused is set when the send activity found the account's
	// breaker open and sent nothing (detail says so).
	breakerRefused bool
}

// attempt sends once through account, under the idempotency key of attempt
// number key, and waits for the receipt.
func (s *send) attempt(ctx workflow.Context, account activities.PlanAccount, key int) (outcome, error) {
	if account.Rate.Limit > 0 {
		if err := s.pace(ctx, account); err != nil {
			return outcome{}, err
		}
	}
	sentAt := workflow.Now(ctx)
	accepted := activities.Event{Seq: len(s.state.Timeline) + 1, Status: StatusSent, Kind: EventAccepted, AccountID: account.ID,
		Detail: "accepted by the provider; waiting for the delivery receipt"}
	res, err := s.sendOnce(ctx, account, key, accepted)
	if err != nil {
		if f, stopped := activities.DisabledOf(err); stopped {
			// The app or channel was disabled while the message waited:
			// nothing was sent, and nothing more will be.
			return outcome{final: StatusFailed, code: f.Code, detail: f.Message}, nil
		}
		if f, refused := activities.BreakerRefusalOf(err); refused && workflow.GetVersion(ctx, breakerRecheckAtSend, workflow.DefaultVersion, 1) >= 1 {
			return outcome{breakerRefused: true, code: f.Code, detail: f.Message}, nil
		}
		var o outcome
		var done bool
		if res, o, done, err = s.sendFailed(ctx, account, err, sentAt); done || err != nil {
			return o, err
		}
	}
	return s.afterAccepted(ctx, account, res, accepted, sentAt)
}

// sendOnce runs the send activity for one attempt.
func (s *send) sendOnce(ctx workflow.Context, account activities.PlanAccount, key int, accepted activities.Event) (activities.SendResult, error) {
	timeout := account.SendTimeout
	if timeout <= 0 {
		timeout = activities.DefaultSendTimeout
	}
	req := activities.SendRequest{TaskID: s.in.TaskID, AccountID: account.ID, Attempt: key, CheckBreaker: true, Probe: account.BreakerProbe}
	if start := s.unwritten(); start != nil {
		req.OnStart = start
	}
	if account.ExpectsReceipt {
		// The activity writes "sent" with the provider's id, saving a
		// local activity per message.
		req.OnAccepted = &activities.StatusUpdate{Status: StatusSent, AccountID: account.ID, Events: []activities.Event{accepted}}
	}
	var res activities.SendResult
	var err error
	if s.sendsLocally(ctx) {
		req.Local = true
		localCtx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
			StartToCloseTimeout: timeout,
			// Room for every retry the policy allows, with their backoffs;
			// left zero it would end at the first timeout.
			ScheduleToCloseTimeout: time.Duration(sendRetryPolicy.MaximumAttempts)*timeout + time.Minute,
			RetryPolicy:            sendRetryPolicy,
		})
		err = workflow.ExecuteLocalActivity(localCtx, acts.Send, req).Get(ctx, &res)
	} else {
		sendCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			TaskQueue:           s.sendQueue(account),
			StartToCloseTimeout: timeout,
			RetryPolicy:         sendRetryPolicy,
		})
		err = workflow.ExecuteActivity(sendCtx, acts.Send, req).Get(ctx, &res)
	}
	if _, isProvider := activities.FailureOf(err); err == nil || isProvider {
		// The activity ran, so it wrote OnStart first. After any other
		// error it may not have: the next record writes it again.
		s.pending, s.pendingUpdate = nil, activities.StatusUpdate{}
	}
	return res, err
}

// sendFailed handles a failed send: a failure for the rule engine, an
// unknown outcome reconciled with the provider (ok: res is the send it
// found), or a final failure when the account does not resend after an
// unknown outcome (done).
func (s *send) sendFailed(ctx workflow.Context, account activities.PlanAccount, err error, sentAt time.Time) (res activities.SendResult, o outcome, done bool, _ error) {
	f, isProvider := activities.FailureOf(err)
	if !isProvider {
		// The activity itself kept failing or timing out: the provider
		// may have received the request.
		f = activities.Failure{Class: rules.ClassUnknownOutcome, Code: CodeSendNotConfirmed, Message: err.Error()}
	}
	failure := s.failure(rules.SceneSendFailure, account, f.Class, f.Code, f.Message, time.Duration(f.RetryAfterSeconds)*time.Second)
	if f.Class == rules.ClassUnknownOutcome {
		s.maybeSent = true
	}
	if f.Class == rules.ClassUnknownOutcome && !account.CanCheckStatus && account.FailOnUnknownOutcome {
		// Nobody can tell whether the message went out, and the account
		// prefers a message lost to one received twice.
		s.note(ctx, account.ID, EventSendFailed, f.Code, failureText(failure))
		return res, outcome{final: StatusFailed, code: CodeUnknownOutcomeNotResent,
			detail: "the outcome of the send is unknown and the account does not resend (on_unknown_outcome: fail)"}, true, nil
	}
	if f.Class != rules.ClassUnknownOutcome || !account.CanCheckStatus {
		return res, outcome{failure: failure}, true, s.record(ctx, activities.StatusUpdate{LastError: failureText(failure)}, EventSendFailed, f.Code, failureText(failure))
	}
	return s.reconcileUnknown(ctx, account, f, failure, sentAt)
}

// reconcileUnknown asks the provider what became of a send whose outcome
// is unknown, before anything is sent again.
func (s *send) reconcileUnknown(ctx workflow.Context, account activities.PlanAccount, f activities.Failure, failure rules.Failure, sentAt time.Time) (res activities.SendResult, o outcome, done bool, _ error) {
	if err := s.record(ctx, activities.StatusUpdate{}, EventUnknownOutcome, f.Code, "outcome unknown; asking the provider before any resend"); err != nil {
		return res, outcome{}, true, err
	}
	if err := workflow.Sleep(ctx, reconcileDelay); err != nil {
		return res, outcome{}, true, err
	}
	chk, err := s.check(ctx, account, "", sentAt)
	if err != nil {
		return res, outcome{}, true, err
	}
	if !chk.Found {
		return res, outcome{failure: failure}, true, nil
	}
	if err := s.record(ctx, activities.StatusUpdate{ProviderMessageID: chk.ProviderMessageID}, EventReconciled, chk.Code, "the provider had accepted the message"); err != nil {
		return res, outcome{}, true, err
	}
	s.acceptedBy(account.ID, chk.ProviderMessageID)
	res = activities.SendResult{ProviderMessageID: chk.ProviderMessageID, Recovered: true}
	if o, final := receiptOutcome(chk.Status, chk.Code, chk.Description); final {
		s.state.ProviderMessageID = chk.ProviderMessageID
		o, err := s.afterReceipt(ctx, account, o)
		return res, o, true, err
	}
	return res, outcome{}, false, nil
}

// afterAccepted records an accepted send and, for providers that send
// receipts, waits for it.
func (s *send) afterAccepted(ctx workflow.Context, account activities.PlanAccount, res activities.SendResult, accepted activities.Event, sentAt time.Time) (outcome, error) {
	s.state.ProviderMessageID = res.ProviderMessageID
	s.acceptedBy(account.ID, res.ProviderMessageID)
	if res.Applied {
		s.state.Status = StatusSent
		s.state.Timeline = append(s.state.Timeline, TimelineEntry{
			Seq: accepted.Seq, At: workflow.Now(ctx), Kind: accepted.Kind, Status: accepted.Status, AccountID: account.ID, Detail: accepted.Detail,
		})
	}
	if len(res.InvalidReceivers) > 0 {
		s.note(ctx, account.ID, EventReceiversRefused, "",
			fmt.Sprintf("the provider refused %d of the receivers: %s", len(res.InvalidReceivers), strings.Join(res.InvalidReceivers, ", ")))
	}
	if res.Delivered || !account.ExpectsReceipt {
		cb := ""
		if res.Delivered {
			cb = CallbackDelivered
		}
		return outcome{final: StatusSuccess, callbackStatus: cb, detail: "accepted by the provider"}, nil
	}
	if !s.searchAtEnd(ctx) {
		_ = workflow.UpsertTypedSearchAttributes(ctx, SearchStatus.ValueSet(StatusSent))
	}
	if !res.Applied {
		if err := s.record(ctx, activities.StatusUpdate{Status: StatusSent, AccountID: account.ID, ProviderMessageID: res.ProviderMessageID},
			EventAccepted, "", accepted.Detail); err != nil {
			return outcome{}, err
		}
	}
	return s.awaitReceipt(ctx, account, sentAt)
}

// acceptedBy remembers that an account accepted the message under a
// provider id (empty when the provider gave none), so that its delivered
// receipt ends the message even after a later attempt started.
func (s *send) acceptedBy(accountID int64, providerMessageID string) {
	for _, a := range s.accepted {
		if a == (acceptance{accountID, providerMessageID}) {
			return
		}
	}
	s.accepted = append(s.accepted, acceptance{accountID, providerMessageID})
}

// sendRetryPolicy retries a send whose activity failed or timed out (not
// one the provider refused: that is the rule engine's call).
var sendRetryPolicy = &temporal.RetryPolicy{
	InitialInterval:    time.Second,
	BackoffCoefficient: 2,
	MaximumInterval:    30 * time.Second,
	MaximumAttempts:    5,
}

// searchAttributesAtEnd is the change that sets the provider and status
// search attributes once, when the message is final, instead of at each
// attempt, acceptance and end: each upsert is a write to the server's
// visibility store, which cost more CPU than all of Herald's own code.
// The message's live status is its state query's and the store's.
const searchAttributesAtEnd = "search-attributes-at-end"

// searchAtEnd tells whether this workflow sets its search attributes
// only at the end. The first attempt asks first; the SDK keeps the answer
// for the workflow's later calls, which record nothing more.
func (s *send) searchAtEnd(ctx workflow.Context) bool {
	return workflow.GetVersion(ctx, searchAttributesAtEnd, workflow.DefaultVersion, 1) >= 1
}

// localSend is the change that runs sends as local activities.
const localSend = "send-as-local-activity"

// sendsLocally reports whether the send runs as a local activity, inside
// the workflow task that decided it, rather than as an activity task: one
// state transition less per message (the benchmark's 6 become 5) and no
// second task queue hop; the history is no shorter, its marker and the
// version marker taking the place of the activity's events. The workflow task already carries the
// message's priority and fairness key, so verification codes still go
// first. Per-kind send queues keep activity tasks: an operator who set
// them wants each provider kind's sends on workers and slots of its own.
func (s *send) sendsLocally(ctx workflow.Context) bool {
	if s.plan.PerKindSendQueues {
		return false
	}
	return workflow.GetVersion(ctx, localSend, workflow.DefaultVersion, 1) >= 1
}

// sendQueue is the task queue of sends and status checks through account.
func (s *send) sendQueue(account activities.PlanAccount) string {
	if s.plan.PerKindSendQueues {
		return SendTaskQueue(account.Kind)
	}
	return TaskQueue
}

// pace waits, on durable timers, until the account's rate cap allows one
// more send. Sends over the cap wait; they are never dropped or failed.
func (s *send) pace(ctx workflow.Context, account activities.PlanAccount) error {
	noted := false
	for {
		var wait time.Duration
		if err := workflow.ExecuteLocalActivity(ctx, acts.Pace, activities.PaceRequest{AccountID: account.ID, Rate: account.Rate, TaskID: s.in.TaskID}).Get(ctx, &wait); err != nil {
			return fmt.Errorf("pace account %d: %w", account.ID, err)
		}
		if wait <= 0 {
			return nil
		}
		if !noted {
			s.note(ctx, account.ID, EventPaced, "", fmt.Sprintf("account %d is paced at %d per %s; waiting for a slot", account.ID, account.Rate.Limit, account.Rate.Per))
			noted = true
		}
		// A slot after the expiry is of no use: wait out the expiry
		// instead, and the send activity refuses the expired message.
		bounded := s.boundByExpiry(ctx, wait)
		if err := workflow.Sleep(ctx, bounded); err != nil {
			return err
		}
		if bounded != wait {
			return nil
		}
	}
}

// awaitReceipt waits for the receipt of the current attempt, up to the
// channel's receipt timeout.
func (s *send) awaitReceipt(ctx workflow.Context, account activities.PlanAccount, sentAt time.Time) (outcome, error) {
	deadline := workflow.Now(ctx).Add(s.plan.ReceiptTimeout)
	for {
		for s.consumed < len(s.receipts) {
			r := s.receipts[s.consumed]
			s.consumed++
			o, final := receiptOutcome(r.Status, r.Code, r.Description)
			if final && s.receiptApplies(ctx, r, account, o) {
				return s.afterReceipt(ctx, account, o)
			}
			if err := s.record(ctx, activities.StatusUpdate{}, EventStaleReceipt, r.Code, "receipt for no send accepted for the current attempt: "+r.Status); err != nil {
				return outcome{}, err
			}
		}
		wait := deadline.Sub(workflow.Now(ctx))
		if wait <= 0 {
			break
		}
		if _, err := workflow.AwaitWithTimeout(ctx, wait, func() bool { return s.consumed < len(s.receipts) }); err != nil {
			return outcome{}, err
		}
	}

	detail := fmt.Sprintf("no delivery receipt within %s", s.plan.ReceiptTimeout)
	if account.CanCheckStatus {
		chk, err := s.check(ctx, account, s.state.ProviderMessageID, sentAt)
		if err != nil {
			return outcome{}, err
		}
		if o, done := receiptOutcome(chk.Status, chk.Code, chk.Description); chk.Found && done {
			if err := s.record(ctx, activities.StatusUpdate{}, EventReconciled, chk.Code, "receipt missing; the provider reports "+chk.Status); err != nil {
				return outcome{}, err
			}
			return s.afterReceipt(ctx, account, o)
		}
		detail += "; the provider has no final status either"
	}
	failure := s.failure(rules.SceneCallbackFailure, account, rules.ClassReceiptTimeout, CodeReceiptTimeout, detail, 0)
	return outcome{failure: failure}, s.record(ctx, activities.StatusUpdate{}, EventReceiptTimeout, CodeReceiptTimeout, detail)
}

// receiptBinding gates the rule that a receipt applies only to a send its
// account accepted (see receiptApplies).
const receiptBinding = "receipt-bound-to-accepted-send"

// receiptApplies tells whether a final receipt ends the wait for the
// current attempt through account. It must name what that account's
// provider accepted: the current attempt's (account, provider id) applies
// whatever it reports; an earlier accepted send applies only when
// delivered (the receiver has the message, so a retry elsewhere must
// stop). A receipt without a provider id matches only a send accepted
// without one. Anything else is stale and changes nothing.
func (s *send) receiptApplies(ctx workflow.Context, r Receipt, account activities.PlanAccount, o outcome) bool {
	got := acceptance{r.AccountID, r.ProviderMessageID}
	current := got == acceptance{account.ID, s.state.ProviderMessageID}
	bound := current || (o.final == StatusSuccess && slices.Contains(s.accepted, got))
	// Before the binding, any delivered receipt applied, and a receipt of
	// the current account without a provider id counted as current.
	unbound := o.final == StatusSuccess || (r.AccountID == account.ID && (r.ProviderMessageID == "" || r.ProviderMessageID == s.state.ProviderMessageID))
	if bound == unbound {
		return bound
	}
	// Only histories where the two rules disagree carry the version
	// marker; every other send records none.
	if workflow.GetVersion(ctx, receiptBinding, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return unbound
	}
	return bound
}

// afterReceipt records a final receipt and turns a failed one into a
// failure for the rule engine.
func (s *send) afterReceipt(ctx workflow.Context, account activities.PlanAccount, o outcome) (outcome, error) {
	s.state.CallbackStatus = o.callbackStatus
	if o.final == StatusSuccess {
		// The final record right after stores this event and the
		// callback status with it.
		s.note(ctx, account.ID, EventReceipt, o.failure.Code, o.detail)
		return o, nil
	}
	if err := s.record(ctx, activities.StatusUpdate{CallbackStatus: o.callbackStatus}, EventReceipt, o.failure.Code, o.detail); err != nil {
		return outcome{}, err
	}
	o.failure = s.failure(rules.SceneCallbackFailure, account, rules.ClassReceiptFailed, o.failure.Code, o.detail, 0)
	return o, nil
}

// receiptOutcome maps a receipt status to an outcome; done is false for a
// status that is not final.
func receiptOutcome(status, code, description string) (outcome, bool) {
	detail := "receipt: " + status
	if description != "" {
		detail += " (" + description + ")"
	}
	switch status {
	case CallbackDelivered:
		return outcome{final: StatusSuccess, callbackStatus: CallbackDelivered, detail: detail}, true
	case CallbackFailed, CallbackRejected:
		return outcome{callbackStatus: status, detail: detail, failure: rules.Failure{Code: code, Message: description}}, true
	}
	return outcome{}, false
}

func (s *send) failure(scene rules.Scene, account activities.PlanAccount, class rules.Class, code, msg string, retryAfter time.Duration) rules.Failure {
	return rules.Failure{
		Scene:        scene,
		Class:        class,
		Code:         code,
		Message:      msg,
		ProviderKind: account.Kind,
		MessageType:  s.plan.ChannelType,
		RetryAfter:   retryAfter,
	}
}

func failureText(f rules.Failure) string {
	if f.Code == "" {
		return string(f.Class) + ": " + f.Message
	}
	return string(f.Class) + ": " + f.Code + ": " + f.Message
}

// pick chooses the next account among the enabled ones not yet failed.
// The first choice comes with the plan.
func (s *send) pick(ctx workflow.Context) (activities.PlanAccount, bool, error) {
	if first := s.plan.FirstAccountID; first != 0 {
		s.plan.FirstAccountID = 0
		for _, a := range s.available(ctx) {
			if a.ID == first {
				return a, true, nil
			}
		}
	}
	var cands []activities.Candidate
	for _, a := range s.available(ctx) {
		cands = append(cands, activities.Candidate{AccountID: a.ID, Weight: a.Weight})
	}
	if len(cands) == 0 {
		return activities.PlanAccount{}, false, nil
	}
	var id int64
	if err := workflow.ExecuteLocalActivity(ctx, acts.PickAccount, activities.PickInput{ChannelID: s.in.ChannelID, Candidates: cands}).Get(ctx, &id); err != nil {
		return activities.PlanAccount{}, false, fmt.Errorf("pick account: %w", err)
	}
	for _, a := range s.plan.Accounts {
		if a.ID == id {
			return a, true, nil
		}
	}
	return activities.PlanAccount{}, false, nil
}

// countryRouting gates keeping a message off the accounts that do not
// reach its receiver's country (activities.PlanAccount.CountryExcluded).
const countryRouting = "route-by-receiver-country"

// available lists enabled accounts with a weight that have not failed for
// this message and reach its receiver's country, in the plan's order.
func (s *send) available(ctx workflow.Context) []activities.PlanAccount {
	var out []activities.PlanAccount
next:
	for _, a := range s.plan.Accounts {
		if !a.Enabled || a.Weight <= 0 || a.BreakerOpen {
			continue
		}
		// Only plans that exclude an account record the version marker.
		if a.CountryExcluded && workflow.GetVersion(ctx, countryRouting, workflow.DefaultVersion, 1) >= 1 {
			continue
		}
		for _, f := range s.failed {
			if f == a.ID {
				continue next
			}
		}
		out = append(out, a)
	}
	return out
}

func (s *send) decide(ctx workflow.Context, f rules.Failure, onAccount int) (rules.Decision, error) {
	left := 0
	for _, a := range s.available(ctx) {
		if a.ID != s.state.AccountID {
			left++
		}
	}
	// An account kept off by its breaker is still left to switch to: the
	// message waits for it instead of failing.
	left += s.breakerOpenLeft()
	// Attempts refused by throttling, this one included, do not count
	// against the message's attempt budget.
	counted := s.state.Attempts - s.throttled
	if f.Class == rules.ClassThrottled {
		counted--
	}
	var d rules.Decision
	in := activities.DecideInput{
		Rules:             s.plan.Rules,
		Failure:           f,
		AttemptsOnAccount: onAccount,
		TotalAttempts:     max(counted, 1),
		MaxAttempts:       s.plan.MaxAttempts,
		AccountsLeft:      left,
		DeferredFor:       s.deferred,
	}
	err := workflow.ExecuteLocalActivity(ctx, acts.Decide, in).Get(ctx, &d)
	if err != nil {
		return d, fmt.Errorf("decide: %w", err)
	}
	// The decision event about to be noted carries these facts; a new
	// field of the recorded payload, so replays are unaffected.
	s.decisionFacts = &activities.DecisionFacts{
		Failure: f, AttemptsOnAccount: in.AttemptsOnAccount, TotalAttempts: in.TotalAttempts,
		MaxAttempts: in.MaxAttempts, AccountsLeft: in.AccountsLeft, DeferredFor: in.DeferredFor, Decision: d,
	}
	return d, nil
}

func (s *send) check(ctx workflow.Context, account activities.PlanAccount, providerMessageID string, sentAt time.Time) (activities.CheckResult, error) {
	checkCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:           s.sendQueue(account),
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 2 * time.Second, BackoffCoefficient: 2, MaximumAttempts: 5},
	})
	var chk activities.CheckResult
	err := workflow.ExecuteActivity(checkCtx, acts.CheckStatus, activities.CheckRequest{
		TaskID: s.in.TaskID, AccountID: account.ID, ProviderMessageID: providerMessageID, SentAt: sentAt,
	}).Get(ctx, &chk)
	if err != nil {
		// Not knowing is an answer too: the caller falls back to the rules
		// without resending blindly.
		workflow.GetLogger(ctx).Warn("status check failed", "task_id", s.in.TaskID, "error", err)
		return activities.CheckResult{}, nil
	}
	return chk, nil
}

func (s *send) alert(ctx workflow.Context, account activities.PlanAccount, f rules.Failure, d rules.Decision) {
	alertCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 2 * time.Second, BackoffCoefficient: 2, MaximumAttempts: 3},
	})
	err := workflow.ExecuteActivity(alertCtx, acts.Alert, activities.AlertRequest{
		TaskID: s.in.TaskID, AppID: s.in.AppID, ChannelID: s.in.ChannelID, AccountID: account.ID, ProviderKind: account.Kind,
		Rule: d.RuleName, Class: string(f.Class), Code: f.Code, Message: f.Message, Decision: string(d.Action),
	}).Get(ctx, nil)
	detail := "alert sent (" + d.RuleName + ")"
	if err != nil {
		detail = "alert could not be delivered: " + err.Error()
	}
	_ = s.record(ctx, activities.StatusUpdate{}, EventAlert, f.Code, detail)
}

// finish records the final state, tells the app, and ends the workflow.
func (s *send) finish(ctx workflow.Context, status, callbackStatus, code, detail string) (SendResult, error) {
	s.state.Status = status
	if callbackStatus != "" {
		s.state.CallbackStatus = callbackStatus
	}
	lastError := ""
	if status != StatusSuccess {
		lastError = detail
		s.state.LastError = detail
	}
	// A provider kind means an attempt began, which asked searchAtEnd
	// already: asking here records no version for a message never sent.
	if s.state.ProviderKind != "" && s.searchAtEnd(ctx) {
		_ = workflow.UpsertTypedSearchAttributes(ctx, SearchProvider.ValueSet(s.state.ProviderKind), SearchStatus.ValueSet(status))
	} else {
		_ = workflow.UpsertTypedSearchAttributes(ctx, SearchStatus.ValueSet(status))
	}
	if err := s.record(ctx, activities.StatusUpdate{Status: status, CallbackStatus: callbackStatus, LastError: lastError, Final: true, MaybeSent: s.maybeSent}, EventFinished, code, detail); err != nil {
		return SendResult{}, err
	}
	if s.plan.NotifyStatus {
		notifyCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			StartToCloseTimeout: 30 * time.Second,
			RetryPolicy: &temporal.RetryPolicy{
				InitialInterval:    5 * time.Second,
				BackoffCoefficient: 2,
				MaximumInterval:    10 * time.Minute,
				MaximumAttempts:    12,
			},
		})
		if err := workflow.ExecuteActivity(notifyCtx, acts.NotifyStatus, activities.NotifyRequest{TaskID: s.in.TaskID}).Get(ctx, nil); err != nil {
			_ = s.record(ctx, activities.StatusUpdate{}, EventNotifyFailed, "", "status callback failed: "+err.Error())
		}
	}
	if err := s.keepLateReceipts(ctx); err != nil {
		return SendResult{}, err
	}
	return SendResult{Status: status, CallbackStatus: s.state.CallbackStatus, Attempts: s.state.Attempts, LastError: lastError}, nil
}

// keepLateReceipts stores receipts that arrived after the final state was
// decided, so they are on the message's timeline instead of lost with the
// workflow. They never change the final status; a receipt is the first
// callback status only when none was recorded.
func (s *send) keepLateReceipts(ctx workflow.Context) error {
	for s.consumed < len(s.receipts) {
		r := s.receipts[s.consumed]
		s.consumed++
		u := activities.StatusUpdate{}
		if s.state.CallbackStatus == "" {
			if _, final := receiptOutcome(r.Status, r.Code, r.Description); final {
				u.CallbackStatus = r.Status
				s.state.CallbackStatus = r.Status
			}
		}
		if err := s.record(ctx, u, EventLateReceipt, r.Code, "receipt after the final state: "+r.Status); err != nil {
			return err
		}
	}
	return nil
}

// note adds a timeline event that needs no write of its own: it is stored
// with the next record, which saves a local activity (and a history event)
// per send.
func (s *send) note(ctx workflow.Context, accountID int64, kind, code, detail string) {
	seq := len(s.state.Timeline) + 1
	ev := activities.Event{Seq: seq, Status: s.state.Status, Kind: kind, AccountID: accountID, Code: code, Detail: detail}
	if kind == EventDecision {
		ev.Facts, s.decisionFacts = s.decisionFacts, nil
	}
	s.pending = append(s.pending, ev)
	s.state.Timeline = append(s.state.Timeline, TimelineEntry{
		Seq: seq, At: workflow.Now(ctx), Kind: kind, Status: s.state.Status, AccountID: accountID, Code: code, Detail: detail,
	})
}

// record writes a status change with one timeline event (after any noted
// ones) through a local activity, and mirrors it in the queryable state.
func (s *send) record(ctx workflow.Context, u activities.StatusUpdate, kind, code, detail string) error {
	if u.Status != "" {
		s.state.Status = u.Status
	}
	s.note(ctx, u.AccountID, kind, code, detail)
	p := s.pendingUpdate
	if u.Status == "" {
		u.Status = p.Status
	}
	if u.AccountID == 0 {
		u.AccountID = p.AccountID
	}
	if u.Attempts == 0 {
		u.Attempts = p.Attempts
	}
	u.TaskID = s.in.TaskID
	u.Events = s.pending
	if err := workflow.ExecuteLocalActivity(ctx, acts.RecordStatus, u).Get(ctx, nil); err != nil {
		return fmt.Errorf("record %s: %w", kind, err)
	}
	s.pending, s.pendingUpdate = nil, activities.StatusUpdate{}
	return nil
}

// unwritten returns the noted status change and events not yet written, or
// nil when there are none.
func (s *send) unwritten() *activities.StatusUpdate {
	pu := s.pendingUpdate
	if len(s.pending) == 0 && pu.Status == "" && pu.AccountID == 0 && pu.Attempts == 0 {
		return nil
	}
	u := s.pendingUpdate
	u.TaskID = s.in.TaskID
	u.Events = append([]activities.Event(nil), s.pending...)
	return &u
}

// Callback statuses, as stored and as the API reports them.
const (
	CallbackDelivered = "delivered"
	CallbackFailed    = "failed"
	CallbackRejected  = "rejected"
)
