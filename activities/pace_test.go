package activities

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/providers"
)

// pacerRedis is the Redis at HERALD_TEST_REDIS_URL (required in CI), or
// an in-process Redis-protocol server of the kind `herald dev` runs.
func pacerRedis(t *testing.T) *redis.Client {
	t.Helper()
	url := os.Getenv("HERALD_TEST_REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379/0"
	}
	opts, err := redis.ParseURL(url)
	require.NoError(t, err)
	c := redis.NewClient(opts)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		_ = c.Close()
		if os.Getenv("CI") != "" {
			t.Fatalf("CI tests against a real Redis: %v", err)
		}
		c = redis.NewClient(&redis.Options{Addr: miniredis.RunT(t).Addr()})
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func pacerKey(t *testing.T) string {
	t.Helper()
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "herald:test:pace:" + hex.EncodeToString(b)
}

func TestPacerSpacesSends(t *testing.T) {
	p := NewRedisPacer(pacerRedis(t))
	ctx, key := context.Background(), pacerKey(t)
	rate := providers.Rate{Limit: 10, Per: time.Second}

	wait, err := p.Reserve(ctx, key, rate, "task-1")
	require.NoError(t, err)
	require.Zero(t, wait, "the first send goes at once")
	wait, err = p.Reserve(ctx, key, rate, "task-2")
	require.NoError(t, err)
	require.Positive(t, wait, "a second send within 100 ms waits")
	require.LessOrEqual(t, wait, 100*time.Millisecond, "for one slot at most")
}

// TestPacerChunksYieldToWaitingSingleSends checks the order of the two
// lanes: once a single send is told to wait, a chunk asking for the same
// account gets nothing until the single send has taken its slot.
func TestPacerChunksYieldToWaitingSingleSends(t *testing.T) {
	p := NewRedisPacer(pacerRedis(t))
	ctx, key := context.Background(), pacerKey(t)
	rate := providers.Rate{Limit: 20, Per: time.Second}

	wait, err := p.ReserveBulk(ctx, key, rate)
	require.NoError(t, err)
	require.Zero(t, wait, "with nobody waiting a chunk takes the free slot")

	otpWait, err := p.Reserve(ctx, key, rate, "otp")
	require.NoError(t, err)
	require.Positive(t, otpWait, "the code waits for the slot after the chunk's")

	time.Sleep(otpWait + 20*time.Millisecond)
	for range 3 {
		wait, err = p.ReserveBulk(ctx, key, rate)
		require.NoError(t, err)
		require.Equal(t, 50*time.Millisecond, wait, "the chunk yields one slot interval at a time while the code waits")
	}

	wait, err = p.Reserve(ctx, key, rate, "otp")
	require.NoError(t, err)
	require.Zero(t, wait, "the code takes the slot the chunk left")

	wait, err = p.ReserveBulk(ctx, key, rate)
	require.NoError(t, err)
	require.Positive(t, wait, "the chunk waits for the slot after the code's")
	time.Sleep(wait + 10*time.Millisecond)
	wait, err = p.ReserveBulk(ctx, key, rate)
	require.NoError(t, err)
	require.Zero(t, wait, "and then sends again")
}

// TestPacerForgetsAWaiterThatNeverCameBack checks that a single send whose
// worker died while it waited holds chunks back only until its grace runs
// out.
func TestPacerForgetsAWaiterThatNeverCameBack(t *testing.T) {
	p := NewRedisPacer(pacerRedis(t))
	p.grace = 100 * time.Millisecond
	ctx, key := context.Background(), pacerKey(t)
	rate := providers.Rate{Limit: 20, Per: time.Second}

	_, err := p.Reserve(ctx, key, rate, "first")
	require.NoError(t, err)
	wait, err := p.Reserve(ctx, key, rate, "gone")
	require.NoError(t, err)
	require.Positive(t, wait)

	time.Sleep(wait + p.grace + 50*time.Millisecond)
	wait, err = p.ReserveBulk(ctx, key, rate)
	require.NoError(t, err)
	require.Zero(t, wait, "the lapsed waiter no longer holds the chunk back")
}
