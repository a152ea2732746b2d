package store

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestBreakerStates(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		acc := &ProviderAccount{Name: "sandbox", Kind: "sandbox", Enabled: true, Breaker: `{"min_failures":3}`}
		require.NoError(t, db.CreateAccount(ctx, acc))
		got, err := db.GetAccount(ctx, acc.ID)
		require.NoError(t, err)
		require.Equal(t, `{"min_failures":3}`, got.Breaker)

		since := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		require.NoError(t, db.PublishBreaker(ctx, &BreakerState{AccountID: acc.ID, State: "open", Since: since, Reason: "failing", Probes: 2, WindowFailures: 5, WindowTotal: 6},
			&BreakerEvent{AccountID: acc.ID, From: "closed", To: "open", Reason: "failing", Actor: "breaker", At: since}))

		// A retried publish records its transition once.
		require.NoError(t, db.PublishBreaker(ctx, &BreakerState{AccountID: acc.ID, State: "open", Since: since, Reason: "failing", Probes: 2},
			&BreakerEvent{AccountID: acc.ID, From: "closed", To: "open", Reason: "failing", Actor: "breaker", At: since}))

		ok, err := db.TakeBreakerProbe(ctx, acc.ID, 1)
		require.NoError(t, err)
		require.False(t, ok, "an open breaker lets no probe through")

		half := since.Add(time.Minute)
		require.NoError(t, db.PublishBreaker(ctx, &BreakerState{AccountID: acc.ID, State: "half_open", Since: half, HalfOpenAt: &half, Round: 1, Probes: 2}, nil))
		for i, want := range []bool{true, true, false} {
			ok, err := db.TakeBreakerProbe(ctx, acc.ID, 1)
			require.NoError(t, err)
			require.Equal(t, want, ok, "probe %d", i)
		}
		// Window counts published within the round keep the probes taken.
		require.NoError(t, db.PublishBreaker(ctx, &BreakerState{AccountID: acc.ID, State: "half_open", Since: half, HalfOpenAt: &half, Round: 1, Probes: 2, WindowTotal: 1}, nil))
		ok, err = db.TakeBreakerProbe(ctx, acc.ID, 1)
		require.NoError(t, err)
		require.False(t, ok)
		// A new round has a fresh budget.
		require.NoError(t, db.PublishBreaker(ctx, &BreakerState{AccountID: acc.ID, State: "half_open", Since: half, HalfOpenAt: &half, Round: 2, Probes: 2}, nil))
		ok, err = db.TakeBreakerProbe(ctx, acc.ID, 2)
		require.NoError(t, err)
		require.True(t, ok)

		states, err := db.ListBreakerStates(ctx)
		require.NoError(t, err)
		require.Len(t, states, 1)
		require.Equal(t, "half_open", states[0].State)
		require.Equal(t, 1, states[0].ProbesUsed)
		require.True(t, half.Equal(*states[0].HalfOpenAt))

		evs, err := db.ListBreakerEvents(ctx, acc.ID)
		require.NoError(t, err)
		require.Len(t, evs, 1)
		require.Equal(t, "open", evs[0].To)
		require.True(t, since.Equal(evs[0].At))
	})
}
