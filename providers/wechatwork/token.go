package wechatwork

import (
	"context"
	"crypto/sha256"
	"errors"
	"sync"
	"time"
)

// tokenMargin is how long before WeCom's stated expiry a cached token is
// given up, so a token never expires between being picked and being used.
const tokenMargin = 5 * time.Minute

// tokenLifetime is how long a token from an answer of expires_in seconds
// is used: the stated lifetime less a safety margin, or half of it when the
// lifetime is short.
func tokenLifetime(expiresIn int64) time.Duration {
	if expiresIn <= 0 {
		return 0
	}
	d := time.Duration(expiresIn) * time.Second
	if d <= 2*tokenMargin {
		return d / 2
	}
	return d - tokenMargin
}

// tokenKey identifies one application's token: tokens are per secret. The
// secret is kept only as a hash.
type tokenKey struct {
	baseURL string
	corpID  string
	secret  [sha256.Size]byte
}

func keyOf(cfg Config) tokenKey {
	return tokenKey{baseURL: cfg.BaseURL, corpID: cfg.CorpID, secret: sha256.Sum256([]byte(cfg.CorpSecret))}
}

// tokenCache holds one tokenSource per application.
type tokenCache struct {
	mu    sync.Mutex
	byApp map[tokenKey]*tokenSource
}

func newTokenCache() *tokenCache { return &tokenCache{byApp: map[tokenKey]*tokenSource{}} }

func (c *tokenCache) source(k tokenKey) *tokenSource {
	c.mu.Lock()
	defer c.mu.Unlock()
	ts, ok := c.byApp[k]
	if !ok {
		ts = &tokenSource{}
		c.byApp[k] = ts
	}
	return ts
}

// fetchFunc asks WeCom for a token and says how long to use it.
type fetchFunc func(ctx context.Context) (token string, lifetime time.Duration, err error)

// tokenSource caches one application's access token. Concurrent callers
// that need a new token share one gettoken call.
//
// Each token fetched gets a generation number. A caller whose token was
// refused passes that token's generation to get, which then returns only a
// newer token: the first such caller fetches one, the others wait for that
// fetch or find its result. Comparing generations rather than token
// strings matters because WeCom may hand out the same string again.
type tokenSource struct {
	mu      sync.Mutex
	token   string
	gen     uint64
	expires time.Time
	call    *tokenCall
	// onWait, when set, is called by a caller that found a fetch in flight
	// and is about to wait for it, so tests can act while it waits.
	onWait func()
}

// tokenCall is one gettoken in flight.
type tokenCall struct {
	done  chan struct{}
	token string
	gen   uint64
	err   error
	// abandoned is set when the fetch failed because its caller gave up;
	// the waiters then try again with their own contexts.
	abandoned bool
}

// get returns a valid token newer than generation newerThan (0 for any),
// fetching one when there is none.
func (ts *tokenSource) get(ctx context.Context, now func() time.Time, newerThan uint64, fetch fetchFunc) (string, uint64, error) {
	for {
		ts.mu.Lock()
		if ts.token != "" && ts.gen > newerThan && now().Before(ts.expires) {
			token, gen := ts.token, ts.gen
			ts.mu.Unlock()
			return token, gen, nil
		}
		if c := ts.call; c != nil {
			onWait := ts.onWait
			ts.mu.Unlock()
			if onWait != nil {
				onWait()
			}
			select {
			case <-c.done:
			case <-ctx.Done():
				return "", 0, ctx.Err()
			}
			if c.err == nil {
				return c.token, c.gen, nil
			}
			if c.abandoned && ctx.Err() == nil {
				continue
			}
			return "", 0, c.err
		}
		c := &tokenCall{done: make(chan struct{})}
		ts.call = c
		ts.mu.Unlock()

		token, lifetime, err := fetch(ctx)

		ts.mu.Lock()
		ts.call = nil
		if err == nil {
			ts.gen++
			ts.token, ts.expires = token, now().Add(lifetime)
			c.token, c.gen = token, ts.gen
		} else {
			c.err = err
			c.abandoned = ctx.Err() != nil || errors.Is(err, context.Canceled)
		}
		close(c.done)
		ts.mu.Unlock()
		return c.token, c.gen, c.err
	}
}
