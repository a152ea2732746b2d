package admission

import (
	"errors"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/redisstall"
	"github.com/heraldhq/herald/providers/sandbox"
	"github.com/heraldhq/herald/store"
)

// A script whose reply comes after the client's read timeout has run
// already; go-redis runs it again on a new connection. The retry must
// neither count the receivers twice nor give their counts back twice.
func TestCapsSurviveALateReply(t *testing.T) {
	t.Parallel()
	eachRedis(t, func(t *testing.T, f *fixture) {
		ctx := t.Context()
		proxy, rdb := redisstall.Client(t, f.redis.Options(), 150*time.Millisecond)
		svc := *f.svc
		svc.redis, svc.limiter = rdb, redis_rate.NewLimiter(rdb)
		// Loaded first so that each run is one EVALSHA naming its script.
		require.NoError(t, capsScript.Load(ctx, rdb).Err())
		require.NoError(t, uncountScript.Load(ctx, rdb).Err())

		app := uniqueApp(t)
		ch := smsChannel()
		ch.ReceiverCaps = &store.ReceiverCaps{PerMinute: 2}
		admit := func(perMinute int, receivers ...string) ([]*Refusal, error) {
			return svc.Admit(ctx, Request{AppID: app, Channel: ch, Pool: pool(sandbox.Kind), MessagesPerMinute: perMinute, Receivers: receivers})
		}
		a, b, c := "+8613800138001", "+8613800138002", "+8613800138003"

		proxy.StallNext(500*time.Millisecond, capsScript.Hash())
		v, err := admit(0, a, b, c)
		require.NoError(t, err)
		require.Equal(t, []*Refusal{nil, nil, nil}, v, "the retry answers what the first run counted")
		require.Equal(t, 1, proxy.Stalled())

		// Counted once: each takes one more this minute, then no more.
		v, err = admit(0, a)
		require.NoError(t, err)
		require.Nil(t, v[0], "counted once, not twice")
		v, err = admit(0, a)
		require.NoError(t, err)
		require.NotNil(t, v[0])

		// A request refused by the message rate gives its counts back
		// once, even when that reply is late too.
		proxy.StallNext(500*time.Millisecond, uncountScript.Hash())
		_, err = admit(1, b, c)
		var rl *RateLimitedError
		require.True(t, errors.As(err, &rl), "two receivers never fit in a rate of one: %v", err)
		require.Equal(t, 2, proxy.Stalled())
		for _, r := range []string{b, c} {
			v, err = admit(0, r)
			require.NoError(t, err)
			require.Nil(t, v[0], "%s has its second message of the minute", r)
			v, err = admit(0, r)
			require.NoError(t, err)
			require.NotNil(t, v[0], "%s was given back once, not twice", r)
		}
	})
}
