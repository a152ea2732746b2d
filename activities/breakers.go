package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.uber.org/zap"

	"github.com/heraldhq/herald/internal/breaker"
	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/store"
)

// BreakerStore is the part of the store the circuit breakers use: the
// published states (read through the cache by every plan load), the probe
// budget of half-open accounts, and the account's thresholds.
type BreakerStore interface {
	ListBreakerStates(ctx context.Context) ([]store.BreakerState, error)
	TakeBreakerProbe(ctx context.Context, accountID int64, round int) (bool, error)
	PublishBreaker(ctx context.Context, st *store.BreakerState, ev *store.BreakerEvent) error
	GetAccount(ctx context.Context, id int64) (*store.ProviderAccount, error)
}

// WithBreakers makes plan loads skip accounts whose breaker is open and
// send outcomes feed the breakers through outcomes (which may be nil in
// processes that only read). Without it no account is ever skipped.
func WithBreakers(st BreakerStore, outcomes *OutcomeAggregator) Option {
	return func(a *Activities) { a.breakers, a.outcomes = st, outcomes }
}

// OutcomeAggregator sums the outcomes of this process's sends per account
// between flushes, so that a breaker hears from each worker about once a
// second instead of once per message.
type OutcomeAggregator struct {
	mu     sync.Mutex
	counts map[int64]breaker.Counts
}

// NewOutcomeAggregator returns an empty aggregator.
func NewOutcomeAggregator() *OutcomeAggregator {
	return &OutcomeAggregator{counts: make(map[int64]breaker.Counts)}
}

// Add counts outcomes of sends through accountID and receipts of them.
func (g *OutcomeAggregator) Add(accountID int64, c breaker.Counts) {
	g.mu.Lock()
	defer g.mu.Unlock()
	cur := g.counts[accountID]
	cur.Successes += c.Successes
	cur.Failures += c.Failures
	cur.ReceiptsDelivered += c.ReceiptsDelivered
	cur.ReceiptsFailed += c.ReceiptsFailed
	g.counts[accountID] = cur
}

// Drain returns the counts gathered since the last drain and forgets them.
func (g *OutcomeAggregator) Drain() map[int64]breaker.Counts {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := g.counts
	g.counts = make(map[int64]breaker.Counts)
	return out
}

// Run flushes the counts every interval until ctx ends, and once more
// then. Counts whose flush failed (the workflow engine unreachable) are
// kept for the next one: they are a few integers per account.
func (g *OutcomeAggregator) Run(ctx context.Context, interval time.Duration, flush func(context.Context, int64, breaker.Counts) error, log *zap.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			// The last counts go out on a context of their own.
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			g.flushAll(fctx, flush, log)
			cancel()
			return
		case <-t.C:
			g.flushAll(ctx, flush, log)
		}
	}
}

func (g *OutcomeAggregator) flushAll(ctx context.Context, flush func(context.Context, int64, breaker.Counts) error, log *zap.Logger) {
	for id, c := range g.Drain() {
		if err := flush(ctx, id, c); err != nil {
			log.Warn("could not report send outcomes to the account's breaker", zapAccount(id), zapErr(err))
			g.Add(id, c)
		}
	}
}

// countsAgainstAccount tells whether a failure of this class speaks about
// the account: its credentials or balance, the provider being down, an
// unknown outcome. A receiver's permanent error, a configuration mistake
// and throttling (the account is fine, only busy) never count.
func countsAgainstAccount(c providers.Class) bool {
	switch c {
	case providers.ClassAccount, providers.ClassTransient, providers.ClassUnknownOutcome:
		return true
	}
	return false
}

// reportOutcome feeds a provider's answer to a send into the account's
// breaker.
func (a *Activities) reportOutcome(accountID int64, err error) {
	if a.outcomes == nil {
		return
	}
	if err == nil {
		a.outcomes.Add(accountID, breaker.Counts{Successes: 1})
		return
	}
	if countsAgainstAccount(providers.AsError(err).Class) {
		a.outcomes.Add(accountID, breaker.Counts{Failures: 1})
	}
}

