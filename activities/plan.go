package activities

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/rules"
	"github.com/heraldhq/herald/store"
)

// PlanInput names the message a plan is loaded for.
type PlanInput struct {
	TaskID    string
	ChannelID int64
}

// PlanAccount is one account of the channel's pool as the workflow sees it.
type PlanAccount struct {
	ID      int64
	Kind    string
	Weight  int
	Enabled bool
	// ExpectsReceipt is false for providers whose acceptance is final.
	ExpectsReceipt bool
	// CanCheckStatus is true when the provider can be asked what became of
	// a message (to resolve unknown outcomes and missing receipts).
	CanCheckStatus bool
	// Rate paces sends through the account; a zero Limit means unpaced.
	Rate providers.Rate
}

// Plan is everything the workflow needs to decide how to send a message.
// It is loaded in a local activity, so it is recorded in history and replay
// sees the same plan.
type Plan struct {
	AppID          string
	ChannelType    string
	ReceiptTimeout time.Duration
	MaxAttempts    int
	Accounts       []PlanAccount
	Rules          []rules.Rule
	// MessageStatus is the stored status when the plan was loaded; a final
	// one means the work is already done (a re-started workflow).
	MessageStatus string
	// NotifyStatus is true when the app wants status callbacks.
	NotifyStatus bool
	// InvalidRules lists stored rules that were skipped, for the timeline.
	InvalidRules []string
	// PerKindSendQueues is true when sends run on per-kind task queues.
	PerKindSendQueues bool
	// FirstAccountID is the account the balancer picked for the first
	// attempt (0 when none is available), saving a separate pick.
	FirstAccountID int64
	// ProblemCode, when set, is why the message cannot be sent at all
	// (its channel was deleted); ProblemDetail says it in words.
	ProblemCode   string
	ProblemDetail string
}

// Defaults applied when a channel leaves a setting at zero.
const (
	DefaultReceiptTimeout = 10 * time.Minute
	DefaultMaxAttempts    = 5
)

// LoadPlan reads the channel, its pool and the rules for a message.
func (a *Activities) LoadPlan(ctx context.Context, in PlanInput) (Plan, error) {
	msg, err := a.store.GetMessage(ctx, in.TaskID)
	if errors.Is(err, store.ErrNotFound) {
		// Retrying cannot make a deleted message appear.
		return Plan{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("message %s does not exist", in.TaskID), "message.not_found", err)
	}
	if err != nil {
		return Plan{}, fmt.Errorf("load message %s: %w", in.TaskID, err)
	}
	ch, err := a.store.GetChannel(ctx, in.ChannelID)
	if errors.Is(err, store.ErrNotFound) {
		return Plan{MessageStatus: msg.Status, AppID: msg.AppID, ProblemCode: "CHANNEL_NOT_FOUND",
			ProblemDetail: fmt.Sprintf("channel %d no longer exists", in.ChannelID)}, nil
	}
	if err != nil {
		return Plan{}, fmt.Errorf("load channel %d: %w", in.ChannelID, err)
	}
	pool, err := a.store.ChannelPool(ctx, in.ChannelID)
	if err != nil {
		return Plan{}, fmt.Errorf("load pool of channel %d: %w", in.ChannelID, err)
	}
	stored, err := a.store.ListRules(ctx, "")
	if err != nil {
		return Plan{}, fmt.Errorf("load rules: %w", err)
	}
	app, err := a.store.GetApp(ctx, msg.AppID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return Plan{}, fmt.Errorf("load app %s: %w", msg.AppID, err)
	}

	p := Plan{
		AppID:          msg.AppID,
		ChannelType:    ch.Type,
		ReceiptTimeout: time.Duration(ch.ReceiptTimeoutSeconds) * time.Second,
		MaxAttempts:    msg.MaxAttempts,
		MessageStatus:  msg.Status,
		NotifyStatus:   app != nil && app.StatusCallbackURL != "",

		PerKindSendQueues: a.cfg.PerKindSendQueues,
	}
	if p.ReceiptTimeout <= 0 {
		p.ReceiptTimeout = DefaultReceiptTimeout
	}
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = ch.MaxAttempts
	}
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = DefaultMaxAttempts
	}
	for _, m := range pool {
		pa := PlanAccount{ID: m.Account.ID, Kind: m.Account.Kind, Weight: m.Weight, Enabled: m.Account.Enabled}
		if pa.Enabled {
			prov, err := a.providers.Get(m.Account.Kind)
			if err != nil {
				// An account of a kind this build does not know cannot
				// send; leave it out rather than failing every message.
				a.log.Warn("skipping account of unknown provider kind", zapAccount(m.Account.ID), zapErr(err))
				pa.Enabled = false
			} else {
				pa.ExpectsReceipt = prov.ReceiptHandler() != nil
				pa.Rate = accountRate(m.Account.RateLimitPerMinute, prov, providers.Account{ID: m.Account.ID, Kind: m.Account.Kind, Config: m.Account.Config})
				if s, err := a.sender(&m.Account); err == nil {
					_, pa.CanCheckStatus = s.(providers.StatusChecker)
				}
			}
		}
		p.Accounts = append(p.Accounts, pa)
	}
	var cands []Candidate
	for _, pa := range p.Accounts {
		if pa.Enabled && pa.Weight > 0 {
			cands = append(cands, Candidate{AccountID: pa.ID, Weight: pa.Weight})
		}
	}
	p.FirstAccountID, _ = a.balancer.Pick(in.ChannelID, cands)
	for _, r := range stored {
		rr, err := ToRule(r)
		if err != nil {
			p.InvalidRules = append(p.InvalidRules, fmt.Sprintf("rule %d (%s): %v", r.ID, r.Name, err))
			continue
		}
		p.Rules = append(p.Rules, rr)
	}
	return p, nil
}

