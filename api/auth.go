package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"time"
	"unicode"

	"github.com/go-redis/redis_rate/v10"
	"github.com/labstack/echo/v4"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/heraldhq/herald/api/internal/signing"
	"github.com/heraldhq/herald/internal/clientip"
	"github.com/heraldhq/herald/store"
)

// Authentication headers of the wire contract.
const (
	HeaderAppID     = "X-App-Id"
	HeaderTimestamp = "X-Timestamp"
	HeaderNonce     = "X-Nonce"
	HeaderSignature = "X-Signature"
	// HeaderIdempotencyKey makes a send safe to retry.
	HeaderIdempotencyKey = "Idempotency-Key"
)

// Context keys under which the auth middleware leaves its results.
const (
	ctxApp  = "herald.app"
	ctxBody = "herald.body"
)

// maxNonceLen bounds X-Nonce; the clients send 32 to 36 characters.
const maxNonceLen = 128

// appFrom returns the authenticated app, or nil outside /api/v1.
func appFrom(c echo.Context) *store.App {
	app, _ := c.Get(ctxApp).(*store.App)
	return app
}

// bodyFrom returns the request body read by the auth middleware.
func bodyFrom(c echo.Context) []byte {
	b, _ := c.Get(ctxBody).([]byte)
	return b
}

// authenticate checks the signed headers of every /api/v1 request, in an
// order that answers cheap questions first and consumes a nonce only for a
// request that is otherwise acceptable:
// headers (20001) → timestamp (20004) → app (20002) → body size and JSON
// (413/10002) → signature (20003) → app enabled (20006) → client IP (20005)
// → nonce (20007).
//
// A client IP that keeps failing is refused with 429 before any of this,
// before its body is read: see checkAuthFailures.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if err := s.checkAuthFailures(c); err != nil {
			return err
		}
		err := s.verifyRequest(c)
		var ae *Error
		if errors.As(err, &ae) && ae.Status == http.StatusUnauthorized {
			s.recordAuthFailure(c)
		}
		if err != nil {
			return err
		}
		return next(c)
	}
}

// verifyRequest runs the checks of authenticate and leaves the app and the
// body in the context.
func (s *Server) verifyRequest(c echo.Context) error {
	req := c.Request()
	appID := req.Header.Get(HeaderAppID)
	ts := req.Header.Get(HeaderTimestamp)
	nonce := req.Header.Get(HeaderNonce)
	sig := req.Header.Get(HeaderSignature)
	var missing []string
	for _, h := range []struct{ name, value string }{
		{HeaderAppID, appID}, {HeaderTimestamp, ts}, {HeaderNonce, nonce}, {HeaderSignature, sig},
	} {
		if h.value == "" {
			missing = append(missing, h.name)
		}
	}
	if len(missing) > 0 {
		return errUnauthorized(CodeUnauthorized, "missing authentication header(s): %v", missing)
	}
	if len(nonce) > maxNonceLen || !printableASCII(nonce) {
		return errUnauthorized(CodeUnauthorized, "%s must be 1 to %d printable ASCII characters", HeaderNonce, maxNonceLen)
	}

	if err := s.checkTimestamp(ts); err != nil {
		return err
	}

	app, err := s.store.GetApp(req.Context(), appID)
	if errors.Is(err, store.ErrNotFound) {
		return errUnauthorized(CodeUnknownApp, "unknown app id")
	}
	if err != nil {
		return errDatabase("load app", err)
	}

	body, err := s.readBody(req, s.bodyLimit(c))
	if err != nil {
		return err
	}
	candidates, err := signing.Candidates(body)
	if err != nil {
		var se *signing.SyntaxError
		if errors.As(err, &se) {
			return NewError(http.StatusBadRequest, CodeMalformedJSON, "%s", se.Error())
		}
		return errInvalidParams("request body cannot be canonicalised: %v", err)
	}
	// An app without a secret would accept signatures anyone can make.
	if app.Secret == "" || !verifySignature(app.Secret, req.Method, signedPaths(req), candidates, ts, nonce, sig) {
		return errUnauthorized(CodeBadSignature, "signature verification failed")
	}
	// From here on the caller is known: the request log names it.
	c.Set(ctxApp, app)

	if !app.Enabled {
		return errForbidden(CodeAppDisabled, "app is disabled")
	}
	if err := checkAllowlist(app.IPAllowlist, c.RealIP()); err != nil {
		return err
	}
	if err := s.claimNonce(c, app.ID, nonce); err != nil {
		return err
	}

	c.Set(ctxBody, body)
	return nil
}