// Breaker waits of a message whose channel has every account open.
const (
	// BreakerRecheck is how long a message waits for an account that is
	// forced open, or half-open with its probes all taken, before loading
	// the plan again.
	BreakerRecheck = 30 * time.Second
	// breakerJitter spreads messages released together by a half-opening
	// account over this much time.
	breakerJitter = 2 * time.Second
)

// applyBreakers marks the plan's accounts whose breaker is open, and
// half-open ones this message does not probe, as skipped; it returns the
// first pick among the rest. A half-open account is picked only with one
// of its probe sends. When every account is skipped, BreakerWaitUntil
// says when to look again. With deferProbes (the message waits for quiet
// hours before it is sent) a half-open account is picked without taking a
// probe: the send activity takes it when the message actually goes, so a
// waiting message does not hold a probe that others could use.
func (a *Activities) applyBreakers(ctx context.Context, p *Plan, channelID int64, deferProbes bool) (int64, error) {
	var states map[int64]store.BreakerState
	if a.breakers != nil {
		list, err := a.breakers.ListBreakerStates(ctx)
		if err != nil {
			return 0, fmt.Errorf("load breaker states: %w", err)
		}
		states = make(map[int64]store.BreakerState, len(list))
		for _, st := range list {
			states[st.AccountID] = st
		}
	}
	now := a.now()
	var wake time.Time
	skipped := false
	skip := func(i int, until time.Time) {
		if p.Accounts[i].CountryExcluded {
			// Never used by this message: its breaker is no reason to wait.
			return
		}
		p.Accounts[i].BreakerOpen = true
		skipped = true
		if until.Before(now) {
			until = now.Add(BreakerRecheck)
		}
		if wake.IsZero() || until.Before(wake) {
			wake = until
		}
	}
	for i, pa := range p.Accounts {
		st, ok := states[pa.ID]
		if !ok || !pa.Enabled || st.State != string(breaker.Open) {
			continue
		}
		until := now.Add(BreakerRecheck)
		if !st.Forced && st.HalfOpenAt != nil {
			until = *st.HalfOpenAt
		}
		skip(i, until)
	}
	for {
		var cands []Candidate
		for _, pa := range p.Accounts {
			if pa.Enabled && pa.Weight > 0 && !pa.BreakerOpen && !pa.CountryExcluded {
				cands = append(cands, Candidate{AccountID: pa.ID, Weight: pa.Weight})
			}
		}
		id, ok := a.balancer.Pick(channelID, cands)
		if !ok {
			if skipped {
				p.BreakerWaitUntil = wake.Add(rand.N(breakerJitter))
			}
			return 0, nil
		}
		st, tracked := states[id]
		if !tracked || st.State != string(breaker.HalfOpen) {
			// Half-open accounts not picked carry only probes: skip them
			// for the rest of this message.
			for i, pa := range p.Accounts {
				if s, ok := states[pa.ID]; ok && s.State == string(breaker.HalfOpen) && !pa.BreakerOpen {
					skip(i, now.Add(BreakerRecheck))
				}
			}
			return id, nil
		}
		if deferProbes {
			return id, nil
		}
		probe, err := a.breakers.TakeBreakerProbe(ctx, id, st.Round)
		if err != nil {
			return 0, err
		}
		for i, pa := range p.Accounts {
			if pa.ID == id {
				if probe {
					p.Accounts[i].BreakerProbe = true
				} else {
					skip(i, now.Add(BreakerRecheck))
				}
			}
		}
		if probe {
			for i, pa := range p.Accounts {
				if s, ok := states[pa.ID]; ok && s.State == string(breaker.HalfOpen) && pa.ID != id && !pa.BreakerOpen {
					skip(i, now.Add(BreakerRecheck))
				}
			}
			a.log.Info("probe send through a half-open account", zapAccount(id), zap.Int("round", st.Round))
			return id, nil
		}
	}
}

