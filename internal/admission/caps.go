package admission

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/heraldhq/herald/store"
)

// capWindow is one fixed window of a receiver cap.
type capWindow struct {
	name   string // "minute", "hour", "day"
	length time.Duration
	limit  func(store.ReceiverCaps) int
}

var capWindows = []capWindow{
	{"minute", time.Minute, func(c store.ReceiverCaps) int { return c.PerMinute }},
	{"hour", time.Hour, func(c store.ReceiverCaps) int { return c.PerHour }},
	{"day", 24 * time.Hour, func(c store.ReceiverCaps) int { return c.PerDay }},
}

// capCounter is one counter a receiver is checked and counted against.
type capCounter struct {
	key   string
	limit int
	ttl   time.Duration // until the window ends
	// what names the cap for the client: "template otp", "channel 3".
	what   string
	window string
}

// capScope is a set of caps with the name of what set them.
type capScope struct {
	tag  string // key part: "t:<id>" or "c:<id>"
	what string
	caps store.ReceiverCaps
}

func (r Request) capScopes() []capScope {
	var scopes []capScope
	if r.Channel.ReceiverCaps != nil && !r.Channel.ReceiverCaps.IsZero() {
		scopes = append(scopes, capScope{tag: "c:" + strconv.FormatInt(r.Channel.ID, 10), what: fmt.Sprintf("channel %s", r.Channel.Name), caps: *r.Channel.ReceiverCaps})
	}
	if r.Template != nil {
		if c := r.Template.EffectiveReceiverCaps(); !c.IsZero() {
			scopes = append(scopes, capScope{tag: "t:" + strconv.FormatInt(r.Template.ID, 10), what: fmt.Sprintf("template %s", r.Template.Name), caps: c})
		}
	}
	return scopes
}

// capsScript checks and counts every receiver of a request in order, in
// one round trip and atomically: a receiver is counted against all its
// counters only if none is full, so a refused receiver takes nothing.
// KEYS[1] is the request's key, then the counters in receiver order.
// ARGV[1] is how long the request key is kept (ms), ARGV[2] the number of
// receivers; then, per receiver, its number of counters n followed by n
// pairs (limit, ttl in ms). It returns, per receiver, 0 when counted or
// the 1-based index of the first full counter.
//
// The verdicts are kept under the request key, and a run that finds them
// returns them instead of counting again: the client retries a script
// whose reply timed out, and without this a retry after Redis had already
// run it would count every receiver twice (and refuse those the first run
// counted, though nothing was ever sent to them).
//
// A counter is taken first and given back when it passes its limit: a
// receiver new in the window (most of a large batch) costs one call per
// counter, SET NX creating it with its expiry, instead of a read, an
// increment and an expiry.
var capsScript = redis.NewScript(`
local done = redis.call('GET', KEYS[1])
if done then
  local out = {}
  for v in string.gmatch(done, '[^,]+') do
    out[#out + 1] = tonumber(v)
  end
  return out
end
local out = {}
local ki = 2
local ai = 3
for r = 1, tonumber(ARGV[2]) do
  local n = tonumber(ARGV[ai])
  ai = ai + 1
  local over = 0
  for j = 0, n - 1 do
    local key = KEYS[ki + j]
    if not redis.call('SET', key, 1, 'PX', ARGV[ai + 2 * j + 1], 'NX') then
      if redis.call('INCR', key) > tonumber(ARGV[ai + 2 * j]) then
        over = j + 1
        for u = 0, j do
          redis.call('DECR', KEYS[ki + u])
        end
        break
      end
    end
  end
  out[r] = over
  ki = ki + n
  ai = ai + 2 * n
end
redis.call('SET', KEYS[1], table.concat(out, ','), 'PX', ARGV[1])
return out
`)

// requestKeyTTL is how long a request's key outlives its script: longer
// than the client's retries of one call (three, with backoff, each bounded
// by the read timeout).
const requestKeyTTL = time.Minute

// takenCaps is what checkCaps counted: the request it counted under and
// the counters of each receiver counted.
type takenCaps struct {
	request  string
	counters [][]capCounter
}

// newRequestKey names one admission's script runs in Redis.
func (s *Service) newRequestKey() string { return s.prefix + "req:" + rand.Text() }

