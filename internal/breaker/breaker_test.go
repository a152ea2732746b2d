package breaker

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestRandomFailuresBelowThresholdsNeverOpen(t *testing.T) {
	t.Parallel()
	cfg := Config{}.WithDefaults()
	rng := rand.New(rand.NewPCG(7, 42))
	b := New(t0)
	now := t0
	// An hour of one report a second, 20 sends each, 30 % failing at
	// random: well over 50 failures per window, but under the ratio.
	for i := 0; i < 3600; i++ {
		now = now.Add(time.Second)
		var c Counts
		for j := 0; j < 20; j++ {
			if rng.Float64() < 0.3 {
				c.Failures++
			} else {
				c.Successes++
			}
		}
		_, changed := b.Record(cfg, now, c)
		require.False(t, changed, "opened at second %d with window %+v", i, b.Window(cfg, now))
	}
	require.Equal(t, Closed, b.State)
}

func TestFewFailuresNeverOpen(t *testing.T) {
	t.Parallel()
	cfg := Config{}.WithDefaults()
	b := New(t0)
	// 100 % failures, but never 50 within a minute.
	for i := 0; i < 600; i++ {
		_, changed := b.Record(cfg, t0.Add(time.Duration(i)*2*time.Second), Counts{Failures: 1})
		require.False(t, changed)
	}
}

func TestOpensHalfOpensAndCloses(t *testing.T) {
	t.Parallel()
	cfg := Config{MinFailures: 10, FailureRatio: 0.5, Window: 10 * time.Second, CoolDown: 5 * time.Second, Probes: 3, CloseAfter: 3}
	b := New(t0)
	var tr Transition
	var changed bool
	for i := 1; i <= 10 && !changed; i++ {
		tr, changed = b.Record(cfg, t0.Add(time.Duration(i)*100*time.Millisecond), Counts{Failures: 1})
	}
	require.True(t, changed)
	require.Equal(t, Closed, tr.From)
	require.Equal(t, Open, tr.To)
	require.Contains(t, tr.Reason, "10 of 10 sends failed")
	opened := b.Since

	// Outcomes reported while open (sends already under way) change nothing.
	_, changed = b.Record(cfg, opened.Add(time.Second), Counts{Successes: 50})
	require.False(t, changed)
	require.Equal(t, Open, b.State)

	_, changed, _ = b.Tick(cfg, opened.Add(4*time.Second))
	require.False(t, changed)
	require.Equal(t, opened.Add(5*time.Second), b.NextTick(cfg))
	tr, changed, _ = b.Tick(cfg, opened.Add(5*time.Second))
	require.True(t, changed)
	require.Equal(t, HalfOpen, tr.To)
	round := b.Round

	_, changed = b.Record(cfg, opened.Add(6*time.Second), Counts{Successes: 2})
	require.False(t, changed)
	tr, changed = b.Record(cfg, opened.Add(7*time.Second), Counts{Successes: 1})
	require.True(t, changed)
	require.Equal(t, Closed, tr.To)
	require.Equal(t, round, b.Round)
	require.Equal(t, Counts{}, b.Window(cfg, opened.Add(7*time.Second)), "closing starts a fresh window")
}

func TestHalfOpenFailureOpensAgain(t *testing.T) {
	t.Parallel()
	cfg := Config{MinFailures: 2, Window: 10 * time.Second, CoolDown: 5 * time.Second}
	b := New(t0)
	_, changed := b.Record(cfg, t0, Counts{Failures: 2})
	require.True(t, changed)
	_, changed, _ = b.Tick(cfg, t0.Add(5*time.Second))
	require.True(t, changed)
	_, changed = b.Record(cfg, t0.Add(6*time.Second), Counts{Successes: 1})
	require.False(t, changed)
	tr, changed := b.Record(cfg, t0.Add(7*time.Second), Counts{Failures: 1})
	require.True(t, changed)
	require.Equal(t, HalfOpen, tr.From)
	require.Equal(t, Open, tr.To)
	require.Equal(t, t0.Add(12*time.Second), b.HalfOpenAt, "a new cool-down")
}