// PublishBreakerRequest is an account breaker's state to publish, with the
// transition that led to it when there is one.
type PublishBreakerRequest struct {
	AccountID  int64
	Breaker    breaker.Breaker
	Probes     int
	Window     breaker.Counts
	Transition *breaker.Transition
}

// PublishBreaker writes a breaker's state (and transition) to the store,
// logs and alerts on a transition, and returns the account's current
// thresholds, so that a change made with herald apply reaches the breaker
// at its next publish.
func (a *Activities) PublishBreaker(ctx context.Context, req PublishBreakerRequest) (breaker.Config, error) {
	if a.breakers == nil {
		return breaker.Config{}, fmt.Errorf("breakers are not configured in this worker")
	}
	acc, err := a.breakers.GetAccount(ctx, req.AccountID)
	if errors.Is(err, store.ErrNotFound) {
		// A deleted account's breaker has nothing left to guard; its
		// workflow ends, and starts again only if the account comes back.
		return breaker.Config{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("provider account %d does not exist", req.AccountID), "account.not_found", err)
	}
	if err != nil {
		return breaker.Config{}, fmt.Errorf("load account %d: %w", req.AccountID, err)
	}
	b := req.Breaker
	st := &store.BreakerState{
		AccountID: req.AccountID, State: string(b.State), Since: b.Since, Reason: b.Reason, Forced: b.Forced,
		Round: b.Round, Probes: req.Probes, WindowFailures: req.Window.Failures, WindowTotal: req.Window.Total(),
	}
	if !b.HalfOpenAt.IsZero() {
		t := b.HalfOpenAt
		st.HalfOpenAt = &t
	}
	var ev *store.BreakerEvent
	if tr := req.Transition; tr != nil {
		ev = &store.BreakerEvent{AccountID: req.AccountID, From: string(tr.From), To: string(tr.To), Reason: tr.Reason, Actor: tr.Actor, Forced: tr.Forced, At: tr.At}
	}
	if err := a.breakers.PublishBreaker(ctx, st, ev); err != nil {
		return breaker.Config{}, err
	}
	a.metrics.BreakerState(acc.ID, acc.Kind, string(b.State))
	cfg, err := BreakerConfigOf(acc)
	if err != nil {
		a.log.Warn("account breaker settings unreadable; using the defaults", zapAccount(acc.ID), zapErr(err))
	}
	if tr := req.Transition; tr != nil {
		a.log.Warn("account breaker changed state", zapAccount(acc.ID), zap.String("kind", acc.Kind),
			zap.String("from", string(tr.From)), zap.String("to", string(tr.To)), zap.Bool("forced", tr.Forced),
			zap.String("actor", tr.Actor), zap.String("reason", tr.Reason))
		// An alert that cannot be posted must not undo the publish: the
		// transition is in the audit trail and the log either way.
		if err := a.breakerAlert(ctx, acc, *tr); err != nil {
			a.log.Warn("breaker alert could not be delivered", zapAccount(acc.ID), zapErr(err))
		}
	}
	return cfg, nil
}

// BreakerConfigOf reads an account's breaker thresholds, defaults filled.
func BreakerConfigOf(acc *store.ProviderAccount) (breaker.Config, error) {
	var s breaker.Settings
	if acc.Breaker != "" {
		if err := json.Unmarshal([]byte(acc.Breaker), &s); err != nil {
			return breaker.Config{}.WithDefaults(), fmt.Errorf("account %d breaker settings: %w", acc.ID, err)
		}
	}
	return s.Config().WithDefaults(), nil
}

