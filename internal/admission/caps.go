package admission

import (
	"context"
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
// ARGV[1] is the number of receivers; then, per receiver, its number of
// counters n followed by n pairs (limit, ttl in ms). KEYS are the counters
// in the same order. It returns, per receiver, 0 when counted or the
// 1-based index of the first full counter.
//
// A counter is taken first and given back when it passes its limit: a
// receiver new in the window (most of a large batch) costs one call per
// counter, SET NX creating it with its expiry, instead of a read, an
// increment and an expiry.
var capsScript = redis.NewScript(`
local out = {}
local ki = 1
local ai = 2
for r = 1, tonumber(ARGV[1]) do
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
return out
`)

// checkCaps counts the receivers not yet refused against the channel's
// and the template's receiver caps, refusing those over a cap. It returns
// the counters it incremented, per receiver counted.
func (s *Service) checkCaps(ctx context.Context, r Request, keys []string, out []*Refusal) ([][]capCounter, error) {
	scopes := r.capScopes()
	if len(scopes) == 0 {
		return nil, nil
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
		args      = []any{0}
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
		return nil, nil
	}
	args[0] = len(checked)
	res, err := s.runCaps(ctx, perRecv, redisKeys, args)
	if err != nil {
		return nil, err
	}
	if len(res) != len(checked) {
		return nil, fmt.Errorf("%w: receiver caps: script answered %d verdicts for %d receivers", ErrCache, len(res), len(checked))
	}
	// Kept per receiver: their keys are needed only if the request is
	// refused after all (uncount).
	var counted [][]capCounter
	for n, over := range res {
		if over == 0 {
			counted = append(counted, perRecv[n])
			continue
		}
		c := perRecv[n][over-1]
		out[checked[n]] = &Refusal{
			Status: http.StatusTooManyRequests, Code: CodeReceiverCapped, RetryAfter: c.ttl, Rule: "receiver_cap",
			Message: fmt.Sprintf("receiver cap of %d per %s for %s reached; retry after %ds", c.limit, c.window, c.what, retrySeconds(c.ttl)),
		}
	}
	return counted, nil
}

// capsChunk is how many receivers one run of capsScript checks. A batch of
// 100,000 receivers runs as chunks sent in one pipeline: one round trip,
// while no single script holds Redis (which serves every other request's
// nonce and rate) for the whole batch. Each receiver is still checked and
// counted atomically, within its chunk.
const capsChunk = 2000

// runCaps runs capsScript over the receivers of perRecv, whose counters
// are keys and whose arguments are args after the count, and returns the
// verdicts of all of them in order.
func (s *Service) runCaps(ctx context.Context, perRecv [][]capCounter, keys []string, args []any) ([]int64, error) {
	if len(perRecv) <= capsChunk {
		res, err := capsScript.Run(ctx, s.redis, keys, args...).Int64Slice()
		if err != nil {
			return nil, fmt.Errorf("%w: receiver caps: %w", ErrCache, err)
		}
		return res, nil
	}
	pipe := s.redis.Pipeline()
	var cmds []*redis.Cmd
	ki, ai := 0, 1
	for start := 0; start < len(perRecv); start += capsChunk {
		part := perRecv[start:min(start+capsChunk, len(perRecv))]
		nk, na := 0, 0
		for _, cs := range part {
			nk += len(cs)
			na += 1 + 2*len(cs)
		}
		chunkArgs := append([]any{len(part)}, args[ai:ai+na]...)
		// Eval, not EvalSha: a pipeline cannot fall back on NOSCRIPT, and
		// the script's text is small beside its arguments.
		cmds = append(cmds, capsScript.Eval(ctx, pipe, keys[ki:ki+nk], chunkArgs...))
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

// uncountScript gives back one count per key, never below zero and never
// creating a key that has expired meanwhile.
var uncountScript = redis.NewScript(`
for i = 1, #KEYS do
  local cur = tonumber(redis.call('GET', KEYS[i]) or '0')
  if cur > 0 then
    redis.call('DECR', KEYS[i])
  end
end
return 0
`)

// uncount gives back the counts checkCaps took for a request that is then
// refused whole.
func (s *Service) uncount(ctx context.Context, counted [][]capCounter) error {
	var keys []string
	for _, cs := range counted {
		for _, c := range cs {
			keys = append(keys, c.key)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	if err := uncountScript.Run(ctx, s.redis, keys).Err(); err != nil {
		return fmt.Errorf("%w: give back receiver caps: %w", ErrCache, err)
	}
	return nil
}

func retrySeconds(d time.Duration) int64 {
	s := int64((d + time.Second - 1) / time.Second)
	return max(s, 1)
}
