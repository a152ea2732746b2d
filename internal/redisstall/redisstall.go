// Package redisstall is a TCP proxy in front of a Redis server that holds
// back the reply to one chosen command for longer than the client waits,
// as a Redis server stalled by a slow script or a full network buffer
// does. The command has run by then; the client times out, and go-redis
// retries it on a new connection. Tests use it to check that what Herald
// runs in Redis is safe to run twice.
//
// Usage:
//
//	p, rdb := redisstall.Client(t, &redis.Options{Addr: redisAddr}, 200*time.Millisecond)
//	p.StallNext(time.Second, "EVAL", "EVALSHA") // the next script's reply comes a second late
package redisstall

import (
	"bytes"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Proxy forwards connections to a Redis server.
type Proxy struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	args    [][]byte // the armed arguments as RESP bulk strings; none when disarmed
	stall   time.Duration
	stalled int
}

// Start listens on a local port and forwards every connection to target
// until the test ends.
func Start(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("redisstall: listen: %v", err)
	}
	p := &Proxy{ln: ln, target: target}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		p.serve(&wg)
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		wg.Wait()
	})
	return p
}

// Client starts a proxy in front of the server of opts and returns it
// with a client like opts (database, credentials) that goes through it
// and gives up on a reply after readTimeout; both end with the test.
func Client(t testing.TB, opts *redis.Options, readTimeout time.Duration) (*Proxy, *redis.Client) {
	t.Helper()
	p := Start(t, opts.Addr)
	o := *opts
	o.Addr, o.ReadTimeout = p.Addr(), readTimeout
	rdb := redis.NewClient(&o)
	t.Cleanup(func() { _ = rdb.Close() })
	return p, rdb
}

// Addr is the proxy's address, for the client.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// StallNext holds back, by d, the next reply that is not an error reply to
// a command holding one of args, compared without case: a command name
// (EVAL, EVALSHA, SET), a script's SHA, a key. A NOSCRIPT answer, which
// go-redis follows with EVAL, passes through.
func (p *Proxy) StallNext(d time.Duration, args ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.args, p.stall = nil, d
	for _, a := range args {
		a = strings.ToUpper(a)
		p.args = append(p.args, []byte("$"+strconv.Itoa(len(a))+"\r\n"+a+"\r\n"))
	}
}

// Stalled is how many replies the proxy has held back.
func (p *Proxy) Stalled() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stalled
}

func (p *Proxy) serve(wg *sync.WaitGroup) {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = client.Close()
			continue
		}
		c := &conn{proxy: p, client: client, server: server}
		wg.Add(2)
		go func() { defer wg.Done(); c.requests() }()
		go func() { defer wg.Done(); c.replies() }()
	}
}

// conn is one client connection and its server connection. Redis answers
// a connection's commands in order, so the reply read after an armed
// command was written belongs to it (go-redis sends one command at a time
// on a connection outside pipelines, which tests here do not stall).
type conn struct {
	proxy          *Proxy
	client, server net.Conn

	mu      sync.Mutex
	pending time.Duration // stall for the next reply, once the command went out
}

func (c *conn) close() {
	_ = c.client.Close()
	_ = c.server.Close()
}

func (c *conn) requests() {
	defer c.close()
	buf := make([]byte, 64<<10)
	for {
		n, err := c.client.Read(buf)
		if n > 0 {
			c.arm(buf[:n])
			if _, werr := c.server.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// arm marks this connection's next reply as one to hold back when the
// bytes going out hold an armed argument.
func (c *conn) arm(out []byte) {
	p := c.proxy
	p.mu.Lock()
	defer p.mu.Unlock()
	upper := bytes.ToUpper(out)
	for _, arg := range p.args {
		if bytes.Contains(upper, arg) {
			c.mu.Lock()
			c.pending = p.stall
			c.mu.Unlock()
			return
		}
	}
}

func (c *conn) replies() {
	defer c.close()
	buf := make([]byte, 64<<10)
	for {
		n, err := c.server.Read(buf)
		if n > 0 {
			c.mu.Lock()
			d := c.pending
			c.pending = 0
			c.mu.Unlock()
			if d > 0 && buf[0] != '-' && c.proxy.take() {
				time.Sleep(d)
			}
			if _, werr := c.client.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// take disarms the proxy, reporting whether it was still armed: only one
// reply is held back per StallNext.
func (p *Proxy) take() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.args) == 0 {
		return false
	}
	p.args = nil
	p.stalled++
	return true
}
