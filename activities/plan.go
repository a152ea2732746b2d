package activities

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/heraldhq/herald/internal/traffic"
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
	// SendTimeout bounds one execution of the send activity: the
	// provider's own timeout with a margin, never shorter, so a slow but
	// successful send is not cut off and sent again. Zero (plans recorded
	// before it existed) means DefaultSendTimeout.
	SendTimeout time.Duration
	// FailOnUnknownOutcome is true when, after an unknown outcome that the
	// provider cannot be asked about (CanCheckStatus is false), the message
	// ends failed instead of being sent again: the account's
	// on_unknown_outcome is "fail".
	FailOnUnknownOutcome bool
	// BreakerOpen is true when the account's circuit breaker keeps this
	// message off it: open, or half-open with the probes going elsewhere.
	// BreakerProbe is true when this message is one of a half-open
	// account's probe sends. Both are false in plans recorded before
	// breakers existed, which is the old behaviour.
	BreakerOpen  bool
	BreakerProbe bool
	// CountryExcluded is true when the account cannot send to the
	// receiver's country (its provider does not reach it, or the account's
	// countries leave it out): the message never goes through it. False in
	// plans recorded before country routing, which is the old behaviour.
	CountryExcluded bool
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
	// (its channel was deleted, its app or channel is disabled: CodeAppDisabled,
	// CodeChannelDisabled); ProblemDetail says it in words.
	ProblemCode   string
	ProblemDetail string
	// QuietUntil, when set, is when the quiet hours the plan was loaded in
	// end (QuietZone names their time zone): the message waits until then.
	// Zero when it may go at once, and in plans recorded before quiet
	// hours existed.
	QuietUntil time.Time
	QuietZone  string
	// BreakerWaitUntil, when set, is when to load the plan again because
	// every account the message could use has its breaker open.
	BreakerWaitUntil time.Time
}

// Defaults applied when a channel leaves a setting at zero.
const (
	DefaultReceiptTimeout = 10 * time.Minute
	DefaultMaxAttempts    = 5
)

// DefaultSendTimeout is the shortest limit of one send activity execution,
// and the limit for accounts whose provider states no timeout.
const DefaultSendTimeout = time.Minute

// sendTimeoutMargin covers the store writes around a send and the batch
// window.
const sendTimeoutMargin = 30 * time.Second

// SendTimeoutFor is the limit of one send activity execution through an
// account whose provider times a send out after providerTimeout. A retried
// execution asks the provider for the status before sending, which may
// take as long again; so the limit is twice the provider's timeout plus a
// margin, and never under DefaultSendTimeout.
func SendTimeoutFor(providerTimeout time.Duration) time.Duration {
	return max(DefaultSendTimeout, 2*providerTimeout+sendTimeoutMargin)
}

// Codes of a message stopped because its app or channel was disabled,
// the same as the API answers for a send to a disabled app or channel.
const (
	CodeAppDisabled     = "20006"
	CodeChannelDisabled = "30004"
)

// CodeCountryUnreachable ends a message whose receiver's country no
// enabled account of the channel reaches, the API's 10005 for the same
// receiver at accept. It happens only when the pool changed after the
// message was accepted.
const CodeCountryUnreachable = "10005"

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
	// Disabling an app or a channel stops its messages that have not ended;
	// checked here, with the plan, it costs a started message nothing.
	if code, detail := disabled(msg, app, ch); code != "" {
		// A disabled app is not called back; a disabled channel's app is.
		return Plan{MessageStatus: msg.Status, AppID: msg.AppID, ProblemCode: code, ProblemDetail: detail,
			NotifyStatus: code == CodeChannelDisabled && app != nil && app.StatusCallbackURL != ""}, nil
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
	// SMS receivers go only through accounts that reach their country.
	region, routeByCountry := "", ch.Type == store.ChannelSMS
	if routeByCountry {
		region = traffic.RegionOf(msg.Receiver)
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
				pacc := providers.Account{ID: m.Account.ID, Kind: m.Account.Kind, Config: m.Account.Config}
				pa.Rate = accountRate(m.Account.RateLimitPerMinute, prov, pacc)
				if s, err := a.sender(&m.Account); err == nil {
					_, pa.CanCheckStatus = s.(providers.StatusChecker)
				}
				policy := providers.SendPolicyOf(prov, pacc)
				pa.SendTimeout = SendTimeoutFor(policy.Timeout)
				if msg.BatchID != "" && policy.BatchUnchecked && a.batcher != nil {
					pa.CanCheckStatus = false
				}
				pa.FailOnUnknownOutcome = !pa.CanCheckStatus && policy.OnUnknownOutcome == providers.OnUnknownFail
				pa.CountryExcluded = routeByCountry && !traffic.AccountReaches(prov, m.Account.Countries, region)
			}
		}
		p.Accounts = append(p.Accounts, pa)
	}
	if unreachable(p.Accounts) {
		p.ProblemCode = CodeCountryUnreachable
		p.ProblemDetail = fmt.Sprintf("receiver's country (%s) is reached by no enabled provider account of channel %d", regionName(region), ch.ID)
		return p, nil
	}
	// Quiet hours first: a message that will wait for them takes no probe
	// of a half-open account now (see applyBreakers).
	if p.QuietUntil, p.QuietZone, err = a.quietUntil(ctx, msg, app, ch); err != nil {
		return Plan{}, err
	}
	if p.FirstAccountID, err = a.applyBreakers(ctx, &p, in.ChannelID, !p.QuietUntil.IsZero()); err != nil {
		return Plan{}, err
	}
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

// unreachable tells whether the pool has accounts that could send but
// none of them reaches the receiver's country. A pool without any usable
// account is left to the workflow, which fails it for that.
func unreachable(accounts []PlanAccount) bool {
	usable := false
	for _, pa := range accounts {
		if !pa.Enabled || pa.Weight <= 0 {
			continue
		}
		if !pa.CountryExcluded {
			return false
		}
		usable = true
	}
	return usable
}

func regionName(region string) string {
	if region == "" {
		return "unknown"
	}
	return region
}

// disabled returns the code and the words for a message whose app or
// channel is disabled, or an empty code. A missing app is left to the
// caller: the message was accepted for it.
func disabled(msg *store.Message, app *store.App, ch *store.Channel) (code, detail string) {
	switch {
	case app != nil && !app.Enabled:
		return CodeAppDisabled, fmt.Sprintf("app %s is disabled; nothing more is sent", msg.AppID)
	case ch != nil && !ch.Enabled:
		return CodeChannelDisabled, fmt.Sprintf("channel %d is disabled; nothing more is sent", ch.ID)
	}
	return "", ""
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
