package activities

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/providers/sandbox"
	"github.com/heraldhq/herald/rules"
	"github.com/heraldhq/herald/store"
)

// TestThrottledMemberWaitsLongerThenEnds follows one batch member that its
// only account keeps throttling: each refusal waits longer, uses up no
// attempt, and once throttling has held it back for rules.MaxDeferral the
// member fails, as a single send does, instead of waiting forever.
func TestThrottledMemberWaitsLongerThenEnds(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	a := &Activities{now: func() time.Time { return now }}
	acc := &store.ProviderAccount{ID: 7, Kind: sandbox.Kind, Enabled: true}
	env := &bulkEnv{
		batch: &store.Batch{ID: "b1", Status: store.BatchRunning}, channel: &store.Channel{Type: store.ChannelSMS},
		pool: []store.PoolMember{{Account: *acc, Weight: 1}}, providers: map[int64]providers.Provider{acc.ID: sandbox.New()},
		breakerOff: map[int64]bool{}, halfOpen: map[int64]int{}, probes: map[int64]int{}, maxAtt: 3, a: a,
	}
	m := &store.Message{TaskID: "t1", Receiver: "+8613800138000", MaxAttempts: 3}
	throttled := rules.Failure{Class: rules.ClassThrottled, Code: "Throttling", ProviderKind: sandbox.Kind, MessageType: store.ChannelSMS}

	var delays []time.Duration
	for range 8 {
		// The claim of each send counts an attempt; the throttled
		// refusal takes it back.
		m.AttemptCount++
		u := env.decide(m, acc, throttled, []string{stProcessing}, memberDecision)
		p := u.Patch
		require.NotNil(t, p.Status)
		require.Equal(t, stPending, *p.Status)
		require.True(t, p.UndoAttempt)
		require.True(t, p.Throttled)
		delays = append(delays, p.NextAttemptAt.Sub(now))
		require.Equal(t, p.NextAttemptAt.Sub(now), p.Deferred)
		// What the store does with the patch.
		m.AttemptCount--
		m.ThrottledCount++
		m.DeferredMS += p.Deferred.Milliseconds()
	}
	require.Equal(t, 0, m.AttemptCount, "throttling used up no attempt")
	for i := 1; i < len(delays); i++ {
		require.GreaterOrEqual(t, delays[i], delays[i-1], "waits never shrink: %v", delays)
	}
	require.Greater(t, delays[len(delays)-1], delays[0], "waits grow: %v", delays)

	// Held back for a day: the next refusal ends it.
	m.DeferredMS = rules.MaxDeferral.Milliseconds()
	m.AttemptCount++
	u := env.decide(m, acc, throttled, []string{stProcessing}, memberDecision)
	require.NotNil(t, u.Patch.Status)
	require.Equal(t, stFailed, *u.Patch.Status)
	require.False(t, u.Patch.Throttled)
}

// TestKeepAliveTicksUntilStopped: a batch activity waiting on something
// slow still heartbeats, so only a dead worker runs into the heartbeat
// timeout; once stopped, it heartbeats no more.
func TestKeepAliveTicksUntilStopped(t *testing.T) {
	t.Parallel()
	var beats atomic.Int32
	stop := tick(t.Context(), 10*time.Millisecond, func() { beats.Add(1) })
	require.Eventually(t, func() bool { return beats.Load() >= 3 }, 5*time.Second, time.Millisecond)
	stop()
	n := beats.Load()
	time.Sleep(50 * time.Millisecond)
	require.Equal(t, n, beats.Load(), "none after stop")

	// Outside an activity (or in a local one) it does nothing.
	keepAlive(t.Context(), time.Millisecond)()
}