// authFailureKey counts the failed authentications of one client IP. Signed
// API requests and provider callbacks share it: an address guessing app
// signatures or callback tokens is the same attacker, and the limit it
// reaches on one is the limit on the other. An address that only fails
// callbacks (a provider pushing with a stale token) is thus refused on the
// signed API too until it pauses; providers push from their own addresses,
// which apps do not share.
func authFailureKey(ip string) string { return "herald:authfail:" + ip }

// checkAuthFailures refuses a client IP that has failed authentication
// AuthFailureLimit times within AuthFailureWindow of its latest failure.
// The signed API runs it first, before the body is read and canonicalised,
// so an address guessing signatures costs one Redis read per request;
// callbacks run it only once their token has failed (see callbackTarget).
// Behind a load balancer the client IP is only known when the balancer is
// a trusted proxy (TrustedProxies); otherwise every client shares the
// balancer's IP.
func (s *Server) checkAuthFailures(c echo.Context) error {
	if s.cfg.AuthFailureLimit < 0 {
		return nil
	}
	key := authFailureKey(c.RealIP())
	ctx := c.Request().Context()
	n, err := s.redis.Get(ctx, key).Int()
	if errors.Is(err, redis.Nil) {
		return nil
	}
	if err != nil {
		return errCache("read authentication failures", err)
	}
	if n < s.cfg.AuthFailureLimit {
		return nil
	}
	ttl, err := s.redis.PTTL(ctx, key).Result()
	if err != nil {
		return errCache("read authentication failures", err)
	}
	e := NewError(http.StatusTooManyRequests, CodeRateLimited,
		"too many failed authentications from this address; retry after the Retry-After delay with valid credentials")
	e.RetryAfter = max(ttl, time.Second)
	return e
}

// recordAuthFailure counts a failed authentication of the request's client
// IP. Each failure extends the window, so an address that keeps failing
// stays refused until it pauses for a whole window. Counting is best
// effort: a Redis failure here must not turn a 401 into a 503.
func (s *Server) recordAuthFailure(c echo.Context) {
	if s.cfg.AuthFailureLimit < 0 {
		return
	}
	key := authFailureKey(c.RealIP())
	ctx := context.WithoutCancel(c.Request().Context())
	_, err := s.redis.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Incr(ctx, key)
		p.PExpire(ctx, key, s.cfg.AuthFailureWindow)
		return nil
	})
	if err != nil {
		s.log.Warn("count failed authentication", zap.Error(err))
	}
}

// signedPaths lists the spellings of the request path a client may have
// signed: the decoded path and, when it differs, the path as sent.
func signedPaths(req *http.Request) []string {
	paths := []string{req.URL.Path}
	if raw := req.URL.EscapedPath(); raw != req.URL.Path {
		paths = append(paths, raw)
	}
	return paths
}

func verifySignature(secret, method string, paths, candidates []string, ts, nonce, sig string) bool {
	ok := false
	// Check every form so the time taken does not tell which one matched.
	for _, path := range paths {
		for _, canon := range candidates {
			if signing.Equal(sig, signing.Sign(secret, method, path, canon, ts, nonce)) {
				ok = true
			}
		}
	}
	return ok
}

func (s *Server) checkTimestamp(ts string) error {
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return errUnauthorized(CodeBadTimestamp, "%s must be Unix seconds", HeaderTimestamp)
	}
	now := s.now().Unix()
	window := int64(s.cfg.TimestampWindow / time.Second)
	if sec < now-window || sec > now+window {
		return errUnauthorized(CodeBadTimestamp, "timestamp is outside the allowed window of ±%s", s.cfg.TimestampWindow)
	}
	return nil
}