// breakerAlert posts a breaker transition to the alert webhook, as an
// event of type herald.breaker. It names the account, never a receiver.
func (a *Activities) breakerAlert(ctx context.Context, acc *store.ProviderAccount, tr breaker.Transition) error {
	if a.cfg.AlertWebhookURL == "" {
		return nil
	}
	body, err := json.Marshal(map[string]any{
		"type":      "herald.breaker",
		"timestamp": a.now().UTC().Format(time.RFC3339),
		"data": map[string]any{
			"account_id":    acc.ID,
			"account_name":  acc.Name,
			"provider_kind": acc.Kind,
			"from":          tr.From,
			"to":            tr.To,
			"forced":        tr.Forced,
			"actor":         tr.Actor,
			"reason":        tr.Reason,
			"at":            tr.At.UTC().Format(time.RFC3339Nano),
		},
	})
	if err != nil {
		return fmt.Errorf("encode breaker alert: %w", err)
	}
	id := fmt.Sprintf("breaker_%d_%s_%d", acc.ID, tr.To, tr.At.UnixNano())
	return a.post(ctx, a.cfg.AlertWebhookURL, a.cfg.AlertWebhookSecret, id, body)
}

// BreakerErrorType is the application error type of a send refused because
// the account's circuit breaker opened (or half-opened with its probes
// taken) after the message picked the account. Nothing was written or
// sent; the workflow picks another account (see BreakerRefusalOf).
const BreakerErrorType = "account.breaker_open"

// checkBreaker refuses a send through an account whose breaker keeps the
// message off it now: open, or half-open when this message holds none of
// its probes and none is left to take. The states come through the
// configuration cache (at most a couple of seconds old), so the check
// costs a delivered message no query; a probe is taken here, when the
// message is actually sent, if the plan did not take one. Send skips it on
// a retried execution: the first one may have reached the provider, and
// refusing now would not unsend it.
func (a *Activities) checkBreaker(ctx context.Context, req SendRequest) error {
	if a.breakers == nil {
		return nil
	}
	list, err := a.breakers.ListBreakerStates(ctx)
	if err != nil {
		return fmt.Errorf("load breaker states: %w", err)
	}
	var st *store.BreakerState
	for i := range list {
		if list[i].AccountID == req.AccountID {
			st = &list[i]
			break
		}
	}
	if st == nil {
		return nil
	}
	switch breaker.State(st.State) {
	case breaker.Open:
		return breakerRefusal(req.AccountID, fmt.Sprintf("provider account %d's circuit breaker opened after the message picked it; nothing was sent through it", req.AccountID))
	case breaker.HalfOpen:
		if req.Probe {
			return nil
		}
		probe, err := a.breakers.TakeBreakerProbe(ctx, req.AccountID, st.Round)
		if err != nil {
			return fmt.Errorf("take a probe of account %d: %w", req.AccountID, err)
		}
		if probe {
			a.log.Info("probe send through a half-open account", zapAccount(req.AccountID), zap.Int("round", st.Round))
			return nil
		}
		return breakerRefusal(req.AccountID, fmt.Sprintf("provider account %d's circuit breaker is half-open and its probe sends are taken; nothing was sent through it", req.AccountID))
	}
	return nil
}

func breakerRefusal(accountID int64, detail string) error {
	return temporal.NewApplicationErrorWithOptions(detail, BreakerErrorType, temporal.ApplicationErrorOptions{
		NonRetryable: true, Category: temporal.ApplicationErrorCategoryBenign,
		Details: []any{Failure{Code: CodeBreakerOpen, Message: detail}},
	})
}

// CodeBreakerOpen is the code of a send refused for its account's breaker,
// the API's 40007.
const CodeBreakerOpen = "40007"

// BreakerRefusalOf extracts the refusal of a send whose account's breaker
// keeps the message off it; ok is false for any other error.
func BreakerRefusalOf(err error) (f Failure, ok bool) {
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != BreakerErrorType {
		return Failure{}, false
	}
	if !appErr.HasDetails() || appErr.Details(&f) != nil {
		f = Failure{Code: CodeBreakerOpen, Message: appErr.Message()}
	}
	return f, true
}
