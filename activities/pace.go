package activities

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/heraldhq/herald/providers"
)

// Pacer hands out send slots for accounts with a rate cap, in two lanes:
// single sends (verification codes among them) book the next free slot,
// however far ahead, and wait for it once; batch chunks take a slot only
// when one is free at that moment, so a running campaign never holds an
// account's slots ahead of a code: a code accepted during a campaign waits
// at most one slot interval.
type Pacer interface {
	// Reserve books the next free slot under key at rate for the single
	// send waiter and says how long until it; zero is now. Asked again by
	// the same waiter before its slot, it answers what is left of the same
	// wait rather than booking another, so a send sleeps once per slot and
	// a retried call costs nothing. Asked at or after the slot, it answers
	// zero and forgets the booking. An empty waiter books nothing: it
	// takes a slot free now or is told how long until one is.
	Reserve(ctx context.Context, key string, rate providers.Rate, waiter string) (time.Duration, error)
	// ReserveBulk takes a slot under key at rate for one member of a batch
	// chunk if one is free now, or says how long until the next free slot
	// without booking it.
	ReserveBulk(ctx context.Context, key string, rate providers.Rate) (time.Duration, error)
}

// bookingGrace is how long a booked slot's record outlives the slot: the
// send's durable timer fires late under load, and when it comes back
// after the record lapsed it books another slot (a second wait, never a
// send outside the pace).
const bookingGrace = 10 * time.Second

// RedisPacer keeps each account's schedule in Redis, so every worker
// shares its budget: one key holds when the account's next slot is free
// (milliseconds by Redis's clock, so every worker agrees), and each single
// send waiting for a booked slot has a record of it.
type RedisPacer struct {
	rdb   *redis.Client
	grace time.Duration
}

// NewRedisPacer returns a pacer over rdb.
func NewRedisPacer(rdb *redis.Client) *RedisPacer {
	return &RedisPacer{rdb: rdb, grace: bookingGrace}
}

// reserveSlot answers a slot request. KEYS[1] holds when the next slot
// is free; KEYS[2], when given, is the waiter's booking. ARGV: the slot
// interval and the booking's grace (milliseconds), and whether to book
// ahead ("book") or take only a slot free now. It returns the wait in
// milliseconds.
var reserveSlot = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if KEYS[2] then
	local booked = redis.call('GET', KEYS[2])
	if booked then
		local wait = tonumber(booked) - now
		if wait > 0 then
			return wait
		end
		redis.call('DEL', KEYS[2])
		return 0
	end
end
local interval = tonumber(ARGV[1])
local slot = tonumber(redis.call('GET', KEYS[1]) or '0')
if slot < now then
	slot = now
end
if slot > now and ARGV[3] ~= 'book' then
	return slot - now
end
redis.call('SET', KEYS[1], slot + interval, 'PX', slot + interval - now)
if slot > now then
	redis.call('SET', KEYS[2], slot, 'PX', slot - now + tonumber(ARGV[2]))
end
return slot - now
`)

func bookingKey(key, waiter string) string { return key + ":booked:" + waiter }

// Reserve implements Pacer. Slots are spaced evenly (a burst of one): a
// provider that blocks an account for minutes after a burst (DingTalk)
// must never see one.
func (p *RedisPacer) Reserve(ctx context.Context, key string, rate providers.Rate, waiter string) (time.Duration, error) {
	if waiter == "" {
		return p.reserve(ctx, []string{key}, rate, "now")
	}
	return p.reserve(ctx, []string{key, bookingKey(key, waiter)}, rate, "book")
}

// ReserveBulk implements Pacer.
func (p *RedisPacer) ReserveBulk(ctx context.Context, key string, rate providers.Rate) (time.Duration, error) {
	return p.reserve(ctx, []string{key}, rate, "now")
}

func (p *RedisPacer) reserve(ctx context.Context, keys []string, rate providers.Rate, mode string) (time.Duration, error) {
	ms, err := reserveSlot.Run(ctx, p.rdb, keys, slotInterval(rate).Milliseconds(), p.grace.Milliseconds(), mode).Int64()
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

func paceKey(accountID int64) string { return fmt.Sprintf("herald:pace:account:%d", accountID) }

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
