package api

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/store"
)

// A body the PHP client could send: keys out of order, spaces, <, >, &, /,
// non-ASCII text, nested objects, a float and an empty object. Members the
// API does not know are ignored but still signed.
const trickyBody = `{"receiver": "13800138000", "channel_id": 1,
 "template_params": {"minutes": "5", "code": "<a&b>/ü"},
 "meta": {"z": {"b": 1, "a": [1.5, "x/y"]}, "empty": {}}}`

// The canonical forms of trickyBody, written out by hand.
const (
	trickyGo       = `{"channel_id":1,"meta":{"empty":{},"z":{"a":[1.5,"x/y"],"b":1}},"receiver":"13800138000","template_params":{"code":"\u003ca\u0026b\u003e/ü","minutes":"5"}}`
	trickyPHP      = `{"channel_id":1,"meta":{"empty":{},"z":{"a":[1.5,"x/y"],"b":1}},"receiver":"13800138000","template_params":{"code":"<a&b>/ü","minutes":"5"}}`
	trickyPHPArray = `{"channel_id":1,"meta":{"empty":[],"z":{"a":[1.5,"x/y"],"b":1}},"receiver":"13800138000","template_params":{"code":"<a&b>/ü","minutes":"5"}}`
)

func TestAuthentication(t *testing.T) {
	t.Parallel()
	f := setup(t)
	// Read when each call is made: parallel subtests may start long after
	// the test under load, and the window edges below are 20-30 s wide.
	now := func() int64 { return time.Now().Unix() }
	unknownTask := "/api/v1/messages/" + uuid.NewString()

	t.Run("OK_GoCanonicalForm", func(t *testing.T) {
		t.Parallel()
		res := f.call(t, http.MethodPost, "/api/v1/messages", trickyBody, withCanonical(trickyGo))
		data := decodeData(t, res)
		require.NotEmpty(t, data["task_id"])
	})
	t.Run("OK_PHPCanonicalForm", func(t *testing.T) {
		t.Parallel()
		res := f.call(t, http.MethodPost, "/api/v1/messages", trickyBody, withCanonical(trickyPHP), withNonce(randHex(16)))
		decodeData(t, res)
	})
	t.Run("OK_PHPEmptyObjectAsArray", func(t *testing.T) {
		t.Parallel()
		res := f.call(t, http.MethodPost, "/api/v1/messages", trickyBody, withCanonical(trickyPHPArray), withNonce(randHex(16)))
		decodeData(t, res)
	})
	t.Run("OK_GETSignsEmptyParams", func(t *testing.T) {
		t.Parallel()
		res := f.call(t, http.MethodGet, "/api/v1/channels?type=sms", "", withCanonical(""))
		decodeData(t, res)
	})
	t.Run("OK_UpperCaseHexSignature", func(t *testing.T) {
		t.Parallel()
		at := now()
		ts, nonce := strconv.FormatInt(at, 10), uuid.NewString()
		sig := strings.ToUpper(signFor(f, http.MethodGet, "/api/v1/channels", "", ts, nonce))
		res := f.call(t, http.MethodGet, "/api/v1/channels", "", withTimestamp(at), withNonce(nonce), withSignature(sig))
		decodeData(t, res)
	})
	t.Run("OK_PathSignedAsSent", func(t *testing.T) {
		t.Parallel()
		at := now()
		ts, nonce := strconv.FormatInt(at, 10), uuid.NewString()
		sig := signFor(f, http.MethodGet, "/api/v1/channels/%31", "", ts, nonce)
		res := f.call(t, http.MethodGet, "/api/v1/channels/%31", "", withTimestamp(at), withNonce(nonce), withSignature(sig))
		data := decodeData(t, res)
		require.EqualValues(t, chSMS, data["id"])
	})
	t.Run("ErrBodySignedAsSent", func(t *testing.T) {
		t.Parallel()
		res := f.call(t, http.MethodPost, "/api/v1/messages", trickyBody, withCanonical(trickyBody))
		requireError(t, res, http.StatusUnauthorized, CodeBadSignature)
	})
	t.Run("ErrMissingAllHeaders", func(t *testing.T) {
		t.Parallel()
		res := f.call(t, http.MethodGet, "/api/v1/channels", "", withoutAuth())
		requireError(t, res, http.StatusUnauthorized, CodeUnauthorized)
		require.Contains(t, res.Message, HeaderSignature)
	})
	t.Run("ErrMissingNonce", func(t *testing.T) {
		t.Parallel()
		res := f.call(t, http.MethodGet, "/api/v1/channels", "", withNonce(""))
		requireError(t, res, http.StatusUnauthorized, CodeUnauthorized)
		require.Contains(t, res.Message, HeaderNonce)
	})
	t.Run("ErrUnknownApp", func(t *testing.T) {
		t.Parallel()
		res := f.call(t, http.MethodGet, "/api/v1/channels", "", withAppID("no-such-app"))
		requireError(t, res, http.StatusUnauthorized, CodeUnknownApp)
	})
	t.Run("ErrWrongSecret", func(t *testing.T) {
		t.Parallel()
		res := f.call(t, http.MethodGet, "/api/v1/channels", "", withSecret("not-the-secret"))
		requireError(t, res, http.StatusUnauthorized, CodeBadSignature)
	})
	t.Run("ErrSignatureCoversPath", func(t *testing.T) {
		t.Parallel()
		at := now()
		ts, nonce := strconv.FormatInt(at, 10), uuid.NewString()
		sig := signFor(f, http.MethodGet, "/api/v1/channels/1", "", ts, nonce)
		res := f.call(t, http.MethodGet, "/api/v1/channels", "", withTimestamp(at), withNonce(nonce), withSignature(sig))
		requireError(t, res, http.StatusUnauthorized, CodeBadSignature)
	})
	t.Run("ErrTimestampTooOld", func(t *testing.T) {
		t.Parallel()
		res := f.call(t, http.MethodGet, "/api/v1/channels", "", withTimestamp(now()-int64(DefaultTimestampWindow/time.Second)-30))
		requireError(t, res, http.StatusUnauthorized, CodeBadTimestamp)
	})
	t.Run("ErrTimestampInFuture", func(t *testing.T) {
		t.Parallel()
		res := f.call(t, http.MethodGet, "/api/v1/channels", "", withTimestamp(now()+int64(DefaultTimestampWindow/time.Second)+30))
		requireError(t, res, http.StatusUnauthorized, CodeBadTimestamp)
	})
	t.Run("ErrTimestampNotANumber", func(t *testing.T) {
		t.Parallel()
		res := f.call(t, http.MethodGet, "/api/v1/channels", "", withHeader(HeaderTimestamp, "2024-01-01T00:00:00Z"))
		requireError(t, res, http.StatusUnauthorized, CodeBadTimestamp)
	})
	t.Run("OK_TimestampInsideWindow", func(t *testing.T) {
		t.Parallel()
		res := f.call(t, http.MethodGet, "/api/v1/channels", "", withTimestamp(now()-int64(DefaultTimestampWindow/time.Second)+20))
		decodeData(t, res)
	})
	t.Run("ErrNonceReplayed", func(t *testing.T) {
		t.Parallel()
		nonce := uuid.NewString()
		res := f.call(t, http.MethodGet, unknownTask, "", withNonce(nonce), withTimestamp(now()))
		requireError(t, res, http.StatusNotFound, CodeTaskNotFound)
		res = f.call(t, http.MethodGet, unknownTask, "", withNonce(nonce), withTimestamp(now()))
		requireError(t, res, http.StatusUnauthorized, CodeNonceReused)
	})
	t.Run("OK_BadSignatureDoesNotBurnNonce", func(t *testing.T) {
		t.Parallel()
		nonce := uuid.NewString()
		res := f.call(t, http.MethodGet, "/api/v1/channels", "", withNonce(nonce), withSecret("wrong"))
		requireError(t, res, http.StatusUnauthorized, CodeBadSignature)
		decodeData(t, f.call(t, http.MethodGet, "/api/v1/channels", "", withNonce(nonce)))
	})
	t.Run("ErrNonceTooLong", func(t *testing.T) {
		t.Parallel()
		res := f.call(t, http.MethodGet, "/api/v1/channels", "", withNonce(strings.Repeat("n", maxNonceLen+1)))
		requireError(t, res, http.StatusUnauthorized, CodeUnauthorized)
	})
	t.Run("ErrMalformedJSON", func(t *testing.T) {
		t.Parallel()
		res := f.call(t, http.MethodPost, "/api/v1/messages", `{"channel_id": 1, "receiver": }`, withCanonical(""))
		requireError(t, res, http.StatusBadRequest, CodeMalformedJSON)
		require.Contains(t, res.Message, "offset")
	})
	t.Run("ErrTrailingData", func(t *testing.T) {
		t.Parallel()
		res := f.call(t, http.MethodPost, "/api/v1/messages", `{"channel_id": 1} {}`, withCanonical(""))
		requireError(t, res, http.StatusBadRequest, CodeMalformedJSON)
	})
	t.Run("ErrUnknownEndpointAfterAuth", func(t *testing.T) {
		t.Parallel()
		res := f.call(t, http.MethodGet, "/api/v1/nothing-here", "")
		requireError(t, res, http.StatusNotFound, CodeInvalidParams)
	})
}

