package providertest

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// answer is how the stand-in vendor answers a send it has read in full.
type answer int

const (
	// answerNever holds the request until the client gives up.
	answerNever answer = iota
	// answerGarbage is a 2xx whose body is no format at all (an SMTP reply
	// line without a code).
	answerGarbage
	// answerHTMLError is a proxy's error page: an HTTP 502 in HTML, or an
	// HTML page where an SMTP greeting should be.
	answerHTMLError
	// answerTruncated is a 2xx whose JSON body stops half-way, shaped like
	// a success (an SMTP reply cut after two digits).
	answerTruncated
)

const (
	garbageBody = "\x00\x1f\x8b\x08 not a vendor answer \xff\xfe"
	htmlPage    = "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>"
	// truncatedJSON starts like the success answers of several vendors at
	// once, so a parser that reads leniently would take it for one.
	truncatedJSON = `{"errcode":0,"errmsg":"ok","code":0,"Code":"OK","Response":{"SendStatusSet":[{"Code":"Ok","SerialNo":"`
)

// stub is the stand-in vendor: an HTTP server or an SMTP server on
// loopback that reads a send in full, counts it and answers as told.
type stub struct {
	addr *net.TCPAddr
	url  string

	mu    sync.Mutex
	count int
}

// vendor is where an account should send, with a send timeout.
func (v *stub) vendor(timeout time.Duration) Vendor {
	return Vendor{URL: v.url, Addr: v.addr.String(), Host: v.addr.IP.String(), Port: v.addr.Port, Timeout: timeout}
}

// sends is how many sends the vendor read in full.
func (v *stub) sends() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.count
}

func (v *stub) took() {
	v.mu.Lock()
	v.count++
	v.mu.Unlock()
}

func start(t *testing.T, s Suite, ans answer) *stub {
	t.Helper()
	switch s.Transport {
	case HTTP:
		return startHTTP(t, s, ans)
	case SMTP:
		return startSMTP(t, ans)
	default:
		t.Fatalf("providertest: no stand-in vendor for transport %d", s.Transport)
		return nil
	}
}

func startHTTP(t *testing.T, s Suite, ans answer) *stub {
	t.Helper()
	v := &stub{}
	release := make(chan struct{})
	var send http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		v.took()
		switch ans {
		case answerNever:
			select {
			case <-r.Context().Done():
			case <-release:
			}
		case answerGarbage:
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, garbageBody)
		case answerHTMLError:
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusBadGateway)
			_, _ = io.WriteString(w, htmlPage)
		case answerTruncated:
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, truncatedJSON)
		}
	})
	if s.Route != nil {
		send = s.Route(send)
	}
	srv := httptest.NewServer(send)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	v.addr = srv.Listener.Addr().(*net.TCPAddr)
	v.url = srv.URL
	return v
}

// startSMTP serves just enough SMTP for a client to hand over one message
// without TLS or authentication.
func startSMTP(t *testing.T, ans answer) *stub {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	v := &stub{addr: ln.Addr().(*net.TCPAddr)}

	var mu sync.Mutex
	var conns []net.Conn
	var wg sync.WaitGroup
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { _ = c.Close() }()
				v.serveSMTP(c, ans)
			}()
		}
	}()
	return v
}

func (v *stub) serveSMTP(c net.Conn, ans answer) {
	w := bufio.NewWriter(c)
	reply := func(lines ...string) bool {
		for _, l := range lines {
			_, _ = w.WriteString(l + "\r\n")
		}
		return w.Flush() == nil
	}
	if ans == answerHTMLError {
		// A web server where the mail server should be: nothing is sent.
		reply(htmlPage)
		return
	}
	if !reply("220 127.0.0.1 ESMTP ready") {
		return
	}
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		verb := strings.ToUpper(strings.TrimSpace(line))
		if i := strings.IndexAny(verb, " :"); i >= 0 {
			verb = verb[:i]
		}
		switch verb {
		case "EHLO":
			reply("250-127.0.0.1 greets you", "250-8BITMIME", "250 SMTPUTF8")
		case "HELO", "MAIL", "RCPT", "RSET", "NOOP":
			reply("250 OK")
		case "QUIT":
			reply("221 bye")
			return
		case "DATA":
			reply("354 end with <CRLF>.<CRLF>")
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" || l == ".\n" {
					break
				}
			}
			v.took()
			switch ans {
			case answerNever:
				// Read until the client hangs up.
				_, _ = io.Copy(io.Discard, r)
				return
			case answerGarbage:
				reply(garbageBody)
			case answerTruncated:
				_, _ = w.WriteString("25")
				_ = w.Flush()
				return
			}
		default:
			reply("502 5.5.2 command not recognised")
		}
	}
}
