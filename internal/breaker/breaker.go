// Package breaker is the circuit breaker of one provider account as a pure
// state machine: outcome counts and the clock go in, transitions come out.
// It imports no Temporal, database or HTTP package; the breaker workflow
// (workflows.BreakerWorkflow) holds one Breaker per account and publishes
// its state to the store, where senders read it.
//
// States go closed → open → half-open → closed. A closed breaker opens only
// when, within the window, both the failures reach MinFailures and their
// share of all outcomes reaches FailureRatio: a few failures of a quiet
// account, or a steady trickle of failures of a busy one, never open it
// (hysteresis). An open breaker half-opens after CoolDown; a half-open one
// lets Probes messages through, closes after CloseAfter successes in a row
// and opens again on any failure. An operator can force open or closed; a
// forced state holds until Auto.
package breaker

import (
	"fmt"
	"time"
)

// State is a breaker's state.
type State string

// Breaker states, as stored and printed.
const (
	Closed   State = "closed"
	Open     State = "open"
	HalfOpen State = "half_open"
)

// Config holds the thresholds of one account's breaker.
type Config struct {
	// MinFailures and FailureRatio must both be reached within Window for
	// a closed breaker to open.
	MinFailures  int
	FailureRatio float64
	Window       time.Duration
	// CoolDown is how long an open breaker stays open before half-opening.
	CoolDown time.Duration
	// Probes is how many messages a half-open breaker lets through per
	// probe round; CloseAfter successes in a row close it.
	Probes     int
	CloseAfter int
	// ReceiptFailureRatio is the share of failed delivery receipts that
	// is ordinary (unreachable phones, full mailboxes): only failed
	// receipts beyond it count as failures of the account.
	ReceiptFailureRatio float64
}

// Defaults, in the spirit of GOV.UK Notify's failover thresholds.
const (
	DefaultMinFailures  = 50
	DefaultFailureRatio = 0.5
	DefaultWindow       = 60 * time.Second
	DefaultCoolDown     = 60 * time.Second
	DefaultProbes       = 5
	DefaultCloseAfter   = 3

	DefaultReceiptFailureRatio = 0.5
)

// WithDefaults fills every zero setting with its default.
func (c Config) WithDefaults() Config {
	if c.MinFailures <= 0 {
		c.MinFailures = DefaultMinFailures
	}
	if c.FailureRatio <= 0 {
		c.FailureRatio = DefaultFailureRatio
	}
	if c.Window <= 0 {
		c.Window = DefaultWindow
	}
	if c.CoolDown <= 0 {
		c.CoolDown = DefaultCoolDown
	}
	if c.Probes <= 0 {
		c.Probes = DefaultProbes
	}
	if c.CloseAfter <= 0 {
		c.CloseAfter = DefaultCloseAfter
	}
	if c.ReceiptFailureRatio <= 0 {
		c.ReceiptFailureRatio = DefaultReceiptFailureRatio
	}
	return c
}

// Validate lists what is wrong with explicitly set values.
func (c Config) Validate() error {
	switch {
	case c.MinFailures < 0:
		return fmt.Errorf("min_failures must not be negative, got %d", c.MinFailures)
	case !(c.FailureRatio >= 0 && c.FailureRatio <= 1): // NaN too
		return fmt.Errorf("failure_ratio must be between 0 and 1, got %g", c.FailureRatio)
	case !(c.ReceiptFailureRatio >= 0 && c.ReceiptFailureRatio <= 1):
		return fmt.Errorf("receipt_failure_ratio must be between 0 and 1, got %g", c.ReceiptFailureRatio)
	case c.Window < 0 || c.CoolDown < 0:
		return fmt.Errorf("window and cool_down must not be negative")
	case c.Probes < 0 || c.CloseAfter < 0:
		return fmt.Errorf("probes and close_after must not be negative")
	}
	// Compared with the defaults filled in: probes of 2 alone would meet
	// the default close_after of 3.
	if d := c.WithDefaults(); d.CloseAfter > d.Probes {
		return fmt.Errorf("close_after (%d) must not exceed probes (%d), or a probe round can never close the breaker", d.CloseAfter, d.Probes)
	}
	return nil
}