// ToRule converts a stored rule into the rule engine's form and validates
// it.
func ToRule(r store.Rule) (rules.Rule, error) {
	rr := EngineRule(r)
	if err := rr.Validate(); err != nil {
		return rules.Rule{}, err
	}
	return rr, nil
}

// EngineRule is a stored rule in the rule engine's form, not validated:
// scene and actions are compared case-insensitively, blank list items are
// dropped. Callers that must report every problem (herald apply) call
// Validate on it; ToRule does for the send path.
func EngineRule(r store.Rule) rules.Rule {
	norm := func(s string) string { return strings.ToLower(strings.TrimSpace(s)) }
	return rules.Rule{
		ID:            r.ID,
		Name:          r.Name,
		Scene:         rules.Scene(norm(r.Scene)),
		Priority:      r.Priority,
		ProviderKind:  r.ProviderKind,
		MessageType:   r.MessageType,
		ErrorCodes:    rules.ParseList(r.ErrorCodes),
		ErrorKeywords: rules.ParseList(r.ErrorKeywords),
		Action:        rules.Action(norm(r.Action)),
		MaxRetry:      r.MaxRetry,
		Delay:         time.Duration(r.DelaySeconds) * time.Second,
		BackoffRate:   r.BackoffRate,
		Then:          rules.Action(norm(r.ThenAction)),
	}
}

// PickInput asks the balancer for an account of a channel.
type PickInput struct {
	ChannelID  int64
	Candidates []Candidate
}

// PickAccount chooses among the candidates by smooth weighted round-robin.
// It runs as a local activity because the rotation is shared by all
// messages of the channel on this worker, which replay must not redo.
func (a *Activities) PickAccount(_ context.Context, in PickInput) (int64, error) {
	id, ok := a.balancer.Pick(in.ChannelID, in.Candidates)
	if !ok {
		return 0, nil
	}
	return id, nil
}

// DecideInput is the rule engine's input as the workflow knows it.
type DecideInput struct {
	Rules             []rules.Rule
	Failure           rules.Failure
	AttemptsOnAccount int
	TotalAttempts     int
	MaxAttempts       int
	AccountsLeft      int
	DeferredFor       time.Duration
}

// Decide asks the rule engine what to do after a failure.
func (a *Activities) Decide(_ context.Context, in DecideInput) (rules.Decision, error) {
	return rules.Decide(rules.Input{
		Now:               a.now(),
		Rules:             in.Rules,
		Failure:           in.Failure,
		AttemptsOnAccount: in.AttemptsOnAccount,
		TotalAttempts:     in.TotalAttempts,
		MaxAttempts:       in.MaxAttempts,
		AccountsLeft:      in.AccountsLeft,
		DeferredFor:       in.DeferredFor,
	}), nil
}
