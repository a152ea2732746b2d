package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/heraldhq/herald/activities"
	"github.com/heraldhq/herald/internal/breaker"
)

// Names of the per-account breaker workflow. Like every workflow name they
// are stable.
const (
	// BreakerWorkflowName is the registered type of the breaker workflow.
	BreakerWorkflowName = "herald.breaker"
	// BreakerOutcomesSignal carries one worker's outcome counts for the
	// account (a BreakerOutcomes), about once a second.
	BreakerOutcomesSignal = "breaker-outcomes"
	// BreakerForceSignal carries an operator's order (a BreakerForce).
	BreakerForceSignal = "breaker-force"
	// BreakerStateQuery returns the breaker's live BreakerState.
	BreakerStateQuery = "breaker-state"
)

// BreakerWorkflowID is the id of an account's breaker workflow: one per
// account, on TaskQueue, started by the first signal sent to it.
func BreakerWorkflowID(accountID int64) string { return fmt.Sprintf("breaker-%d", accountID) }

// BreakerOutcomes is the payload of BreakerOutcomesSignal.
type BreakerOutcomes struct {
	breaker.Counts
}

// Operator orders of BreakerForceSignal.
const (
	BreakerForceOpen   = "open"
	BreakerForceClosed = "close"
	BreakerForceAuto   = "auto"
)

// BreakerForce is the payload of BreakerForceSignal.
type BreakerForce struct {
	// Order is BreakerForceOpen, BreakerForceClosed or BreakerForceAuto.
	Order  string
	Reason string
	Actor  string
}

// BreakerInput starts (or continues) an account's breaker workflow.
type BreakerInput struct {
	AccountID int64
	// Breaker is the state carried over a continue-as-new; nil starts
	// closed.
	Breaker *breaker.Breaker
	Config  breaker.Config
	// EventsPerRun overrides breakerEventsPerRun (tests).
	EventsPerRun int
}

// BreakerState is what BreakerStateQuery returns.
type BreakerState struct {
	Breaker breaker.Breaker
	Config  breaker.Config
	Window  breaker.Counts
}

// Breaker workflow bounds.
const (
	// breakerEventsPerRun is how many signals and timers a run handles
	// before it continues as new, which keeps its history short.
	breakerEventsPerRun = 500
	// breakerPublishEvery is how often window counts alone are published
	// (transitions are published at once).
	breakerPublishEvery = 5 * time.Second
)

// BreakerWorkflow holds the circuit breaker of one provider account: it
// sums the outcome counts every worker signals, moves the breaker through
// its states, obeys operators' orders, and publishes each state to the
// store, where plan loads read it. It never ends on its own; it continues
// as new every breakerEventsPerRun events.
func BreakerWorkflow(ctx workflow.Context, in BreakerInput) error {
	e := &breakerEntity{in: in, cfg: in.Config.WithDefaults()}
	if in.Breaker != nil {
		e.b = *in.Breaker
	} else {
		e.b = breaker.New(workflow.Now(ctx))
	}
	if err := workflow.SetQueryHandler(ctx, BreakerStateQuery, func() (BreakerState, error) {
		return BreakerState{Breaker: e.b, Config: e.cfg, Window: e.window}, nil
	}); err != nil {
		return err
	}
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		// The store must hear of the state, however long it is away.
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute},
	})
	if err := e.publish(ctx, nil); err != nil {
		return err
	}
	outcomes := workflow.GetSignalChannel(ctx, BreakerOutcomesSignal)
	orders := workflow.GetSignalChannel(ctx, BreakerForceSignal)
	perRun := in.EventsPerRun
	if perRun <= 0 {
		perRun = breakerEventsPerRun
	}
	for handled := 0; handled < perRun && !workflow.GetInfo(ctx).GetContinueAsNewSuggested(); handled++ {
		sel := workflow.NewSelector(ctx)
		var err error
		sel.AddReceive(outcomes, func(c workflow.ReceiveChannel, _ bool) {
			var o BreakerOutcomes
			c.Receive(ctx, &o)
			err = e.record(ctx, o.Counts)
		})
		sel.AddReceive(orders, func(c workflow.ReceiveChannel, _ bool) {
			var f BreakerForce
			c.Receive(ctx, &f)
			err = e.force(ctx, f)
		})
		timerCtx, cancelTimer := workflow.WithCancel(ctx)
		if next := e.b.NextTick(e.cfg); !next.IsZero() {
			sel.AddFuture(workflow.NewTimer(timerCtx, max(next.Sub(workflow.Now(ctx)), time.Millisecond)), func(workflow.Future) {
				err = e.tick(ctx)
			})
		}
		sel.Select(ctx)
		cancelTimer()
		if err != nil {
			return err
		}
	}
	// Signals that arrived meanwhile go into this run before it hands its
	// state over, so none is lost.
	for {
		var o BreakerOutcomes
		if !outcomes.ReceiveAsync(&o) {
			break
		}
		if err := e.record(ctx, o.Counts); err != nil {
			return err
		}
	}
	for {
		var f BreakerForce
		if !orders.ReceiveAsync(&f) {
			break
		}
		if err := e.force(ctx, f); err != nil {
			return err
		}
	}
	b := e.b
	return workflow.NewContinueAsNewError(ctx, BreakerWorkflow, BreakerInput{AccountID: in.AccountID, Breaker: &b, Config: e.cfg, EventsPerRun: in.EventsPerRun})
}