// Settings is Config as an account's "breaker" setting spells it (herald
// apply), durations in seconds; zero fields take the defaults.
type Settings struct {
	MinFailures     int     `json:"min_failures,omitempty" yaml:"min_failures"`
	FailureRatio    float64 `json:"failure_ratio,omitempty" yaml:"failure_ratio"`
	WindowSeconds   int     `json:"window_seconds,omitempty" yaml:"window_seconds"`
	CoolDownSeconds int     `json:"cool_down_seconds,omitempty" yaml:"cool_down_seconds"`
	Probes          int     `json:"probes,omitempty" yaml:"probes"`
	CloseAfter      int     `json:"close_after,omitempty" yaml:"close_after"`
	// ReceiptFailureRatio is the ordinary share of failed receipts.
	ReceiptFailureRatio float64 `json:"receipt_failure_ratio,omitempty" yaml:"receipt_failure_ratio"`
}

// Config converts the settings, without applying defaults.
func (s Settings) Config() Config {
	return Config{MinFailures: s.MinFailures, FailureRatio: s.FailureRatio,
		Window: time.Duration(s.WindowSeconds) * time.Second, CoolDown: time.Duration(s.CoolDownSeconds) * time.Second,
		Probes: s.Probes, CloseAfter: s.CloseAfter, ReceiptFailureRatio: s.ReceiptFailureRatio}
}

// Counts are outcomes of sends through one account. Only failures that
// speak about the account count as failures.
type Counts struct {
	Successes int `json:"successes"`
	Failures  int `json:"failures"`
	// ReceiptsDelivered and ReceiptsFailed count delivery receipts of
	// sends through the account.
	ReceiptsDelivered int `json:"receipts_delivered,omitempty"`
	ReceiptsFailed    int `json:"receipts_failed,omitempty"`
}

// Total is all sends counted.
func (c Counts) Total() int { return c.Successes + c.Failures }

// empty is true when nothing at all was counted.
func (c Counts) empty() bool {
	return c.Total() == 0 && c.ReceiptsDelivered == 0 && c.ReceiptsFailed == 0
}

// ExcessReceiptFailures is how many failed receipts go beyond the
// ordinary share: those speak about the account.
func (c Counts) ExcessReceiptFailures(ratio float64) int {
	return max(0, c.ReceiptsFailed-int(ratio*float64(c.ReceiptsDelivered+c.ReceiptsFailed)))
}

// Bucket is the counts reported at one instant.
type Bucket struct {
	At time.Time
	Counts
}

// Breaker is one account's breaker. Its fields are exported so that it
// survives serialisation (a workflow's continue-as-new); change it only
// through its methods.
type Breaker struct {
	State  State
	Since  time.Time
	Reason string
	Forced bool
	// HalfOpenAt is when an open, unforced breaker half-opens.
	HalfOpenAt time.Time
	// Round numbers probe rounds; each half-open period (and each renewal
	// of one whose probes never reported) gets a fresh budget.
	Round int
	// Streak counts successes in a row while half-open.
	Streak  int
	Buckets []Bucket
}

// Transition is one change of state with its reason.
type Transition struct {
	From, To State
	Reason   string
	Actor    string
	At       time.Time
	Forced   bool
}

// Actor of automatic transitions.
const ActorAuto = "breaker"

// New returns a closed breaker.
func New(now time.Time) Breaker { return Breaker{State: Closed, Since: now, Reason: "initial state"} }

// Window sums the counts reported within cfg.Window before now.
func (b *Breaker) Window(cfg Config, now time.Time) Counts {
	b.prune(cfg, now)
	var c Counts
	for _, k := range b.Buckets {
		c.Successes += k.Successes
		c.Failures += k.Failures
		c.ReceiptsDelivered += k.ReceiptsDelivered
		c.ReceiptsFailed += k.ReceiptsFailed
	}
	return c
}

func (b *Breaker) prune(cfg Config, now time.Time) {
	from := now.Add(-cfg.WithDefaults().Window)
	i := 0
	for i < len(b.Buckets) && !b.Buckets[i].At.After(from) {
		i++
	}
	b.Buckets = append(b.Buckets[:0:0], b.Buckets[i:]...)
}

