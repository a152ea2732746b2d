package activities

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.uber.org/zap"

	"github.com/heraldhq/herald/internal/breaker"
	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/store"
)

// fakeBreakerStore holds published breaker states in memory, with the
// store's probe budget rule.
type fakeBreakerStore struct {
	mu        sync.Mutex
	states    map[int64]store.BreakerState
	events    []store.BreakerEvent
	accounts  map[int64]store.ProviderAccount
	probeErrs error
}

func newFakeBreakerStore() *fakeBreakerStore {
	return &fakeBreakerStore{states: map[int64]store.BreakerState{}, accounts: map[int64]store.ProviderAccount{}}
}

func (f *fakeBreakerStore) ListBreakerStates(context.Context) ([]store.BreakerState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []store.BreakerState
	for _, s := range f.states {
		out = append(out, s)
	}
	return out, nil
}

func (f *fakeBreakerStore) TakeBreakerProbe(_ context.Context, id int64, round int) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.states[id]
	if !ok || s.State != "half_open" || s.Round != round || s.ProbesUsed >= s.Probes {
		return false, f.probeErrs
	}
	s.ProbesUsed++
	f.states[id] = s
	return true, nil
}

func (f *fakeBreakerStore) PublishBreaker(_ context.Context, st *store.BreakerState, ev *store.BreakerEvent) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.states[st.AccountID] = *st
	if ev != nil {
		f.events = append(f.events, *ev)
	}
	return nil
}

func (f *fakeBreakerStore) GetAccount(_ context.Context, id int64) (*store.ProviderAccount, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.accounts[id]
	if !ok {
		return nil, store.ErrNotFound
	}
	return &a, nil
}

func (f *fakeBreakerStore) set(id int64, st store.BreakerState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st.AccountID = id
	f.states[id] = st
}

// twoAccounts gives channel 3 accounts 11 and 12, equally weighted.
func twoAccounts(w *world) {
	acc := func(id int64) store.ProviderAccount {
		return store.ProviderAccount{ID: id, Kind: "fake", Config: json.RawMessage(`{}`), Weight: 1, Enabled: true}
	}
	w.st.pools[3] = []store.PoolMember{{Account: acc(11), Weight: 1}, {Account: acc(12), Weight: 1}}
}

func TestLoadPlanBreakers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	in := PlanInput{TaskID: taskID, ChannelID: 3}

	t.Run("OpenAccountSkipped", func(t *testing.T) {
		t.Parallel()
		bs := newFakeBreakerStore()
		w := setup(t, WithBreakers(bs, nil))
		twoAccounts(w)
		halfOpenAt := now.Add(time.Minute)
		bs.set(11, store.BreakerState{State: "open", HalfOpenAt: &halfOpenAt})
		for range 20 {
			p, err := w.acts.LoadPlan(ctx, in)
			require.NoError(t, err)
			require.Equal(t, int64(12), p.FirstAccountID)
			require.True(t, p.Accounts[0].BreakerOpen)
			require.False(t, p.Accounts[1].BreakerOpen)
			require.True(t, p.BreakerWaitUntil.IsZero())
		}
	})

	t.Run("AllOpenWaitsForEarliestHalfOpen", func(t *testing.T) {
		t.Parallel()
		bs := newFakeBreakerStore()
		w := setup(t, WithBreakers(bs, nil))
		twoAccounts(w)
		early, late := now.Add(10*time.Second), now.Add(time.Minute)
		bs.set(11, store.BreakerState{State: "open", HalfOpenAt: &late})
		bs.set(12, store.BreakerState{State: "open", HalfOpenAt: &early})
		p, err := w.acts.LoadPlan(ctx, in)
		require.NoError(t, err)
		require.Zero(t, p.FirstAccountID)
		require.False(t, p.BreakerWaitUntil.Before(early))
		require.True(t, p.BreakerWaitUntil.Before(early.Add(breakerJitter)), "released with at most %s of jitter", breakerJitter)

		// A forced-open account has no half-open time: look again later.
		bs.set(12, store.BreakerState{State: "open", Forced: true})
		p, err = w.acts.LoadPlan(ctx, in)
		require.NoError(t, err)
		require.False(t, p.BreakerWaitUntil.Before(now.Add(BreakerRecheck)))
	})

	t.Run("HalfOpenGetsOnlyProbes", func(t *testing.T) {
		t.Parallel()
		bs := newFakeBreakerStore()
		w := setup(t, WithBreakers(bs, nil))
		twoAccounts(w)
		bs.set(11, store.BreakerState{State: "half_open", Round: 1, Probes: 3})
		probes, others := 0, 0
		for range 40 {
			p, err := w.acts.LoadPlan(ctx, in)
			require.NoError(t, err)
			switch p.FirstAccountID {
			case 11:
				probes++
				require.True(t, p.Accounts[0].BreakerProbe)
			case 12:
				others++
				require.True(t, p.Accounts[0].BreakerOpen, "a message not probing keeps off the half-open account")
			}
		}
		require.Equal(t, 3, probes)
		require.Equal(t, 37, others)
	})

	t.Run("ClosedOrUnknownIsUsed", func(t *testing.T) {
		t.Parallel()
		bs := newFakeBreakerStore()
		w := setup(t, WithBreakers(bs, nil))
		twoAccounts(w)
		bs.set(11, store.BreakerState{State: "closed"})
		seen := map[int64]int{}
		for range 10 {
			p, err := w.acts.LoadPlan(ctx, in)
			require.NoError(t, err)
			seen[p.FirstAccountID]++
		}
		require.Equal(t, map[int64]int{11: 5, 12: 5}, seen)
	})
}

