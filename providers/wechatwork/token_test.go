package wechatwork

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestTokenLifetime(t *testing.T) {
	t.Parallel()
	require.Equal(t, 7200*time.Second-tokenMargin, tokenLifetime(7200))
	require.Equal(t, 300*time.Second, tokenLifetime(600), "short lifetimes are halved")
	require.Equal(t, 5*time.Second, tokenLifetime(10))
	require.Zero(t, tokenLifetime(0))
	require.Zero(t, tokenLifetime(-5))
}

func TestTokenSource(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("NewerThanForcesOneFetch", func(t *testing.T) {
		t.Parallel()
		var ts tokenSource
		var calls atomic.Int32
		fetch := func(context.Context) (string, time.Duration, error) {
			calls.Add(1)
			return "same-string", time.Hour, nil // WeCom may repeat a token
		}
		tok, gen, err := ts.get(ctx, time.Now, 0, fetch)
		require.NoError(t, err)
		require.Equal(t, "same-string", tok)
		_, gen2, err := ts.get(ctx, time.Now, gen, fetch)
		require.NoError(t, err)
		require.Greater(t, gen2, gen)
		_, gen3, err := ts.get(ctx, time.Now, gen, fetch)
		require.NoError(t, err)
		require.Equal(t, gen2, gen3, "a newer token exists: no fetch")
		require.Equal(t, int32(2), calls.Load())
	})

	t.Run("FailureNotCached", func(t *testing.T) {
		t.Parallel()
		var ts tokenSource
		boom := errors.New("boom")
		_, _, err := ts.get(ctx, time.Now, 0, func(context.Context) (string, time.Duration, error) { return "", 0, boom })
		require.ErrorIs(t, err, boom)
		tok, _, err := ts.get(ctx, time.Now, 0, func(context.Context) (string, time.Duration, error) { return "t", time.Hour, nil })
		require.NoError(t, err)
		require.Equal(t, "t", tok)
	})

	t.Run("WaiterTakesOverWhenLeaderGivesUp", func(t *testing.T) {
		t.Parallel()
		waiting := make(chan struct{})
		ts := tokenSource{onWait: func() { close(waiting) }}
		started := make(chan struct{})
		leaderCtx, cancelLeader := context.WithCancel(ctx)
		leaderDone := make(chan error, 1)
		go func() {
			_, _, err := ts.get(leaderCtx, time.Now, 0, func(c context.Context) (string, time.Duration, error) {
				close(started)
				<-c.Done()
				return "", 0, c.Err()
			})
			leaderDone <- err
		}()
		<-started

		var waiterFetches atomic.Int32
		waiterDone := make(chan string, 1)
		go func() {
			tok, _, err := ts.get(ctx, time.Now, 0, func(context.Context) (string, time.Duration, error) {
				waiterFetches.Add(1)
				return "from-waiter", time.Hour, nil
			})
			if err != nil {
				tok = "error: " + err.Error()
			}
			waiterDone <- tok
		}()
		// The waiter holds the leader's fetch when the leader gives up, so
		// it must take over rather than find no fetch and start its own.
		<-waiting
		cancelLeader()
		require.ErrorIs(t, <-leaderDone, context.Canceled)
		require.Equal(t, "from-waiter", <-waiterDone)
		require.Equal(t, int32(1), waiterFetches.Load())
	})

	t.Run("WaiterGivesUp", func(t *testing.T) {
		t.Parallel()
		waiterCtx, cancelWaiter := context.WithCancel(ctx)
		defer cancelWaiter()
		// The waiter gives up while it waits for the leader's fetch.
		ts := tokenSource{onWait: cancelWaiter}
		started, release := make(chan struct{}), make(chan struct{})
		leaderDone := make(chan string, 1)
		go func() {
			tok, _, _ := ts.get(ctx, time.Now, 0, func(context.Context) (string, time.Duration, error) {
				close(started)
				<-release
				return "late", time.Hour, nil
			})
			leaderDone <- tok
		}()
		<-started
		_, _, err := ts.get(waiterCtx, time.Now, 0, nil)
		require.ErrorIs(t, err, context.Canceled)
		close(release)
		require.Equal(t, "late", <-leaderDone, "the leader's fetch is not affected")
	})
}
