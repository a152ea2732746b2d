package activities

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/heraldhq/herald/providers"
)

// Pacer hands out send slots for accounts with a rate cap, in two lanes.
// Single sends (verification codes among them) book the next free slot,
// however far ahead, and wait for it once. Batch chunks take a slot only
// when one is free at that moment and no single send of the account holds
// a booking, so a running campaign never holds an account's slots ahead
// of a code, nor takes the slots after a booked code's while the code's
// timer is late: a code accepted during a campaign goes with the account's
// next slot.
type Pacer interface {
	// Reserve books the next free slot under key at rate for the single
	// send waiter and says how long until it; zero is now. Asked again by
	// the same waiter before its slot, it answers what is left of the same
	// wait rather than booking another, so a send sleeps once per slot and
	// a retried call costs nothing. Asked at or after the slot, it answers
	// zero and forgets the booking, unless the last send went out less
	// than an interval ago (a send before it woke late): then it answers
	// the rest of that interval. An empty waiter books nothing: it takes a
	// slot free now or is told how long until one is.
	Reserve(ctx context.Context, key string, rate providers.Rate, waiter string) (time.Duration, error)
	// ReserveBulk takes a slot under key at rate for one member of a batch
	// chunk if one is free now and no single send holds a booking, or
	// says how long to wait before asking again (without booking).
	ReserveBulk(ctx context.Context, key string, rate providers.Rate) (time.Duration, error)
}

// bookingGrace is how long a booking outlives its slot: the send's
// durable timer fires late under load, and chunks hold back until it has
// taken its slot. A send that comes back after its booking lapsed books
// another slot (a second wait, never a send outside the pace); one that
// never comes back (its worker died, it was cancelled) holds chunks back
// no longer than the grace.
const bookingGrace = 2 * time.Second

// RedisPacer keeps each account's schedule in Redis, so every worker
// shares its budget: a hash under the account's key holds when the next
// slot is free to book (tat) and when the last send was let go (last),
// in milliseconds by Redis's clock so every worker agrees; each single
// send waiting for a booked slot has a record of it, and a sorted set
// beside the schedule holds the waiting sends, scored by when their
// bookings lapse.
type RedisPacer struct {
	rdb    *redis.Client
	prefix string
	grace  time.Duration
}

// NewRedisPacer returns a pacer over rdb whose keys carry deployment (the
// store's DeploymentID): pacing keys name accounts by their ids in the
// store, which another store sharing the Redis database may use too.
func NewRedisPacer(rdb *redis.Client, deployment string) *RedisPacer {
	return &RedisPacer{rdb: rdb, prefix: "herald:pace:" + deployment + ":", grace: bookingGrace}
}

// reserveSlot answers a slot request. KEYS: the account's schedule, its
// waiting set, and the waiter's booking (for "book"). ARGV: the slot
// interval, the booking's grace and the jitter let through (all in
// milliseconds), the mode ("book" ahead for a single send, take a slot
// free "now" without booking, or "bulk": as now, behind every booking),
// and the waiter. It returns the wait in milliseconds.
//
// A booked send is let go only about an interval after the last one,
// whatever its booking says: when the send before it woke late (its timer
// fired, or its task ran, behind time) it must not follow at once (a
// provider counting a sliding minute would see one too many); it waits
// the rest of the interval, keeping its booking. Timers never fire early
// and seldom late by much, so the jitter let through (a tenth of the
// interval, at most 100 ms) spares a second wait to all but the sends
// behind a late one.
var reserveSlot = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval, grace, jitter = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local mode, waiter = ARGV[4], ARGV[5]
local tat = tonumber(redis.call('HGET', KEYS[1], 'tat') or '0')
local last = tonumber(redis.call('HGET', KEYS[1], 'last') or '0')
-- keep writes the schedule back, kept until its last slot has passed.
local function keep()
	redis.call('HSET', KEYS[1], 'tat', tat, 'last', last)
	redis.call('PEXPIRE', KEYS[1], math.max(tat, last + interval) - now + 1000)
end
-- wait keeps the waiter in the waiting set for lapse milliseconds.
local function wait(lapse)
	redis.call('ZADD', KEYS[2], now + lapse, waiter)
	if redis.call('PTTL', KEYS[2]) < lapse then
		redis.call('PEXPIRE', KEYS[2], lapse)
	end
end
if mode == 'book' then
	local booked = redis.call('GET', KEYS[3])
	if booked then
		if tonumber(booked) > now then
			return tonumber(booked) - now
		end
		if last + interval - jitter > now then
			-- Held: the booking lasts until the new wait is over.
			local lapse = last + interval - now + grace
			redis.call('PEXPIRE', KEYS[3], lapse)
			wait(lapse)
			return last + interval - now
		end
		redis.call('DEL', KEYS[3])
		redis.call('ZREM', KEYS[2], waiter)
		last = now
		keep()
		return 0
	end
elseif mode == 'bulk' then
	redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
	if redis.call('ZCARD', KEYS[2]) > 0 then
		return interval
	end
end
local slot = math.max(now, tat, last + interval)
if slot > now and mode ~= 'book' then
	return slot - now
end
tat = slot + interval
if slot == now then
	last = now
else
	redis.call('SET', KEYS[3], slot, 'PX', slot - now + grace)
	wait(slot - now + grace)
end
keep()
return slot - now
`)

func waitersKey(key string) string         { return key + ":waiting" }
func bookingKey(key, waiter string) string { return key + ":booked:" + waiter }

// Reserve implements Pacer. Slots are spaced evenly (a burst of one): a
// provider that blocks an account for minutes after a burst (DingTalk)
// must never see one.
func (p *RedisPacer) Reserve(ctx context.Context, key string, rate providers.Rate, waiter string) (time.Duration, error) {
	if waiter == "" {
		return p.reserve(ctx, key, rate, "now", "")
	}
	return p.reserve(ctx, key, rate, "book", waiter)
}

// ReserveBulk implements Pacer.
func (p *RedisPacer) ReserveBulk(ctx context.Context, key string, rate providers.Rate) (time.Duration, error) {
	return p.reserve(ctx, key, rate, "bulk", "")
}

func (p *RedisPacer) reserve(ctx context.Context, key string, rate providers.Rate, mode, waiter string) (time.Duration, error) {
	interval := slotInterval(rate)
	jitter := min(interval/10, 100*time.Millisecond)
	key = p.prefix + key
	keys := []string{key, waitersKey(key), bookingKey(key, waiter)}
	ms, err := reserveSlot.Run(ctx, p.rdb, keys, interval.Milliseconds(), p.grace.Milliseconds(), jitter.Milliseconds(), mode, waiter).Int64()
	if err != nil {
		return 0, fmt.Errorf("reserve send slot: %w", err)
	}
	return time.Duration(ms) * time.Millisecond, nil
}

// slotInterval is the time between two slots at rate.
func slotInterval(rate providers.Rate) time.Duration {
	if d := rate.Per / time.Duration(rate.Limit); d > 10*time.Millisecond {
		return d
	}
	return 10 * time.Millisecond
}

// PaceRequest asks for a send slot of an account.
type PaceRequest struct {
	AccountID int64
	Rate      providers.Rate
	// TaskID is the single send asking: it books the next free slot and
	// asks again, under the same id, when its wait is over. Empty books
	// nothing.
	TaskID string
}

func paceKey(accountID int64) string { return fmt.Sprintf("account:%d", accountID) }

// Pace books a send slot of a paced account and returns how long the
// workflow must wait (on a durable timer) until it; asked again then, it
// answers zero: send now. Without a pacer nothing is paced.
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
