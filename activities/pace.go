package activities

import (
	"context"
	"fmt"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"github.com/heraldhq/herald/providers"
)

// Pacer hands out send slots for accounts with a rate cap.
type Pacer interface {
	// Reserve takes a slot under key at rate, or says how long to wait
	// before asking again.
	Reserve(ctx context.Context, key string, rate providers.Rate) (time.Duration, error)
}

// RedisPacer keeps pacing counters in Redis (GCRA), so every worker shares
// each account's budget.
type RedisPacer struct {
	limiter *redis_rate.Limiter
}

// NewRedisPacer returns a pacer over rdb.
func NewRedisPacer(rdb *redis.Client) *RedisPacer {
	return &RedisPacer{limiter: redis_rate.NewLimiter(rdb)}
}

// Reserve implements Pacer. Sends are spaced evenly (a burst of one): a
// provider that blocks an account for minutes after a burst (DingTalk) must
// never see one.
func (p *RedisPacer) Reserve(ctx context.Context, key string, rate providers.Rate) (time.Duration, error) {
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
}

// Pace reserves a send slot for a paced account and returns how long the
// workflow must wait (on a durable timer) before asking again; zero means
// send now. Without a pacer nothing is paced.
func (a *Activities) Pace(ctx context.Context, req PaceRequest) (time.Duration, error) {
	if a.pacer == nil || req.Rate.Limit <= 0 || req.Rate.Per <= 0 {
		return 0, nil
	}
	wait, err := a.pacer.Reserve(ctx, fmt.Sprintf("herald:pace:account:%d", req.AccountID), req.Rate)
	if err == nil && wait > 0 {
		a.metrics.PacingWait(req.AccountID, wait)
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
