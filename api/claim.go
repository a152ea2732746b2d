package api

import (
	"context"
	"crypto/rand"
	"time"

	"github.com/redis/go-redis/v9"
)

// claimScript sets KEYS[1] to the claim's token ARGV[1] for ARGV[2] ms if
// it is not set, and answers 1 when the key holds that token: the claim is
// this caller's. go-redis retries a call whose reply timed out, and a
// plain SET NX retried after Redis had already run it would find its own
// key and refuse a request seen once (a nonce taken as replayed).
var claimScript = redis.NewScript(`
if redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX') then
  return 1
end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return 1
end
return 0
`)

// claimOnce claims key for ttl, reporting whether this call is the first
// to claim it.
func claimOnce(ctx context.Context, rdb redis.Scripter, key string, ttl time.Duration) (bool, error) {
	n, err := claimScript.Run(ctx, rdb, []string{key}, rand.Text(), ttl.Milliseconds()).Int()
	if err != nil {
		return false, err
	}
	return n == 1, nil
}