// bodyLimit is the largest body the request's route accepts: a batch
// send lists its receivers, and has a limit of its own.
func (s *Server) bodyLimit(c echo.Context) int64 {
	if c.Request().Method == http.MethodPost && c.Path() == batchRoute {
		return s.cfg.BatchMaxBodyBytes
	}
	return s.cfg.MaxBodyBytes
}

// readBody reads the whole body once, within limit, and puts it back so
// handlers can read it again.
func (s *Server) readBody(req *http.Request, limit int64) ([]byte, error) {
	tooLarge := NewError(http.StatusRequestEntityTooLarge, CodeInvalidParams, "request body exceeds %d bytes", limit)
	if req.ContentLength > limit {
		return nil, tooLarge
	}
	if req.Body == nil || req.Body == http.NoBody {
		return nil, nil
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, limit+1))
	if err != nil {
		return nil, errInvalidParams("read request body: %v", err)
	}
	if int64(len(body)) > limit {
		return nil, tooLarge
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	return body, nil
}

// checkAllowlist admits ip when the app has no allowlist or ip falls in one
// of its entries (IPs or CIDR ranges). Unparsable entries match nothing.
func checkAllowlist(allowlist []string, ip string) error {
	if len(allowlist) == 0 {
		return nil
	}
	addr, err := netip.ParseAddr(ip)
	if err == nil {
		for _, entry := range allowlist {
			p, perr := clientip.ParsePrefix(entry)
			if perr == nil && clientip.Contains([]netip.Prefix{p}, addr) {
				return nil
			}
		}
	}
	return errForbidden(CodeIPNotAllowed, "client IP %s is not allowed for this app", ip)
}

// claimNonce records the nonce in Redis so a replay is refused on every
// replica. It is kept for twice the timestamp window: a request older than
// the window is refused by its timestamp anyway.
func (s *Server) claimNonce(c echo.Context, appID, nonce string) error {
	key := fmt.Sprintf("herald:nonce:%s:%s", appID, nonce)
	ok, err := claimOnce(c.Request().Context(), s.redis, key, 2*s.cfg.TimestampWindow)
	if err != nil {
		return errCache("claim nonce", err)
	}
	if !ok {
		return errUnauthorized(CodeNonceReused, "nonce has already been used")
	}
	return nil
}

// requestLimit is the app's request rate: requests_per_minute with its
// burst when set, else its per-second rate, else the server default.
func (s *Server) requestLimit(app *store.App) (redis_rate.Limit, string) {
	if app.RequestsPerMinute > 0 {
		burst := app.Burst
		if burst <= 0 {
			burst = app.RequestsPerMinute
		}
		return redis_rate.Limit{Rate: app.RequestsPerMinute, Burst: burst, Period: time.Minute},
			fmt.Sprintf("%d requests per minute (burst %d)", app.RequestsPerMinute, burst)
	}
	rate := app.RateLimitPerSecond
	if rate <= 0 {
		rate = s.cfg.DefaultRateLimit
	}
	return redis_rate.PerSecond(rate), fmt.Sprintf("%d requests per second", rate)
}

// rateLimit applies the app's request rate (GCRA in Redis, shared by all
// replicas) to every /api/v1 request.
func (s *Server) rateLimit(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		app := appFrom(c)
		if app == nil {
			return next(c)
		}
		limit, what := s.requestLimit(app)
		res, err := s.limiter.Allow(c.Request().Context(), "herald:app:"+app.ID, limit)
		if err != nil {
			return errCache("rate limit", err)
		}
		if res.Allowed == 0 {
			e := NewError(http.StatusTooManyRequests, CodeRateLimited, "request rate limit of %s exceeded", what)
			e.RetryAfter = res.RetryAfter
			return e
		}
		return next(c)
	}
}

// messagesPerMinute is the app's message rate, else the server default;
// 0 means none. The admission service applies it.
func (s *Server) messagesPerMinute(app *store.App) int {
	if app.MessagesPerMinute > 0 {
		return app.MessagesPerMinute
	}
	return s.cfg.DefaultMessagesPerMinute
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// printableString reports whether s is valid text without control characters.
func printableString(s string) bool {
	for _, r := range s {
		if r == unicode.ReplacementChar || unicode.IsControl(r) {
			return false
		}
	}
	return true
}