func TestHalfOpenWithoutReportsStartsNewRound(t *testing.T) {
	t.Parallel()
	cfg := Config{MinFailures: 1, CoolDown: 5 * time.Second}
	b := New(t0)
	b.Record(cfg, t0, Counts{Failures: 1})
	b.Tick(cfg, t0.Add(5*time.Second))
	round := b.Round
	_, changed, renewed := b.Tick(cfg, t0.Add(9*time.Second))
	require.False(t, changed || renewed)
	_, changed, renewed = b.Tick(cfg, t0.Add(10*time.Second))
	require.False(t, changed)
	require.True(t, renewed)
	require.Equal(t, round+1, b.Round)
	require.Equal(t, HalfOpen, b.State)
}

func TestForcedStateHoldsUntilAuto(t *testing.T) {
	t.Parallel()
	cfg := Config{MinFailures: 1, CoolDown: time.Second}
	b := New(t0)
	tr := b.Force(t0, Open, "provider maintenance", "cli")
	require.Equal(t, Transition{From: Closed, To: Open, Reason: "provider maintenance", Actor: "cli", At: t0, Forced: true}, tr)
	_, changed, _ := b.Tick(cfg, t0.Add(time.Hour))
	require.False(t, changed, "a forced-open breaker never half-opens by itself")
	require.True(t, b.NextTick(cfg).IsZero())

	tr = b.Auto(t0.Add(time.Hour), "maintenance over", "cli")
	require.Equal(t, HalfOpen, tr.To)
	require.False(t, b.Forced)

	b.Force(t0.Add(2*time.Hour), Closed, "known false alarms", "cli")
	_, changed = b.Record(cfg, t0.Add(2*time.Hour), Counts{Failures: 100})
	require.False(t, changed, "a forced-closed breaker never opens by itself")
	tr = b.Auto(t0.Add(3*time.Hour), "back to thresholds", "cli")
	require.Equal(t, Closed, tr.To)
	_, changed = b.Record(cfg, t0.Add(3*time.Hour), Counts{Failures: 1})
	require.True(t, changed)
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	require.NoError(t, Config{}.Validate())
	require.Error(t, Config{FailureRatio: 1.5}.Validate())
	require.Error(t, Config{FailureRatio: math.NaN()}.Validate())
	require.Error(t, Config{Probes: 2, CloseAfter: 3}.Validate())
	require.Error(t, Config{MinFailures: -1}.Validate())
}

func TestProbesBelowDefaultCloseAfter(t *testing.T) {
	t.Parallel()
	require.ErrorContains(t, Config{Probes: 2}.Validate(), "close_after (3) must not exceed probes (2)")
	// Stored thresholds that slipped past validation still close.
	cfg := Config{MinFailures: 1, Probes: 2, CloseAfter: 3}
	b := New(t0)
	b.Record(cfg, t0, Counts{Failures: 1})
	b.Tick(cfg, t0.Add(DefaultCoolDown))
	tr, changed := b.Record(cfg, t0.Add(DefaultCoolDown+time.Second), Counts{Successes: 2})
	require.True(t, changed)
	require.Equal(t, Closed, tr.To)
}

func TestFailedReceiptsBeyondTheRatio(t *testing.T) {
	t.Parallel()
	cfg := Config{MinFailures: 10, Window: time.Minute}
	b := New(t0)
	// Every send accepted; 40 % of receipts failing is ordinary (wrong
	// numbers, phones off) and never opens the breaker.
	for i := range 60 {
		_, changed := b.Record(cfg, t0.Add(time.Duration(i)*time.Second), Counts{Successes: 10, ReceiptsDelivered: 6, ReceiptsFailed: 4})
		require.False(t, changed)
	}
	// Receipts failing far beyond the ordinary share do.
	b = New(t0)
	var tr Transition
	var changed bool
	for i := 0; i < 10 && !changed; i++ {
		tr, changed = b.Record(cfg, t0.Add(time.Duration(i)*time.Second), Counts{Successes: 10, ReceiptsFailed: 10})
	}
	require.True(t, changed)
	require.Contains(t, tr.Reason, "delivery receipts failed")
}
