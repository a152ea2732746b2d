package main

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/config"
)

// TestHTTPServerDropsSlowBodies sends a request's headers and then
// trickles its body, a byte at a time: the server must close the
// connection once the read timeout has passed, however patient the client.
func TestHTTPServerDropsSlowBodies(t *testing.T) {
	t.Parallel()
	cfg := config.Defaults().HTTP
	cfg.ReadHeaderTimeout = 500 * time.Millisecond
	cfg.ReadTimeout = time.Second
	hs := newHTTPServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			http.Error(w, "body not read", http.StatusRequestTimeout)
			return
		}
		w.WriteHeader(http.StatusOK)
	}), cfg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })

	conn, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	start := time.Now()
	_, err = io.WriteString(conn, "POST /api/v1/messages HTTP/1.1\r\nHost: herald\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
	require.NoError(t, err)

	// Trickle the body until a write fails, or give up long after the
	// timeout; then the server must have closed the connection.
	closed := make(chan time.Duration, 1)
	go func() {
		buf := make([]byte, 1)
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		r := bufio.NewReader(conn)
		for {
			if _, err := r.Read(buf); err != nil {
				closed <- time.Since(start)
				return
			}
		}
	}()
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case took := <-closed:
			require.Less(t, took, 5*time.Second, "the connection stayed open past the read timeout")
			require.GreaterOrEqual(t, took, 900*time.Millisecond, "closed before the read timeout")
			return
		case <-deadline:
			t.Fatal("the server never closed a connection trickling its body")
		case <-tick.C:
			if _, err := conn.Write([]byte("{")); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) && !strings.Contains(err.Error(), "closed") {
				t.Logf("write: %v", err)
			}
		}
	}
}

// TestHTTPServerTimeoutsFromConfig checks that every timeout setting
// reaches the server and that no server-wide write timeout is set.
func TestHTTPServerTimeoutsFromConfig(t *testing.T) {
	t.Parallel()
	cfg := config.Defaults().HTTP
	hs := newHTTPServer(http.NotFoundHandler(), cfg)
	require.Equal(t, 10*time.Second, hs.ReadHeaderTimeout)
	require.Equal(t, time.Minute, hs.ReadTimeout)
	require.Equal(t, 2*time.Minute, hs.IdleTimeout)
	require.Zero(t, hs.WriteTimeout, "streaming routes set their own deadlines")
}
