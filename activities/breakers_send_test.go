package activities

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/store"
)

func TestSendRechecksBreaker(t *testing.T) {
	t.Parallel()
	req := SendRequest{TaskID: taskID, AccountID: 11, Attempt: 1, CheckBreaker: true}

	t.Run("OpenedAfterThePick", func(t *testing.T) {
		t.Parallel()
		bs := newFakeBreakerStore()
		w := setup(t, WithBreakers(bs, nil))
		bs.set(11, store.BreakerState{State: "open"})
		_, err := runSend(t, w.acts, req)
		f, ok := BreakerRefusalOf(err)
		require.True(t, ok, "refused for the breaker: %v", err)
		require.Equal(t, CodeBreakerOpen, f.Code)
		require.Contains(t, f.Message, "provider account 11's circuit breaker opened after the message picked it")
		require.Empty(t, w.prov.messages(), "nothing reaches the provider")
		require.Empty(t, w.st.events, "nothing is written")
	})
	t.Run("ClosedSends", func(t *testing.T) {
		t.Parallel()
		bs := newFakeBreakerStore()
		w := setup(t, WithBreakers(bs, nil))
		bs.set(11, store.BreakerState{State: "closed"})
		_, err := runSend(t, w.acts, req)
		require.NoError(t, err)
		require.Len(t, w.prov.messages(), 1)
	})
	t.Run("OlderWorkflowsAreNotChecked", func(t *testing.T) {
		t.Parallel()
		bs := newFakeBreakerStore()
		w := setup(t, WithBreakers(bs, nil))
		bs.set(11, store.BreakerState{State: "open"})
		old := req
		old.CheckBreaker = false
		_, err := runSend(t, w.acts, old)
		require.NoError(t, err)
	})
	t.Run("HalfOpenTakesAProbeAtSend", func(t *testing.T) {
		t.Parallel()
		bs := newFakeBreakerStore()
		w := setup(t, WithBreakers(bs, nil))
		bs.set(11, store.BreakerState{State: "half_open", Round: 2, Probes: 1})
		_, err := runSend(t, w.acts, req)
		require.NoError(t, err)
		require.Equal(t, 1, bs.states[11].ProbesUsed, "the send took the probe")
		// The budget is spent: the next message not holding a probe is
		// refused, one whose plan took a probe goes.
		_, err = runSend(t, w.acts, req)
		_, refused := BreakerRefusalOf(err)
		require.True(t, refused)
		probe := req
		probe.Probe = true
		_, err = runSend(t, w.acts, probe)
		require.NoError(t, err)
		require.Equal(t, 1, bs.states[11].ProbesUsed)
	})
}

func TestQuietMessageTakesNoProbeAtPlanLoad(t *testing.T) {
	t.Parallel()
	bs := newFakeBreakerStore()
	w := setup(t, WithBreakers(bs, nil))
	acc := w.st.pools[3][0].Account
	w.st.pools[3] = []store.PoolMember{{Account: acc, Weight: 1}}
	bs.set(11, store.BreakerState{State: "half_open", Round: 1, Probes: 1})
	ch := w.st.channels[3]
	l := now.UTC()
	ch.QuietHours = &store.QuietHours{Start: l.Add(-time.Hour).Format("15:04"), End: l.Add(time.Hour).Format("15:04"), TimeZone: "UTC"}
	w.st.channels[3] = ch

	p, err := w.acts.LoadPlan(context.Background(), PlanInput{TaskID: taskID, ChannelID: 3})
	require.NoError(t, err)
	require.False(t, p.QuietUntil.IsZero(), "the message waits for quiet hours")
	require.Equal(t, int64(11), p.FirstAccountID)
	require.False(t, p.Accounts[0].BreakerProbe)
	require.Zero(t, bs.states[11].ProbesUsed, "the probe stays for a message that goes now")

	// Outside quiet hours the plan takes it.
	ch.QuietHours = nil
	w.st.channels[3] = ch
	p, err = w.acts.LoadPlan(context.Background(), PlanInput{TaskID: taskID, ChannelID: 3})
	require.NoError(t, err)
	require.True(t, p.Accounts[0].BreakerProbe)
	require.Equal(t, 1, bs.states[11].ProbesUsed)
}
