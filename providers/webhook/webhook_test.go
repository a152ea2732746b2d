package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/providers"
)

// received is one request as the endpoint saw it.
type received struct {
	header http.Header
	body   []byte
}

// endpoint is an httptest receiver that records requests and answers with
// the handler given.
type endpoint struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []received
}

func newEndpoint(t *testing.T, answer http.HandlerFunc) *endpoint {
	t.Helper()
	e := &endpoint{}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		e.mu.Lock()
		e.got = append(e.got, received{header: r.Header.Clone(), body: body})
		e.mu.Unlock()
		answer(w, r)
	}))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *endpoint) requests() []received {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]received(nil), e.got...)
}

func testConfig(t *testing.T, url string) (Config, *Signer) {
	t.Helper()
	secret, err := GenerateSecret()
	require.NoError(t, err)
	signer, err := NewSigner(secret)
	require.NoError(t, err)
	return Config{URL: url, Secret: secret, TimeoutMS: 2000}, signer
}

func testMessage() providers.Message {
	return providers.Message{
		TaskID:      "6f1c2a4e-8c1b-4f7e-9a55-0d3c2b1a9e77",
		Attempt:     1,
		Receiver:    "ops-team",
		Subject:     "Disk alert",
		Content:     "disk /var is 91% full",
		ContentType: "text/plain",
		Params:      []providers.Param{{Name: "host", Value: "db-1"}, {Name: "pct", Value: "91"}},
	}
}

func requireClass(t *testing.T, err error, class providers.Class, code string) *providers.Error {
	t.Helper()
	require.Error(t, err)
	var pe *providers.Error
	require.True(t, errors.As(err, &pe), "want *providers.Error, got %T: %v", err, err)
	require.Equal(t, class, pe.Class, pe.Error())
	require.Equal(t, code, pe.Code, pe.Error())
	return pe
}