func TestOutcomeReporting(t *testing.T) {
	t.Parallel()
	agg := NewOutcomeAggregator()
	a := New(Config{}, nil, nil, nil, WithBreakers(newFakeBreakerStore(), agg))
	a.reportOutcome(5, nil)
	a.reportOutcome(5, nil)
	a.reportOutcome(5, providers.Errorf(providers.ClassAccount, "SUSPENDED", "suspended"))
	a.reportOutcome(5, providers.Errorf(providers.ClassTransient, "HTTP_502", "bad gateway"))
	a.reportOutcome(5, providers.Errorf(providers.ClassUnknownOutcome, "TIMEOUT", "timeout"))
	// A receiver's permanent error, a configuration mistake and
	// throttling say nothing about the account's health.
	a.reportOutcome(5, providers.Errorf(providers.ClassPermanent, "INVALID_NUMBER", "bad number"))
	a.reportOutcome(5, providers.Errorf(providers.ClassConfig, "TEMPLATE", "bad template"))
	a.reportOutcome(5, providers.Errorf(providers.ClassThrottled, "LIMIT", "slow down"))
	a.reportOutcome(6, errors.New("connection reset"))
	// Receipts counted by the callbacks add up with the sends.
	agg.Add(5, breaker.Counts{ReceiptsDelivered: 1})
	agg.Add(5, breaker.Counts{ReceiptsFailed: 2})
	require.Equal(t, map[int64]breaker.Counts{5: {Successes: 2, Failures: 3, ReceiptsDelivered: 1, ReceiptsFailed: 2}, 6: {Failures: 1}}, agg.Drain())
	require.Empty(t, agg.Drain())

	t.Run("FailedFlushKeepsCounts", func(t *testing.T) {
		t.Parallel()
		g := NewOutcomeAggregator()
		g.Add(1, breaker.Counts{Failures: 2})
		var mu sync.Mutex
		calls := 0
		flush := func(context.Context, int64, breaker.Counts) error {
			mu.Lock()
			defer mu.Unlock()
			calls++
			return errors.New("engine unreachable")
		}
		g.flushAll(context.Background(), flush, zap.NewNop())
		require.Equal(t, 1, calls)
		require.Equal(t, map[int64]breaker.Counts{1: {Failures: 2}}, g.Drain())
	})
}

func TestPublishBreaker(t *testing.T) {
	t.Parallel()
	bs := newFakeBreakerStore()
	bs.accounts[11] = store.ProviderAccount{ID: 11, Name: "primary", Kind: "fake", Breaker: `{"min_failures":4,"window_seconds":5}`}
	w := setup(t, WithBreakers(bs, nil))
	b := breaker.New(now)
	tr := b.Force(now, breaker.Open, "maintenance", "cli")
	cfg, err := w.acts.PublishBreaker(context.Background(), PublishBreakerRequest{AccountID: 11, Breaker: b, Probes: 5, Transition: &tr})
	require.NoError(t, err)
	require.Equal(t, 4, cfg.MinFailures)
	require.Equal(t, 5*time.Second, cfg.Window)
	require.Equal(t, breaker.DefaultCoolDown, cfg.CoolDown)
	require.Equal(t, "open", bs.states[11].State)
	require.True(t, bs.states[11].Forced)
	require.Len(t, bs.events, 1)
	require.Equal(t, "cli", bs.events[0].Actor)
}

func TestPublishBreakerOfDeletedAccount(t *testing.T) {
	t.Parallel()
	bs := newFakeBreakerStore()
	w := setup(t, WithBreakers(bs, nil))
	_, err := w.acts.PublishBreaker(context.Background(), PublishBreakerRequest{AccountID: 99, Breaker: breaker.New(now)})
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	require.True(t, appErr.NonRetryable(), "retrying cannot bring the account back")
	require.Empty(t, bs.states)
}
