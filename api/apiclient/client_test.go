package apiclient

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// captured is what the test server saw of one request.
type captured struct {
	method, path, query string
	header              http.Header
	body                string
}

// setup starts a server that records the request and answers with reply.
func setup(t *testing.T, status int, reply string) (*httptest.Server, chan captured) {
	t.Helper()
	got := make(chan captured, 1)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- captured{method: r.Method, path: r.URL.Path, query: r.URL.RawQuery, header: r.Header.Clone(), body: string(b)}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, reply)
	}))
	t.Cleanup(ts.Close)
	return ts, got
}

func hmacHex(secret, content string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(content))
	return hex.EncodeToString(m.Sum(nil))
}

var fixedClock = func() time.Time { return time.Unix(1700000000, 0) }

func TestStats(t *testing.T) {
	t.Parallel()
	ts, got := setup(t, http.StatusOK, `{"code":0,"message":"success","data":{"interval":"hour","series":[{"key":"all","total":{"accepted":3}}]}}`)
	var rep struct {
		Interval string `json:"interval"`
		Series   []struct {
			Total struct {
				Accepted int `json:"accepted"`
			} `json:"total"`
		} `json:"series"`
	}
	err := New(ts.URL, "app-1", "sec").Stats(context.Background(), url.Values{"interval": {"hour"}}, &rep)
	require.NoError(t, err)
	require.Equal(t, "hour", rep.Interval)
	require.Equal(t, 3, rep.Series[0].Total.Accepted)
	r := <-got
	require.Equal(t, http.MethodGet, r.method)
	require.Equal(t, "/api/v1/stats", r.path)
	require.Equal(t, "interval=hour", r.query)
	require.NotEmpty(t, r.header.Get("X-Signature"))
}

func TestSigning(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	req := SendMessageRequest{ChannelID: 7, Receiver: "a&b", TemplateParams: map[string]string{"x": "<ü/>"}}
	const reply = `{"code":0,"message":"success","data":{"task_id":"t1","status":"pending","created_at":"2030-01-01T00:00:00Z"}}`

	t.Run("OK_GoForm", func(t *testing.T) {
		t.Parallel()
		ts, got := setup(t, http.StatusOK, reply)
		c := New(ts.URL+"/", "app-1", "sec", WithClock(fixedClock))
		res, err := c.SendMessage(ctx, req, WithIdempotencyKey("k-1"))
		require.NoError(t, err)
		require.Equal(t, "t1", res.TaskID)
		r := <-got
		require.Equal(t, "/api/v1/messages", r.path)
		require.Equal(t, "k-1", r.header.Get("Idempotency-Key"))
		require.Equal(t, "app-1", r.header.Get("X-App-Id"))
		require.Equal(t, "1700000000", r.header.Get("X-Timestamp"))
		nonce := r.header.Get("X-Nonce")
		_, err = uuid.Parse(nonce)
		require.NoError(t, err, "the Go client's nonce is a UUID")
		canon := `{"channel_id":7,"receiver":"a\u0026b","template_params":{"x":"\u003cü/\u003e"}}`
		require.Equal(t, hmacHex("sec", "POST/api/v1/messages"+canon+"1700000000"+nonce), r.header.Get("X-Signature"))
	})
	t.Run("OK_PHPForm", func(t *testing.T) {
		t.Parallel()
		ts, got := setup(t, http.StatusOK, reply)
		c := New(ts.URL, "app-1", "sec", WithClock(fixedClock), WithPHPSigning())
		_, err := c.SendMessage(ctx, req)
		require.NoError(t, err)
		r := <-got
		nonce := r.header.Get("X-Nonce")
		require.Regexp(t, regexp.MustCompile(`^[0-9a-f]{32}$`), nonce)
		canon := `{"channel_id":7,"receiver":"a&b","template_params":{"x":"<ü/>"}}`
		require.Equal(t, hmacHex("sec", "POST/api/v1/messages"+canon+"1700000000"+nonce), r.header.Get("X-Signature"))
		require.Empty(t, r.header.Get("Idempotency-Key"))
	})
	t.Run("OK_GETSignsEmptyParamsAndPrefix", func(t *testing.T) {
		t.Parallel()
		ts, got := setup(t, http.StatusOK, `{"code":0,"message":"success","data":{"items":[],"total":0,"page":2,"size":5}}`)
		c := New(ts.URL+"/herald", "app-1", "sec", WithClock(fixedClock), WithNonce(func() string { return "n-1" }))
		page, err := c.ListChannels(ctx, ListChannelsParams{Type: "sms", Page: 2, PageSize: 5})
		require.NoError(t, err)
		require.Equal(t, 2, page.Page)
		r := <-got
		require.Equal(t, "/herald/api/v1/channels", r.path)
		require.Equal(t, "page=2&page_size=5&type=sms", r.query)
		require.Empty(t, r.body)
		require.Equal(t, hmacHex("sec", "GET/herald/api/v1/channels1700000000n-1"), r.header.Get("X-Signature"))
	})
	t.Run("OK_HealthIsNotSigned", func(t *testing.T) {
		t.Parallel()
		ts, got := setup(t, http.StatusOK, `{"code":0,"message":"success","data":{"status":"UP","services":{}}}`)
		h, err := New(ts.URL, "app-1", "sec").Health(ctx)
		require.NoError(t, err)
		require.Equal(t, "UP", h.Status)
		require.Empty(t, (<-got).header.Get("X-Signature"))
	})
}

func TestErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("APIError", func(t *testing.T) {
		t.Parallel()
		ts, _ := setup(t, http.StatusUnauthorized, `{"code":20003,"message":"signature verification failed","data":null}`)
		_, err := New(ts.URL, "a", "s").GetMessage(ctx, "x")
		var apiErr *APIError
		require.ErrorAs(t, err, &apiErr)
		require.Equal(t, &APIError{HTTPStatus: 401, Code: 20003, Message: "signature verification failed"}, apiErr)
	})
	t.Run("APIErrorEvenWithHTTP200", func(t *testing.T) {
		t.Parallel()
		ts, _ := setup(t, http.StatusOK, `{"code":30007,"message":"task not found","data":null}`)
		_, err := New(ts.URL, "a", "s").CancelMessage(ctx, "x")
		var apiErr *APIError
		require.ErrorAs(t, err, &apiErr)
		require.Equal(t, 30007, apiErr.Code)
	})
	t.Run("ErrNotJSON", func(t *testing.T) {
		t.Parallel()
		ts, _ := setup(t, http.StatusBadGateway, `<html>bad gateway</html>`)
		_, err := New(ts.URL, "a", "s").GetChannel(ctx, 1)
		require.Error(t, err)
		var apiErr *APIError
		require.False(t, errors.As(err, &apiErr))
		require.Contains(t, err.Error(), "HTTP 502")
	})
	t.Run("ErrHealthDownKeepsReport", func(t *testing.T) {
		t.Parallel()
		ts, _ := setup(t, http.StatusServiceUnavailable, `{"code":40001,"message":"down","data":{"status":"DOWN","services":{"redis":{"status":"DOWN"}}}}`)
		h, err := New(ts.URL, "a", "s").Health(ctx)
		var apiErr *APIError
		require.ErrorAs(t, err, &apiErr)
		require.Equal(t, "DOWN", h.Services["redis"].Status)
	})
	t.Run("ErrBadBaseURL", func(t *testing.T) {
		t.Parallel()
		_, err := New("not a url", "a", "s").GetMessage(ctx, "x")
		require.ErrorContains(t, err, "invalid base URL")
	})
}