// breakerEntity is the breaker workflow's private state.
type breakerEntity struct {
	in          BreakerInput
	b           breaker.Breaker
	cfg         breaker.Config
	window      breaker.Counts
	lastPublish time.Time
}

func (e *breakerEntity) record(ctx workflow.Context, c breaker.Counts) error {
	now := workflow.Now(ctx)
	tr, changed := e.b.Record(e.cfg, now, c)
	if changed {
		return e.publish(ctx, &tr)
	}
	if now.Sub(e.lastPublish) >= breakerPublishEvery {
		return e.publish(ctx, nil)
	}
	return nil
}

func (e *breakerEntity) tick(ctx workflow.Context) error {
	tr, changed, renewed := e.b.Tick(e.cfg, workflow.Now(ctx))
	switch {
	case changed:
		return e.publish(ctx, &tr)
	case renewed:
		return e.publish(ctx, nil)
	}
	return nil
}

func (e *breakerEntity) force(ctx workflow.Context, f BreakerForce) error {
	now := workflow.Now(ctx)
	reason := f.Reason
	if reason == "" {
		reason = "no reason given"
	}
	var tr breaker.Transition
	switch f.Order {
	case BreakerForceOpen:
		tr = e.b.Force(now, breaker.Open, reason, f.Actor)
	case BreakerForceClosed:
		tr = e.b.Force(now, breaker.Closed, reason, f.Actor)
	case BreakerForceAuto:
		tr = e.b.Auto(now, reason, f.Actor)
	default:
		workflow.GetLogger(ctx).Warn("unknown breaker order ignored", "account_id", e.in.AccountID, "order", f.Order)
		return nil
	}
	return e.publish(ctx, &tr)
}

// publish writes the state (and transition) to the store and takes the
// account's current thresholds from the answer.
func (e *breakerEntity) publish(ctx workflow.Context, tr *breaker.Transition) error {
	now := workflow.Now(ctx)
	e.window = e.b.Window(e.cfg, now)
	req := activities.PublishBreakerRequest{AccountID: e.in.AccountID, Breaker: e.b, Probes: e.cfg.Probes, Window: e.window, Transition: tr}
	var cfg breaker.Config
	if err := workflow.ExecuteActivity(ctx, acts.PublishBreaker, req).Get(ctx, &cfg); err != nil {
		return fmt.Errorf("publish breaker of account %d: %w", e.in.AccountID, err)
	}
	e.cfg = cfg.WithDefaults()
	e.lastPublish = now
	return nil
}
