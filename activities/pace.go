package activities

import (
	"context"
	"fmt"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"github.com/heraldhq/herald/providers"
)

// Pacer hands out send slots for accounts with a rate cap, in two lanes:
// single sends (verification codes among them) and batch chunks. A chunk
// takes a slot only while no single send of the same account is waiting
// for one, so a running campaign never holds an account's slots ahead of a
// code; chunks take their slots one at a time, just before they send, so
// they cannot book an account's slots ahead either.
type Pacer interface {
	// Reserve takes a slot under key at rate for a single send, or says
	// how long to wait before asking again. waiter names the send; while
	// it waits, chunks of the same key yield to it.
	Reserve(ctx context.Context, key string, rate providers.Rate, waiter string) (time.Duration, error)
	// ReserveBulk takes a slot under key at rate for one member of a batch
	// chunk, or says how long to wait: at least until the next slot, and
	// while a single send waits, one slot interval at a time.
	ReserveBulk(ctx context.Context, key string, rate providers.Rate) (time.Duration, error)
}

// waiterGrace is how long a single send stays in its account's waiting
// set after the wait it was told: its durable timer fires late under load,
// and chunks must not take the slot in between. A send that never comes
// back (its worker died) leaves the set when the grace runs out.
const waiterGrace = 2 * time.Second

// RedisPacer keeps pacing counters in Redis (GCRA), so every worker shares
// each account's budget, and beside each counter the set of single sends
// waiting for a slot (a sorted set scored by when each one lapses).
type RedisPacer struct {
	rdb     *redis.Client
	limiter *redis_rate.Limiter
	grace   time.Duration
}

// NewRedisPacer returns a pacer over rdb.
func NewRedisPacer(rdb *redis.Client) *RedisPacer {
	return &RedisPacer{rdb: rdb, limiter: redis_rate.NewLimiter(rdb), grace: waiterGrace}
}

// addWaiter puts ARGV[1] in the waiting set KEYS[1] until ARGV[2]
// milliseconds from now, by Redis's clock so every worker agrees, and
// keeps the set no longer than its last waiter.
var addWaiter = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
if redis.call('PTTL', KEYS[1]) < ttl then
	redis.call('PEXPIRE', KEYS[1], ttl)
end
return 1
`)

// countWaiters drops lapsed waiters from KEYS[1] and counts the rest.
var countWaiters = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZCARD', KEYS[1])
`)

func waitersKey(key string) string { return key + ":waiting" }

// Reserve implements Pacer. Sends are spaced evenly (a burst of one): a
// provider that blocks an account for minutes after a burst (DingTalk) must
// never see one.
func (p *RedisPacer) Reserve(ctx context.Context, key string, rate providers.Rate, waiter string) (time.Duration, error) {
	wait, err := p.allow(ctx, key, rate)
	if err != nil || waiter == "" {
		return wait, err
	}
	if wait == 0 {
		// The slot is taken either way: a waiter left behind by a failed
		// removal holds chunks back only until its grace runs out.
		_ = p.rdb.ZRem(ctx, waitersKey(key), waiter).Err()
		return 0, nil
	}
	ttl := (wait + p.grace).Milliseconds()
	if err := addWaiter.Run(ctx, p.rdb, []string{waitersKey(key)}, waiter, ttl).Err(); err != nil {
		return 0, fmt.Errorf("queue for a send slot: %w", err)
	}
	return wait, nil
}

// ReserveBulk implements Pacer.
func (p *RedisPacer) ReserveBulk(ctx context.Context, key string, rate providers.Rate) (time.Duration, error) {
	n, err := countWaiters.Run(ctx, p.rdb, []string{waitersKey(key)}).Int()
	if err != nil {
		return 0, fmt.Errorf("check for single sends waiting for a slot: %w", err)
	}
	if n > 0 {
		return slotInterval(rate), nil
	}
	return p.allow(ctx, key, rate)
}

// slotInterval is the time between two slots at rate.
func slotInterval(rate providers.Rate) time.Duration {
	if d := rate.Per / time.Duration(rate.Limit); d > 10*time.Millisecond {
		return d
	}
	return 10 * time.Millisecond
}

func (p *RedisPacer) allow(ctx context.Context, key string, rate providers.Rate) (time.Duration, error) {
	res, err := p.limiter.Allow(ctx, key, redis_rate.Limit{Rate: rate.Limit, Period: rate.Per, Burst: 1})
	if err != nil {
		return 0, fmt.Errorf("reserve send slot: %w", err)
	}
	if res.Allowed > 0 {
		return 0, nil
	}
	if res.RetryAfter <= 0 {
		return 10 * time.Millisecond, nil
	}
	return res.RetryAfter, nil
}

// PaceRequest asks for a send slot of an account.
type PaceRequest struct {
	AccountID int64
	Rate      providers.Rate
	// TaskID is the single send asking; while it waits, batch chunks of
	// the account yield to it. Empty asks without a place in line.
	TaskID string
}

func paceKey(accountID int64) string { return fmt.Sprintf("herald:pace:account:%d", accountID) }

// Pace reserves a send slot for a paced account and returns how long the
// workflow must wait (on a durable timer) before asking again; zero means
// send now. Without a pacer nothing is paced.
func (a *Activities) Pace(ctx context.Context, req PaceRequest) (time.Duration, error) {
	if a.pacer == nil || req.Rate.Limit <= 0 || req.Rate.Per <= 0 {
		return 0, nil
	}
	wait, err := a.pacer.Reserve(ctx, paceKey(req.AccountID), req.Rate, req.TaskID)
	return a.notePacingWait(req.AccountID, wait, err)
}

// paceBulk is Pace for one member of a batch chunk.
func (a *Activities) paceBulk(ctx context.Context, accountID int64, rate providers.Rate) (time.Duration, error) {
	wait, err := a.pacer.ReserveBulk(ctx, paceKey(accountID), rate)
	return a.notePacingWait(accountID, wait, err)
}

// notePacingWait counts a wait the pacer answered in the account's pacing
// metric and passes the answer on.
func (a *Activities) notePacingWait(accountID int64, wait time.Duration, err error) (time.Duration, error) {
	if err == nil && wait > 0 {
		a.metrics.PacingWait(accountID, wait)
	}
	return wait, err
}

// accountRate is the pace of an account: its own setting, else its
// provider's documented cap, else none.
func accountRate(perMinute int, prov providers.Provider, acc providers.Account) providers.Rate {
	if perMinute > 0 {
		return providers.Rate{Limit: perMinute, Per: time.Minute}
	}
	if paced, ok := prov.(providers.Paced); ok {
		return paced.DefaultRate(acc)
	}
	return providers.Rate{}
}