// Record adds outcome counts reported at now and returns the transition
// they cause, if any.
func (b *Breaker) Record(cfg Config, now time.Time, c Counts) (Transition, bool) {
	cfg = cfg.WithDefaults()
	if c.empty() {
		return Transition{}, false
	}
	b.Buckets = append(b.Buckets, Bucket{At: now, Counts: c})
	w := b.Window(cfg, now)
	if b.Forced {
		return Transition{}, false
	}
	switch b.State {
	case Closed:
		excess := w.ExcessReceiptFailures(cfg.ReceiptFailureRatio)
		failures := w.Failures + excess
		if failures >= cfg.MinFailures && float64(failures) >= cfg.FailureRatio*float64(max(w.Total(), failures)) {
			reason := fmt.Sprintf("%d of %d sends failed within %s (thresholds: %d failures, %.0f%%)",
				w.Failures, w.Total(), cfg.Window, cfg.MinFailures, cfg.FailureRatio*100)
			if excess > 0 {
				reason += fmt.Sprintf("; %d of %d delivery receipts failed, %d beyond the ordinary %.0f%% counted",
					w.ReceiptsFailed, w.ReceiptsDelivered+w.ReceiptsFailed, excess, cfg.ReceiptFailureRatio*100)
			}
			return b.open(cfg, now, reason), true
		}
	case HalfOpen:
		// Receipts trail their sends: while half-open only the probes'
		// own answers decide.
		c.ReceiptsDelivered, c.ReceiptsFailed = 0, 0
		if c.Failures > 0 {
			return b.open(cfg, now, fmt.Sprintf("%d probe send(s) failed while half-open", c.Failures)), true
		}
		b.Streak += c.Successes
		if b.Streak >= min(cfg.CloseAfter, cfg.Probes) {
			return b.move(now, Closed, fmt.Sprintf("%d probe sends succeeded in a row", b.Streak), ActorAuto, false), true
		}
	}
	return Transition{}, false
}

// Tick advances time: an open breaker whose cool-down is over half-opens,
// and a half-open one whose probes have not all reported within a
// cool-down starts a new probe round (its messages may have been
// cancelled, or their outcomes lost with a worker). It returns the
// transition, if any; a new round is not one, renewed reports it.
func (b *Breaker) Tick(cfg Config, now time.Time) (t Transition, changed bool, renewed bool) {
	cfg = cfg.WithDefaults()
	if b.Forced {
		return Transition{}, false, false
	}
	switch b.State {
	case Open:
		if !now.Before(b.HalfOpenAt) {
			t := b.move(now, HalfOpen, fmt.Sprintf("cool-down of %s over; letting %d probe sends through", cfg.CoolDown, cfg.Probes), ActorAuto, false)
			return t, true, false
		}
	case HalfOpen:
		if !now.Before(b.HalfOpenAt.Add(cfg.CoolDown)) {
			b.Round++
			b.HalfOpenAt = now
			return Transition{}, false, true
		}
	}
	return Transition{}, false, false
}

// NextTick is when Tick may next change something, or zero for never.
func (b *Breaker) NextTick(cfg Config) time.Time {
	cfg = cfg.WithDefaults()
	if b.Forced {
		return time.Time{}
	}
	switch b.State {
	case Open:
		return b.HalfOpenAt
	case HalfOpen:
		return b.HalfOpenAt.Add(cfg.CoolDown)
	}
	return time.Time{}
}

// Force holds the breaker open or closed until Auto.
func (b *Breaker) Force(now time.Time, to State, reason, actor string) Transition {
	t := b.move(now, to, reason, actor, true)
	b.Buckets = nil
	return t
}

// Auto hands the breaker back to its thresholds: a forced-open breaker
// half-opens (probes decide), a forced-closed one stays closed.
func (b *Breaker) Auto(now time.Time, reason, actor string) Transition {
	to := Closed
	if b.State != Closed {
		to = HalfOpen
	}
	t := b.move(now, to, reason, actor, false)
	b.Buckets = nil
	return t
}

func (b *Breaker) open(cfg Config, now time.Time, reason string) Transition {
	t := b.move(now, Open, reason, ActorAuto, false)
	b.HalfOpenAt = now.Add(cfg.CoolDown)
	return t
}

func (b *Breaker) move(now time.Time, to State, reason, actor string, forced bool) Transition {
	t := Transition{From: b.State, To: to, Reason: reason, Actor: actor, At: now, Forced: forced}
	b.State, b.Since, b.Reason, b.Forced = to, now, reason, forced
	b.Streak = 0
	if to == HalfOpen {
		b.Round++
		b.HalfOpenAt = now
	}
	// A fresh window after every change: outcomes from before an opening
	// must not re-open the breaker the moment it closes.
	b.Buckets = nil
	return t
}
