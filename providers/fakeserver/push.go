package fakeserver

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// maxAnswer is how much of a receiver's answer a push reads.
const maxAnswer = 64 << 10

// Attempt is one POST of a push.
type Attempt struct {
	URL         string
	Body        []byte
	ContentType string
	StatusCode  int
	// Err is set when the attempt failed: no answer, a status other than
	// HTTP 200, or an answer Accept refused.
	Err error
}

// Pusher posts bodies to callback URLs the way a vendor pushes receipts,
// and logs every attempt. Set the fields before the first Push; all
// methods are safe for concurrent use.
type Pusher struct {
	// Name starts every error, the fake's package name.
	Name   string
	Client *http.Client
	// Attempts is how many times a push is tried, the first time
	// included.
	Attempts int
	// Interval is the pause between attempts.
	Interval time.Duration
	// Accept, when set, checks the answer of an HTTP 200 and returns why
	// it is not an acknowledgement; then an answer that cannot be read
	// fails the attempt too. When nil, any HTTP 200 is accepted.
	Accept func(answer []byte) error

	mu  sync.Mutex
	log []Attempt
}

// NewPusher returns a Pusher whose errors start with name, trying each
// push attempts times interval apart, each attempt within five seconds.
// accept may be nil (see Pusher.Accept).
func NewPusher(name string, attempts int, interval time.Duration, accept func(answer []byte) error) *Pusher {
	return &Pusher{
		Name:     name,
		Client:   &http.Client{Timeout: 5 * time.Second},
		Attempts: attempts,
		Interval: interval,
		Accept:   accept,
	}
}

// Push posts body to url until an attempt succeeds, Attempts have failed
// or ctx ends, and returns the last failure. Every attempt is logged.
func (p *Pusher) Push(ctx context.Context, url, contentType string, body []byte) error {
	var last error
	for attempt := range p.Attempts {
		if attempt > 0 {
			t := time.NewTimer(p.Interval)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return fmt.Errorf("%s: push abandoned: %w", p.Name, ctx.Err())
			}
		}
		status, err := p.once(ctx, url, contentType, body)
		p.mu.Lock()
		p.log = append(p.log, Attempt{URL: url, Body: body, ContentType: contentType, StatusCode: status, Err: err})
		p.mu.Unlock()
		if err == nil {
			return nil
		}
		last = err
	}
	return last
}

func (p *Pusher) once(ctx context.Context, url, contentType string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("%s: build push: %w", p.Name, err)
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := p.Client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s: push: %w", p.Name, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil && p.Accept != nil {
		return resp.StatusCode, fmt.Errorf("%s: read push answer: %w", p.Name, err)
	}
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, fmt.Errorf("%s: push answered HTTP %d", p.Name, resp.StatusCode)
	}
	if p.Accept != nil {
		if err := p.Accept(answer); err != nil {
			return resp.StatusCode, err
		}
	}
	return resp.StatusCode, nil
}

// Log returns every attempt so far, oldest first.
func (p *Pusher) Log() []Attempt {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Attempt(nil), p.log...)
}