func signFor(f *fixture, method, path, canon, ts, nonce string) string {
	return signWith(f.app.Secret, method, path, canon, ts, nonce)
}

func TestAuthenticationAppState(t *testing.T) {
	t.Parallel()

	t.Run("ErrAppDisabled", func(t *testing.T) {
		t.Parallel()
		f := setup(t, withApp(func(a *store.App) { a.Enabled = false }))
		requireError(t, f.call(t, http.MethodGet, "/api/v1/channels", ""), http.StatusForbidden, CodeAppDisabled)
	})
	t.Run("ErrIPNotInAllowlist", func(t *testing.T) {
		t.Parallel()
		f := setup(t, withApp(func(a *store.App) { a.IPAllowlist = []string{"10.1.2.3", "192.168.0.0/16"} }))
		res := f.call(t, http.MethodGet, "/api/v1/channels", "")
		requireError(t, res, http.StatusForbidden, CodeIPNotAllowed)
	})
	t.Run("OK_IPMatchesExactEntry", func(t *testing.T) {
		t.Parallel()
		f := setup(t, withApp(func(a *store.App) { a.IPAllowlist = []string{"10.1.2.3", "127.0.0.1"} }))
		decodeData(t, f.call(t, http.MethodGet, "/api/v1/channels", ""))
	})
	t.Run("OK_IPMatchesCIDR", func(t *testing.T) {
		t.Parallel()
		f := setup(t, withApp(func(a *store.App) { a.IPAllowlist = []string{"127.0.0.0/8"} }))
		decodeData(t, f.call(t, http.MethodGet, "/api/v1/channels", ""))
	})
	t.Run("ErrForwardedForIgnoredWithoutTrustedProxy", func(t *testing.T) {
		t.Parallel()
		f := setup(t, withApp(func(a *store.App) { a.IPAllowlist = []string{"203.0.113.0/24"} }))
		res := f.call(t, http.MethodGet, "/api/v1/channels", "", withHeader("X-Forwarded-For", "203.0.113.7"))
		requireError(t, res, http.StatusForbidden, CodeIPNotAllowed)
	})
	t.Run("OK_ForwardedForFromTrustedProxy", func(t *testing.T) {
		t.Parallel()
		f := setup(t,
			withApp(func(a *store.App) { a.IPAllowlist = []string{"203.0.113.0/24"} }),
			withConfig(func(c *Config) { c.TrustedProxies = []string{"127.0.0.1"} }))
		decodeData(t, f.call(t, http.MethodGet, "/api/v1/channels", "", withHeader("X-Forwarded-For", "203.0.113.7")))
		res := f.call(t, http.MethodGet, "/api/v1/channels", "", withHeader("X-Forwarded-For", "198.51.100.1"))
		requireError(t, res, http.StatusForbidden, CodeIPNotAllowed)
	})
	t.Run("ErrBodyTooLarge", func(t *testing.T) {
		t.Parallel()
		f := setup(t, withConfig(func(c *Config) { c.MaxBodyBytes = 64 }))
		body := fmt.Sprintf(`{"channel_id":1,"receiver":%q}`, strings.Repeat("1", 100))
		res := f.call(t, http.MethodPost, "/api/v1/messages", body)
		requireError(t, res, http.StatusRequestEntityTooLarge, CodeInvalidParams)
		require.Contains(t, res.Message, "64 bytes")
	})
	t.Run("ErrRedisDown", func(t *testing.T) {
		t.Parallel()
		dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
		t.Cleanup(func() { _ = dead.Close() })
		f := setup(t, withRedis(dead))
		requireError(t, f.call(t, http.MethodGet, "/api/v1/channels", ""), http.StatusServiceUnavailable, CodeCache)
	})
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	f := setup(t, withApp(func(a *store.App) { a.RateLimitPerSecond = 2 }))
	path := "/api/v1/messages/" + uuid.NewString()
	limited := 0
	var last result
	for range 4 {
		last = f.call(t, http.MethodGet, path, "")
		if last.Status == http.StatusTooManyRequests {
			limited++
			requireError(t, last, http.StatusTooManyRequests, CodeRateLimited)
			retry, err := strconv.Atoi(last.Header.Get("Retry-After"))
			require.NoError(t, err)
			require.GreaterOrEqual(t, retry, 1)
		} else {
			requireError(t, last, http.StatusNotFound, CodeTaskNotFound)
		}
	}
	require.GreaterOrEqual(t, limited, 1, "a rate of 2/s must refuse some of 4 immediate requests")

	t.Run("ErrChannelsAreLimited", func(t *testing.T) {
		// The catalogue consumes no quota, but it is rate limited like
		// every other /api/v1 request.
		res := f.call(t, http.MethodGet, "/api/v1/channels", "")
		requireError(t, res, http.StatusTooManyRequests, CodeRateLimited)
		res = f.call(t, http.MethodGet, fmt.Sprintf("/api/v1/channels/%d", chSMS), "")
		requireError(t, res, http.StatusTooManyRequests, CodeRateLimited)
	})
}

