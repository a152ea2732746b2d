package redisstall

import (
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// proxied starts a Redis-protocol server behind a proxy and a client of
// the proxy that gives up on a reply after 100 ms.
func proxied(t *testing.T) (*Proxy, *redis.Client) {
	t.Helper()
	return Client(t, &redis.Options{Addr: miniredis.RunT(t).Addr()}, 100*time.Millisecond)
}

func TestStalledReplyIsRetried(t *testing.T) {
	t.Parallel()
	p, rdb := proxied(t)
	ctx := t.Context()
	require.NoError(t, rdb.Ping(ctx).Err())

	// INCR is not safe to run twice: the client retries the stalled call
	// on a new connection and the counter shows both runs.
	p.StallNext(400*time.Millisecond, "INCR")
	n, err := rdb.Incr(ctx, "k").Result()
	require.NoError(t, err)
	require.Equal(t, int64(2), n, "the stalled INCR ran, and so did its retry")
	require.Equal(t, 1, p.Stalled())

	// Disarmed after one reply.
	n, err = rdb.Incr(ctx, "k").Result()
	require.NoError(t, err)
	require.Equal(t, int64(3), n)
	require.Equal(t, 1, p.Stalled())
}

func TestErrorRepliesPass(t *testing.T) {
	t.Parallel()
	p, rdb := proxied(t)
	ctx := t.Context()
	script := redis.NewScript(`return redis.call('INCR', KEYS[1])`)
	// EVALSHA answers NOSCRIPT (passed through), then EVAL runs once and
	// its reply is the one held back, so the retry runs it again.
	p.StallNext(400*time.Millisecond, "EVAL", "EVALSHA")
	n, err := script.Run(ctx, rdb, []string{"s"}).Int()
	require.NoError(t, err)
	require.Equal(t, 1, p.Stalled())
	require.Equal(t, 2, n)
}