func TestSendOK(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ep := newEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"evt_123","ok":true}`)
	})
	cfg, signer := testConfig(t, ep.srv.URL+"/hooks/herald")
	cfg.Headers = map[string]string{"Authorization": "Bearer abc", "X-Tenant": "acme"}
	s, err := NewSender(cfg, WithClock(func() time.Time { return now }))
	require.NoError(t, err)

	res, err := s.Send(context.Background(), testMessage())
	require.NoError(t, err)
	require.Equal(t, providers.Result{Delivered: true, ProviderMessageID: "evt_123"}, res)

	reqs := ep.requests()
	require.Len(t, reqs, 1)
	got := reqs[0]
	require.NoError(t, signer.Verify(got.header, got.body, now.Add(time.Second), time.Minute), "the endpoint can verify the signature")
	require.Equal(t, testMessage().IdempotencyKey(), got.header.Get("webhook-id"))
	require.Equal(t, fmt.Sprint(now.Unix()), got.header.Get("webhook-timestamp"))
	require.Equal(t, "application/json", got.header.Get("Content-Type"))
	require.Equal(t, "Bearer abc", got.header.Get("Authorization"))
	require.Equal(t, "acme", got.header.Get("X-Tenant"))
	require.Equal(t, userAgent, got.header.Get("User-Agent"))

	var p Payload
	require.NoError(t, json.Unmarshal(got.body, &p))
	require.Equal(t, Payload{
		Type:        "message.send",
		TaskID:      "6f1c2a4e-8c1b-4f7e-9a55-0d3c2b1a9e77",
		Attempt:     1,
		Receiver:    "ops-team",
		Subject:     "Disk alert",
		Content:     "disk /var is 91% full",
		ContentType: "text/plain",
		Params:      map[string]string{"host": "db-1", "pct": "91"},
		Timestamp:   "2026-03-01T12:00:00Z",
	}, p)
}

func TestSendResponseID(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		status int
		body   string
		want   string
	}{
		"StringID":   {status: 200, body: `{"id":"abc"}`, want: "abc"},
		"NumericID":  {status: 201, body: `{"id":42}`, want: "42"},
		"NoID":       {status: 200, body: `{"received":true}`},
		"NotJSON":    {status: 200, body: `thanks`},
		"NoContent":  {status: 204},
		"Accepted":   {status: 202, body: `{"id":"q-9"}`, want: "q-9"},
		"ObjectID":   {status: 200, body: `{"id":{"x":1}}`},
		"EmptyArray": {status: 200, body: `[]`},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ep := newEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			})
			cfg, _ := testConfig(t, ep.srv.URL)
			s, err := NewSender(cfg)
			require.NoError(t, err)
			res, err := s.Send(context.Background(), testMessage())
			require.NoError(t, err)
			require.Equal(t, providers.Result{Delivered: true, ProviderMessageID: tc.want}, res)
		})
	}
}

func TestSendStatusClasses(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for name, tc := range map[string]struct {
		status     int
		retryAfter string
		class      providers.Class
		retryIn    time.Duration
	}{
		"TooManyRequests":         {status: 429, class: providers.ClassThrottled},
		"TooManyRequestsSeconds":  {status: 429, retryAfter: "30", class: providers.ClassThrottled, retryIn: 30 * time.Second},
		"TooManyRequestsHTTPDate": {status: 429, retryAfter: now.Add(2 * time.Minute).Format(http.TimeFormat), class: providers.ClassThrottled, retryIn: 2 * time.Minute},
		"TooManyRequestsPastDate": {status: 429, retryAfter: now.Add(-time.Minute).Format(http.TimeFormat), class: providers.ClassThrottled},
		"TooManyRequestsGarbage":  {status: 429, retryAfter: "soon", class: providers.ClassThrottled},
		"TooManyRequestsHuge":     {status: 429, retryAfter: "999999999999", class: providers.ClassThrottled, retryIn: maxRetryAfter},
		"RequestTimeout":          {status: 408, class: providers.ClassTransient},
		"TooEarly":                {status: 425, class: providers.ClassTransient},
		"InternalServerError":     {status: 500, class: providers.ClassTransient},
		"BadGateway":              {status: 502, retryAfter: "5", class: providers.ClassTransient, retryIn: 5 * time.Second},
		"ServiceUnavailable":      {status: 503, retryAfter: "120", class: providers.ClassTransient, retryIn: 2 * time.Minute},
		"GatewayTimeout":          {status: 504, retryAfter: now.Add(10 * time.Second).Format(http.TimeFormat), class: providers.ClassTransient, retryIn: 10 * time.Second},
		"Gone":                    {status: 410, class: providers.ClassAccount},
		"Unauthorized":            {status: 401, class: providers.ClassAccount},
		"Forbidden":               {status: 403, class: providers.ClassAccount},
		"BadRequest":              {status: 400, class: providers.ClassPermanent},
		"NotFound":                {status: 404, class: providers.ClassPermanent},
		"UnprocessableEntity":     {status: 422, class: providers.ClassPermanent},
		"NotModified":             {status: 304, class: providers.ClassConfig},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ep := newEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
				if tc.retryAfter != "" {
					w.Header().Set("Retry-After", tc.retryAfter)
				}
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, `{"error":"no thanks","receiver":"ops-team"}`)
			})
			cfg, _ := testConfig(t, ep.srv.URL)
			s, err := NewSender(cfg, WithClock(func() time.Time { return now }))
			require.NoError(t, err)
			_, err = s.Send(context.Background(), testMessage())
			pe := requireClass(t, err, tc.class, fmt.Sprintf("HTTP_%d", tc.status))
			require.Equal(t, tc.retryIn, pe.RetryAfter)
			require.NotContains(t, pe.Error(), "ops-team", "the response body stays out of the message")
		})
	}
}

func TestSendRedirectNotFollowed(t *testing.T) {
	t.Parallel()
	var followed atomic.Int32
	target := newEndpoint(t, func(w http.ResponseWriter, r *http.Request) { followed.Add(1) })
	for name, status := range map[string]int{"Found": 302, "TemporaryRedirect": 307, "PermanentRedirect": 308} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ep := newEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, target.srv.URL+"/elsewhere", status)
			})
			cfg, _ := testConfig(t, ep.srv.URL)
			// Even a client that would follow redirects must not.
			s, err := NewSender(cfg, WithHTTPClient(&http.Client{}))
			require.NoError(t, err)
			_, err = s.Send(context.Background(), testMessage())
			requireClass(t, err, providers.ClassConfig, fmt.Sprintf("HTTP_%d", status))
			require.Len(t, ep.requests(), 1)
		})
	}
	t.Cleanup(func() { require.Zero(t, followed.Load(), "the redirect target was called") })
}

func TestSendTimeoutAfterWrite(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	ep := newEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
		// The endpoint got the whole request and is still working on it.
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) })
	cfg, _ := testConfig(t, ep.srv.URL)
	cfg.TimeoutMS = 100
	s, err := NewSender(cfg)
	require.NoError(t, err)

	start := time.Now()
	_, err = s.Send(context.Background(), testMessage())
	requireClass(t, err, providers.ClassUnknownOutcome, CodeTimeout)
	require.Less(t, time.Since(start), 5*time.Second)
	require.Len(t, ep.requests(), 1, "the endpoint saw the request")
}

func TestSendConnectionLostAfterWrite(t *testing.T) {
	t.Parallel()
	ep := newEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			_ = conn.Close()
		}
	})
	cfg, _ := testConfig(t, ep.srv.URL)
	s, err := NewSender(cfg)
	require.NoError(t, err)
	_, err = s.Send(context.Background(), testMessage())
	requireClass(t, err, providers.ClassUnknownOutcome, CodeConnectionLost)
}

func TestSendNoConnection(t *testing.T) {
	t.Parallel()

	dialer := func(dial func(ctx context.Context) error) *http.Client {
		return &http.Client{Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) { return nil, dial(ctx) },
		}}
	}

	t.Run("DNS", func(t *testing.T) {
		t.Parallel()
		client := dialer(func(context.Context) error {
			return &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "hooks.example", IsNotFound: true}}
		})
		cfg, _ := testConfig(t, "https://hooks.example/herald")
		s, err := NewSender(cfg, WithHTTPClient(client))
		require.NoError(t, err)
		_, err = s.Send(context.Background(), testMessage())
		requireClass(t, err, providers.ClassTransient, CodeDNS)
	})

	t.Run("DialTimeout", func(t *testing.T) {
		t.Parallel()
		client := dialer(func(ctx context.Context) error {
			<-ctx.Done()
			return ctx.Err()
		})
		cfg, _ := testConfig(t, "https://hooks.example/herald")
		cfg.TimeoutMS = 50
		s, err := NewSender(cfg, WithHTTPClient(client))
		require.NoError(t, err)
		_, err = s.Send(context.Background(), testMessage())
		requireClass(t, err, providers.ClassTransient, CodeTimeout)
	})

	t.Run("CancelledBeforeWrite", func(t *testing.T) {
		t.Parallel()
		client := dialer(func(ctx context.Context) error {
			<-ctx.Done()
			return ctx.Err()
		})
		cfg, _ := testConfig(t, "https://hooks.example/herald")
		s, err := NewSender(cfg, WithHTTPClient(client))
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			time.Sleep(20 * time.Millisecond)
			cancel()
		}()
		_, err = s.Send(ctx, testMessage())
		requireClass(t, err, providers.ClassTransient, CodeCancelled)
	})
}

func TestSendIdempotencyID(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	ep := newEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	cfg, signer := testConfig(t, ep.srv.URL)
	s, err := NewSender(cfg)
	require.NoError(t, err)

	msg := testMessage()
	_, err = s.Send(context.Background(), msg)
	requireClass(t, err, providers.ClassTransient, "HTTP_503")
	_, err = s.Send(context.Background(), msg) // the same attempt, tried again
	require.NoError(t, err)
	msg.Attempt = 2
	_, err = s.Send(context.Background(), msg)
	require.NoError(t, err)

	reqs := ep.requests()
	require.Len(t, reqs, 3)
	for _, r := range reqs {
		require.NoError(t, signer.Verify(r.header, r.body, time.Now(), time.Minute))
	}
	require.Equal(t, reqs[0].header.Get("webhook-id"), reqs[1].header.Get("webhook-id"), "one attempt keeps its id across tries")
	require.Equal(t, msg.TaskID+"-1", reqs[0].header.Get("webhook-id"))
	require.Equal(t, msg.TaskID+"-2", reqs[2].header.Get("webhook-id"))
}

func TestParseConfig(t *testing.T) {
	t.Parallel()
	secret := must(t, GenerateSecret)

	t.Run("Defaults", func(t *testing.T) {
		t.Parallel()
		cfg, err := ParseConfig(json.RawMessage(`{"url":"https://example.com/h","secret":"` + secret + `"}`))
		require.NoError(t, err)
		require.Equal(t, Config{URL: "https://example.com/h", Secret: secret, TimeoutMS: DefaultTimeoutMS}, cfg)
		require.Equal(t, 10*time.Second, cfg.Timeout())
	})

	t.Run("Full", func(t *testing.T) {
		t.Parallel()
		cfg, err := ParseConfig(json.RawMessage(`{"url":"http://10.0.0.5:8080/h","secret":"` + secret + `","timeout_ms":60000,"headers":{"Authorization":"Bearer x"}}`))
		require.NoError(t, err)
		require.Equal(t, 60000, cfg.TimeoutMS)
		require.Equal(t, map[string]string{"Authorization": "Bearer x"}, cfg.Headers)
	})

	for name, tc := range map[string]struct {
		raw  string
		want []string
	}{
		"ErrEmpty":       {raw: ``, want: []string{"url is required", "secret is required"}},
		"ErrNotAnObject": {raw: `[1,2]`, want: []string{"config must be a JSON object"}},
		"ErrEveryProblem": {
			raw: `{"url":"ftp://example.com","secret":"whsec_c2hvcnQ=","timeout_ms":60001,"retries":3,` +
				`"headers":{"webhook-id":"x","Content-Type":"text/plain","X-Bad":"a\nb","bad name":"v","Webhook-Signature":"y"}}`,
			want: []string{
				`unknown field "retries"`,
				"url must use http or https",
				"webhook secret must encode 24 to 64 bytes, got 5",
				"timeout_ms must be between 1 and 60000",
				`headers: "Content-Type" would override a header Herald sets`,
				`headers: "Webhook-Signature" would override a header Herald sets`,
				`headers: the value of "X-Bad" contains a line break or NUL`,
				`headers: "bad name" is not a valid header name`,
				`headers: "webhook-id" would override a header Herald sets`,
			},
		},
		"ErrWrongTypes": {
			raw:  `{"url":42,"secret":true,"timeout_ms":"10s","headers":["a"]}`,
			want: []string{"url must be a string", "secret must be a string", "timeout_ms must be an integer", "headers must be an object of string values", "url is required", "secret is required"},
		},
		"ErrNoHost":      {raw: `{"url":"https:///path","secret":"` + secret + `"}`, want: []string{"url must include a host"}},
		"ErrZeroTimeout": {raw: `{"url":"https://a.example","secret":"` + secret + `","timeout_ms":0}`, want: []string{"timeout_ms must be between 1 and 60000"}},
		"ErrBadURL":      {raw: `{"url":"http://a b.example/%zz","secret":"` + secret + `"}`, want: []string{"url is not a valid URL"}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseConfig(json.RawMessage(tc.raw))
			require.Error(t, err)
			for _, w := range tc.want {
				require.ErrorContains(t, err, w)
			}
			require.NotContains(t, err.Error(), "c2hvcnQ", "errors never echo the secret")
			require.NotContains(t, err.Error(), "a\nb", "errors never echo header values")
		})
	}
}

func TestProvider(t *testing.T) {
	t.Parallel()
	p := New()
	var _ providers.Provider = p
	require.Equal(t, "webhook", p.Kind())
	require.Nil(t, p.ReceiptHandler())
	require.Error(t, p.ValidateConfig(json.RawMessage(`{}`)))

	_, err := p.NewSender(providers.Account{ID: 9, Kind: Kind, Config: json.RawMessage(`{"url":"https://a.example"}`)})
	require.ErrorContains(t, err, "webhook account 9")
	require.ErrorContains(t, err, "secret is required")

	ep := newEndpoint(t, func(w http.ResponseWriter, r *http.Request) {})
	cfg, signer := testConfig(t, ep.srv.URL)
	raw, err := json.Marshal(cfg)
	require.NoError(t, err)
	require.NoError(t, p.ValidateConfig(raw))
	s, err := p.NewSender(providers.Account{ID: 9, Kind: Kind, Config: raw})
	require.NoError(t, err)
	res, err := s.Send(context.Background(), testMessage())
	require.NoError(t, err)
	require.True(t, res.Delivered)
	got := ep.requests()[0]
	require.NoError(t, signer.Verify(got.header, got.body, time.Now(), time.Minute))
	require.True(t, strings.HasPrefix(got.header.Get("webhook-signature"), "v1,"))
}

func TestConfigStringHidesSecrets(t *testing.T) {
	t.Parallel()
	secret := must(t, GenerateSecret)
	cfg := Config{URL: "https://bob:pw-123@hooks.example/h?token=tok-456", Secret: secret, TimeoutMS: 100, Headers: map[string]string{"Authorization": "Bearer hdr-789"}}
	for _, out := range []string{fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), fmt.Sprint(&cfg)} {
		for _, secretPart := range []string{secret[len(SecretPrefix):], "pw-123", "tok-456", "hdr-789"} {
			require.NotContains(t, out, secretPart)
		}
		require.Contains(t, out, "hooks.example/h")
		require.Contains(t, out, "Authorization")
	}
}
