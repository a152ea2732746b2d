package api

import (
	"context"
	"crypto/rand"
	"github.com/heraldhq/herald/store/storetest"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/store"
)

// testPostgresURL creates a fresh PostgreSQL database for one test and
// returns its URL; it is dropped when the test ends. An unreachable server
// fails the test under CI and skips it elsewhere.
func testPostgresURL(t *testing.T) string {
	t.Helper()
	return storetest.PostgresURL(t, "herald_api_test")
}

// openTestStore opens and migrates a store at rawURL.
func openTestStore(t *testing.T, rawURL string) *store.DB {
	t.Helper()
	key := make([]byte, 32)
	_, err := rand.Read(key)
	require.NoError(t, err)
	c, err := store.NewCipher(key)
	require.NoError(t, err)
	db, err := store.Open(context.Background(), store.Options{URL: rawURL, Cipher: c})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	_, err = db.MigrateUp(context.Background())
	require.NoError(t, err)
	return db
}

// tcpProxy forwards connections to a target until stop, which closes the
// listener and every forwarded connection: to a client it looks like the
// server behind it going away.
type tcpProxy struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func newTCPProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &tcpProxy{ln: ln}
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				_ = in.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, in, out)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(out, in); _ = out.Close() }()
			go func() { _, _ = io.Copy(in, out); _ = in.Close() }()
		}
	}()
	t.Cleanup(p.stop)
	return p
}

func (p *tcpProxy) addr() string { return p.ln.Addr().String() }

func (p *tcpProxy) stop() {
	_ = p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
}

// viaProxy rewrites a database URL to go through proxy.
func viaProxy(t *testing.T, rawURL string, proxy *tcpProxy) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	require.NoError(t, err)
	u.Host = proxy.addr()
	return u.String()
}

// hostOf returns the host:port of a database URL.
func hostOf(t *testing.T, rawURL string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	require.NoError(t, err)
	return u.Host
}
