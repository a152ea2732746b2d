package httpsend_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/providers/httpsend"
)

// secret stands for the token vendors put in their URLs; no error may
// quote it.
const secret = "tok-SECRET"

// target is one request to make: where to, with which client and context.
type target struct {
	client *http.Client
	url    string
	ctx    context.Context
}

func post(t *testing.T, tg target) (*http.Response, bool, error) {
	t.Helper()
	ctx := tg.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tg.url+"/send?access_token="+secret, nil)
	require.NoError(t, err)
	client := tg.client
	if client == nil {
		client = &http.Client{}
	}
	resp, wrote, err := httpsend.Do(client, req)
	if resp != nil {
		t.Cleanup(func() { _ = resp.Body.Close() })
	}
	return resp, wrote, err
}

// server starts an HTTP server with h; a handler that blocks is released
// when the test ends.
func server(t *testing.T, h func(w http.ResponseWriter, r *http.Request, release <-chan struct{})) string {
	t.Helper()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h(w, r, release) }))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	return srv.URL
}

func hang(_ http.ResponseWriter, r *http.Request, release <-chan struct{}) {
	select {
	case <-release:
	case <-r.Context().Done():
	}
}

// dialer is a client whose connections fail as dial says, for failures no
// local server can stage (a slow dial, a failed name lookup).
func dialer(dial func(ctx context.Context) error) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) { return nil, dial(ctx) },
	}}
}

func withTimeout(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestDoAndClassify(t *testing.T) {
	t.Parallel()

	tests := map[string]struct {
		setup func(t *testing.T) target
		wrote bool
		class providers.Class
		code  string
	}{
		"RefusedPort": {
			setup: func(t *testing.T) target {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				require.NoError(t, err)
				addr := ln.Addr().String()
				require.NoError(t, ln.Close())
				return target{url: "http://" + addr}
			},
			class: providers.ClassTransient, code: httpsend.CodeConnect,
		},
		"HangPastDeadlineAfterWrite": {
			setup: func(t *testing.T) target {
				return target{url: server(t, hang), ctx: withTimeout(t, 250*time.Millisecond)}
			},
			wrote: true, class: providers.ClassUnknownOutcome, code: httpsend.CodeTimeout,
		},
		"HangPastClientTimeoutAfterWrite": {
			setup: func(t *testing.T) target {
				return target{url: server(t, hang), client: &http.Client{Timeout: 250 * time.Millisecond}}
			},
			wrote: true, class: providers.ClassUnknownOutcome, code: httpsend.CodeTimeout,
		},
		"TLSUnknownCA": {
			setup: func(t *testing.T) target {
				srv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
				t.Cleanup(srv.Close)
				// The server's CA is not in this client's pool.
				return target{url: srv.URL}
			},
			class: providers.ClassConfig, code: httpsend.CodeTLS,
		},
		"ConnectionClosedAfterWrite": {
			setup: func(t *testing.T) target {
				return target{url: server(t, func(w http.ResponseWriter, _ *http.Request, _ <-chan struct{}) {
					if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
						_ = conn.Close()
					}
				})}
			},
			wrote: true, class: providers.ClassUnknownOutcome, code: httpsend.CodeConnectionLost,
		},
		"CancelledBeforeSend": {
			setup: func(t *testing.T) target {
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				return target{url: server(t, hang), ctx: ctx}
			},
			class: providers.ClassTransient, code: httpsend.CodeCancelled,
		},
		"CancelledAfterWrite": {
			setup: func(t *testing.T) target {
				ctx, cancel := context.WithCancel(context.Background())
				t.Cleanup(cancel)
				return target{ctx: ctx, url: server(t, func(w http.ResponseWriter, r *http.Request, release <-chan struct{}) {
					cancel()
					hang(w, r, release)
				})}
			},
			wrote: true, class: providers.ClassUnknownOutcome, code: httpsend.CodeConnectionLost,
		},
		"DialTimeout": {
			setup: func(t *testing.T) target {
				client := dialer(func(ctx context.Context) error {
					<-ctx.Done()
					return ctx.Err()
				})
				return target{client: client, url: "http://vendor.example", ctx: withTimeout(t, 50*time.Millisecond)}
			},
			class: providers.ClassTransient, code: httpsend.CodeTimeout,
		},
		"DNS": {
			setup: func(t *testing.T) target {
				client := dialer(func(context.Context) error {
					return &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "vendor.example", IsNotFound: true}}
				})
				return target{client: client, url: "http://vendor.example"}
			},
			class: providers.ClassTransient, code: httpsend.CodeDNS,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			resp, wrote, err := post(t, tc.setup(t))
			require.Error(t, err)
			require.Nil(t, resp)
			require.Equal(t, tc.wrote, wrote, "wrote")

			pe := httpsend.Classify(err, wrote, "dingtalk")
			require.Equal(t, tc.class, pe.Class, pe.Error())
			require.Equal(t, tc.code, pe.Code, pe.Error())
			require.Contains(t, pe.Message, "dingtalk", "the message names the vendor")
			require.NotContains(t, pe.Error(), secret)
			require.NotNil(t, pe.Err)
			require.NotContains(t, pe.Err.Error(), secret, "the URL holds the token")
			var ue *url.Error
			require.False(t, errors.As(pe, &ue), "the *url.Error is dropped")
		})
	}
}

func TestDoAnswered(t *testing.T) {
	t.Parallel()
	addr := server(t, func(w http.ResponseWriter, _ *http.Request, _ <-chan struct{}) {
		w.WriteHeader(http.StatusTeapot)
	})
	resp, wrote, err := post(t, target{url: addr})
	require.NoError(t, err)
	require.True(t, wrote)
	require.Equal(t, http.StatusTeapot, resp.StatusCode)
}

func TestTraceWrite(t *testing.T) {
	t.Parallel()
	addr := server(t, func(http.ResponseWriter, *http.Request, <-chan struct{}) {})
	var calls atomic.Int32
	ctx := httpsend.TraceWrite(context.Background(), func() { calls.Add(1) })
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, addr, nil)
	require.NoError(t, err)
	resp, err := http.DefaultTransport.RoundTrip(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, int32(1), calls.Load())
}

func TestStripURL(t *testing.T) {
	t.Parallel()
	cause := errors.New("connection reset")

	t.Run("Wrapped", func(t *testing.T) {
		t.Parallel()
		err := fmt.Errorf("post: %w", &url.Error{Op: "Post", URL: "https://vendor.example/?access_token=" + secret, Err: cause})
		require.Same(t, cause, httpsend.StripURL(err))
	})
	t.Run("NotWrapped", func(t *testing.T) {
		t.Parallel()
		require.Same(t, cause, httpsend.StripURL(cause))
	})
	t.Run("Nil", func(t *testing.T) {
		t.Parallel()
		require.NoError(t, httpsend.StripURL(nil))
	})
}
