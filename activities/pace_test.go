package activities

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
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
	return "account:" + hex.EncodeToString(b)
}

// TestPacerBooksEachSendOneSlot checks that single sends asking at once
// book consecutive slots, each told the whole wait until its own, and
// that asking again before the slot answers what is left of the same wait
// instead of booking another: a backlog of N sends costs N waits.
func TestPacerBooksEachSendOneSlot(t *testing.T) {
	p := NewRedisPacer(pacerRedis(t), "test")
	ctx, key := context.Background(), pacerKey(t)
	rate := providers.Rate{Limit: 10, Per: time.Second}
	interval := 100 * time.Millisecond

	// Each call reads Redis's clock, which moves on between calls: send
	// i waits i slot intervals less the time since the first call (to the
	// millisecond Redis counts in).
	requireSlot := func(i int, w time.Duration, since time.Time) {
		t.Helper()
		full := time.Duration(i) * interval
		require.LessOrEqual(t, w, full+time.Millisecond, "send %d waits for slot %d", i, i)
		require.GreaterOrEqual(t, w, full-time.Since(since)-time.Millisecond, "send %d waits for slot %d", i, i)
	}
	start := time.Now()
	waits := make([]time.Duration, 5)
	for i := range waits {
		w, err := p.Reserve(ctx, key, rate, fmt.Sprintf("task-%d", i))
		require.NoError(t, err)
		waits[i] = w
	}
	require.Zero(t, waits[0], "the first send goes at once")
	for i := 1; i < len(waits); i++ {
		requireSlot(i, waits[i], start)
	}

	again, err := p.Reserve(ctx, key, rate, "task-4")
	require.NoError(t, err)
	require.Positive(t, again)
	require.LessOrEqual(t, again, waits[4], "asked again, the send keeps its slot")
	next, err := p.Reserve(ctx, key, rate, "task-5")
	require.NoError(t, err)
	// The repeat booked nothing: the next send gets the slot after
	// task-4's.
	requireSlot(5, next, start)

	time.Sleep(again + 5*time.Millisecond)
	w, err := p.Reserve(ctx, key, rate, "task-4")
	require.NoError(t, err)
	require.Zero(t, w, "at its slot the send goes")
	w, err = p.Reserve(ctx, key, rate, "task-4")
	require.NoError(t, err)
	require.Positive(t, w, "its booking is used up: a later attempt books a new slot")
}

// TestPacerChunksNeverTakeABookedSlot checks the two lanes: a chunk takes
// only a slot that is free now and books nothing ahead, and while a code
// holds a booking the chunk holds back, even past the code's slot while
// the code's timer is late, so the code goes with the account's next
// slot.
func TestPacerChunksNeverTakeABookedSlot(t *testing.T) {
	p := NewRedisPacer(pacerRedis(t), "test")
	ctx, key := context.Background(), pacerKey(t)
	rate := providers.Rate{Limit: 20, Per: time.Second}
	interval := 50 * time.Millisecond

	wait, err := p.ReserveBulk(ctx, key, rate)
	require.NoError(t, err)
	require.Zero(t, wait, "a chunk takes the free slot")

	otpWait, err := p.Reserve(ctx, key, rate, "otp")
	require.NoError(t, err)
	require.Positive(t, otpWait, "the code books the slot after the chunk's")
	require.LessOrEqual(t, otpWait, interval)

	for range 3 {
		wait, err = p.ReserveBulk(ctx, key, rate)
		require.NoError(t, err)
		require.Equal(t, interval, wait, "the chunk holds back an interval at a time while the code waits")
	}
	// The code's timer fires late: its slot and the next have passed.
	time.Sleep(otpWait + 2*interval)
	wait, err = p.ReserveBulk(ctx, key, rate)
	require.NoError(t, err)
	require.Positive(t, wait, "the chunk still holds back")

	wait, err = p.Reserve(ctx, key, rate, "otp")
	require.NoError(t, err)
	require.Zero(t, wait, "the late code takes its slot")

	wait, err = p.ReserveBulk(ctx, key, rate)
	require.NoError(t, err)
	require.Positive(t, wait, "the chunk's next slot is one interval after the code's")
	time.Sleep(wait + 5*time.Millisecond)
	wait, err = p.ReserveBulk(ctx, key, rate)
	require.NoError(t, err)
	require.Zero(t, wait, "and then it sends again")
}

// TestPacerForgetsABookingThatNeverCameBack checks that a send whose
// worker died while it waited holds chunks back only until its booking's
// grace runs out.
func TestPacerForgetsABookingThatNeverCameBack(t *testing.T) {
	p := NewRedisPacer(pacerRedis(t), "test")
	p.grace = 20 * time.Millisecond
	ctx, key := context.Background(), pacerKey(t)
	rate := providers.Rate{Limit: 20, Per: time.Second}

	_, err := p.Reserve(ctx, key, rate, "first")
	require.NoError(t, err)
	wait, err := p.Reserve(ctx, key, rate, "gone")
	require.NoError(t, err)
	require.Positive(t, wait)

	time.Sleep(wait + p.grace + 30*time.Millisecond)
	wait, err = p.ReserveBulk(ctx, key, rate)
	require.NoError(t, err)
	require.Zero(t, wait, "the lapsed booking no longer holds the chunk back")
}

// TestPacerHoldsALateSendBack checks that sends are let go an interval
// apart even when one wakes late: a send whose timer fired after the next
// booked slot, and after that send went, waits the rest of an interval
// instead of following it at once.
func TestPacerHoldsALateSendBack(t *testing.T) {
	p := NewRedisPacer(pacerRedis(t), "test")
	rate := providers.Rate{Limit: 10, Per: time.Second}
	interval := 100 * time.Millisecond
	// Long enough for the late send's booking to outlive its lateness,
	// too short to outlive the hold unless the hold extends it.
	p.grace = interval * 3 / 2
	ctx, key := context.Background(), pacerKey(t)

	first, err := p.Reserve(ctx, key, rate, "first")
	require.NoError(t, err)
	require.Zero(t, first)
	lateWait, err := p.Reserve(ctx, key, rate, "late")
	require.NoError(t, err)
	nextWait, err := p.Reserve(ctx, key, rate, "next")
	require.NoError(t, err)
	require.Greater(t, nextWait, lateWait)
	// A send booked after them all: a late send that lost its booking
	// would book again behind it.
	_, err = p.Reserve(ctx, key, rate, "after")
	require.NoError(t, err)

	time.Sleep(nextWait + 5*time.Millisecond)
	w, err := p.Reserve(ctx, key, rate, "next")
	require.NoError(t, err)
	require.Zero(t, w, "the next send is on time and goes")
	w, err = p.Reserve(ctx, key, rate, "late")
	require.NoError(t, err)
	require.Positive(t, w, "the late one does not follow it at once")
	require.LessOrEqual(t, w, interval)
	time.Sleep(w + 5*time.Millisecond)
	w, err = p.Reserve(ctx, key, rate, "late")
	require.NoError(t, err)
	require.Zero(t, w, "it kept its booking through the hold and goes an interval later")
}