func TestEchoErrorsUseEnvelope(t *testing.T) {
	t.Parallel()
	f := setup(t)
	t.Run("ErrNoRoute", func(t *testing.T) {
		t.Parallel()
		requireError(t, f.call(t, http.MethodGet, "/nowhere", "", withoutAuth()), http.StatusNotFound, CodeInvalidParams)
	})
	t.Run("ErrMethodNotAllowed", func(t *testing.T) {
		t.Parallel()
		requireError(t, f.call(t, http.MethodPut, "/health", "", withoutAuth()), http.StatusMethodNotAllowed, CodeInvalidParams)
	})
}

func TestRequestLogOmitsPersonalData(t *testing.T) {
	t.Parallel()
	f := setup(t)
	res := f.call(t, http.MethodPost, "/api/v1/messages", `{"channel_id":1,"receiver":"`+testPhone+`","template_params":`+otpParamsJSON+`}`)
	decodeData(t, res)
	var sawRequest bool
	for _, e := range f.logs.All() {
		line := fmt.Sprintf("%s %v", e.Message, e.ContextMap())
		require.NotContains(t, line, "13800138000")
		require.NotContains(t, line, f.app.Secret)
		require.NotContains(t, line, "123456")
		if e.Message == "request" && e.ContextMap()["app_id"] == f.app.ID {
			sawRequest = true
			require.EqualValues(t, http.StatusOK, e.ContextMap()["status"])
		}
	}
	require.True(t, sawRequest, "a request line with the app id is logged")
}
