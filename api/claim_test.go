package api

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/redisstall"
)

// A claim whose reply comes after the client's read timeout is retried
// by go-redis after Redis has set the key; the retry must still see the
// claim as its own (a fresh nonce must not be refused as replayed), and
// another claim of the key must not.
func TestClaimSurvivesALateReply(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	proxy, rdb := redisstall.Client(t, testRedis(t).Options(), 150*time.Millisecond)
	require.NoError(t, claimScript.Load(ctx, rdb).Err())

	key := "herald:nonce:claim-test:" + strconv.FormatInt(time.Now().UnixNano(), 36)
	proxy.StallNext(500*time.Millisecond, claimScript.Hash())
	first, err := claimOnce(ctx, rdb, key, time.Minute)
	require.NoError(t, err)
	require.True(t, first, "the retried claim is still the first")
	require.Equal(t, 1, proxy.Stalled())

	again, err := claimOnce(ctx, rdb, key, time.Minute)
	require.NoError(t, err)
	require.False(t, again, "a second claim of the key is refused")

	ttl, err := rdb.PTTL(ctx, key).Result()
	require.NoError(t, err)
	require.Greater(t, ttl, 50*time.Second)
	require.LessOrEqual(t, ttl, time.Minute)
}