// checkCaps counts the receivers not yet refused against the channel's
// and the template's receiver caps, refusing those over a cap. It returns
// the counters it incremented, per receiver counted.
func (s *Service) checkCaps(ctx context.Context, r Request, keys []string, out []*Refusal) (takenCaps, error) {
	scopes := r.capScopes()
	if len(scopes) == 0 {
		return takenCaps{}, nil
	}
	now := s.now()
	// The counters of one receiver key are the same for every receiver
	// with that key; built once per request.
	counters := func(rkey string) []capCounter {
		var cs []capCounter
		for _, sc := range scopes {
			for _, w := range capWindows {
				limit := w.limit(sc.caps)
				if limit <= 0 {
					continue
				}
				idx := now.UnixMilli() / w.length.Milliseconds()
				end := time.UnixMilli((idx + 1) * w.length.Milliseconds())
				cs = append(cs, capCounter{
					key:   fmt.Sprintf("%s%s:%s:%d:%s", s.prefix, sc.tag, w.name[:1], idx, rkey),
					limit: limit, ttl: end.Sub(now), what: sc.what, window: w.name,
				})
			}
		}
		return cs
	}
	var (
		redisKeys []string
		args      = []any{requestKeyTTL.Milliseconds(), 0}
		checked   []int
		perRecv   [][]capCounter
	)
	for i, k := range keys {
		if out[i] != nil {
			continue
		}
		cs := counters(k)
		args = append(args, len(cs))
		for _, c := range cs {
			redisKeys = append(redisKeys, c.key)
			// The key outlives its window by a second so a counter read at
			// the window's last instant is still there.
			args = append(args, c.limit, (c.ttl + time.Second).Milliseconds())
		}
		checked = append(checked, i)
		perRecv = append(perRecv, cs)
	}
	if len(checked) == 0 {
		return takenCaps{}, nil
	}
	args[1] = len(checked)
	taken := takenCaps{request: s.newRequestKey()}
	res, err := s.runCaps(ctx, taken.request, perRecv, redisKeys, args)
	if err != nil {
		return takenCaps{}, err
	}
	if len(res) != len(checked) {
		return takenCaps{}, fmt.Errorf("%w: receiver caps: script answered %d verdicts for %d receivers", ErrCache, len(res), len(checked))
	}
	// Kept per receiver: their keys are needed only if the request is
	// refused after all (uncount).
	for n, over := range res {
		if over == 0 {
			taken.counters = append(taken.counters, perRecv[n])
			continue
		}
		c := perRecv[n][over-1]
		out[checked[n]] = &Refusal{
			Status: http.StatusTooManyRequests, Code: CodeReceiverCapped, RetryAfter: c.ttl, Rule: "receiver_cap",
			Message: fmt.Sprintf("receiver cap of %d per %s for %s reached; retry after %ds", c.limit, c.window, c.what, retrySeconds(c.ttl)),
		}
	}
	return taken, nil
}

// capsChunk is how many receivers one run of capsScript checks. A batch of
// 100,000 receivers runs as chunks sent in one pipeline: one round trip,
// while no single script holds Redis (which serves every other request's
// nonce and rate) for the whole batch. Each receiver is still checked and
// counted atomically, within its chunk.
const capsChunk = 2000

// runCaps runs capsScript over the receivers of perRecv, whose counters
// are keys and whose arguments are args after the request key's TTL and
// the count, and returns the verdicts of all of them in order. Each run
// keeps its verdicts under request (and a chunk number).
func (s *Service) runCaps(ctx context.Context, request string, perRecv [][]capCounter, keys []string, args []any) ([]int64, error) {
	if len(perRecv) <= capsChunk {
		res, err := capsScript.Run(ctx, s.redis, append([]string{request}, keys...), args...).Int64Slice()
		if err != nil {
			return nil, fmt.Errorf("%w: receiver caps: %w", ErrCache, err)
		}
		return res, nil
	}
	pipe := s.redis.Pipeline()
	var cmds []*redis.Cmd
	ki, ai := 0, 2
	for start := 0; start < len(perRecv); start += capsChunk {
		part := perRecv[start:min(start+capsChunk, len(perRecv))]
		nk, na := 0, 0
		for _, cs := range part {
			nk += len(cs)
			na += 1 + 2*len(cs)
		}
		chunkArgs := append([]any{args[0], len(part)}, args[ai:ai+na]...)
		chunkKeys := append([]string{request + ":" + strconv.Itoa(start/capsChunk)}, keys[ki:ki+nk]...)
		// Eval, not EvalSha: a pipeline cannot fall back on NOSCRIPT, and
		// the script's text is small beside its arguments.
		cmds = append(cmds, capsScript.Eval(ctx, pipe, chunkKeys, chunkArgs...))
		ki, ai = ki+nk, ai+na
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("%w: receiver caps: %w", ErrCache, err)
	}
	res := make([]int64, 0, len(perRecv))
	for _, c := range cmds {
		part, err := c.Int64Slice()
		if err != nil {
			return nil, fmt.Errorf("%w: receiver caps: %w", ErrCache, err)
		}
		res = append(res, part...)
	}
	return res, nil
}

// uncountScript gives back one count per counter (KEYS[2:]), never below
// zero and never creating a key that has expired meanwhile. Like
// capsScript it marks its request (KEYS[1], kept for ARGV[1] ms) so that
// a retried call gives nothing back twice.
var uncountScript = redis.NewScript(`
if not redis.call('SET', KEYS[1], 1, 'PX', ARGV[1], 'NX') then
  return 0
end
for i = 2, #KEYS do
  local cur = tonumber(redis.call('GET', KEYS[i]) or '0')
  if cur > 0 then
    redis.call('DECR', KEYS[i])
  end
end
return 0
`)

// uncount gives back the counts checkCaps took for a request that is then
// refused whole.
func (s *Service) uncount(ctx context.Context, taken takenCaps) error {
	if len(taken.counters) == 0 {
		return nil
	}
	keys := []string{taken.request + ":undo"}
	for _, cs := range taken.counters {
		for _, c := range cs {
			keys = append(keys, c.key)
		}
	}
	if err := uncountScript.Run(ctx, s.redis, keys, requestKeyTTL.Milliseconds()).Err(); err != nil {
		return fmt.Errorf("%w: give back receiver caps: %w", ErrCache, err)
	}
	return nil
}

func retrySeconds(d time.Duration) int64 {
	s := int64((d + time.Second - 1) / time.Second)
	return max(s, 1)
}
