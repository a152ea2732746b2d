package fakeserver

import (
	"context"
	"sync"
	"time"
)

// Background runs a fake's delayed work (automatic receipts, their pushes)
// and stops it when the fake closes. All methods are safe for concurrent
// use.
type Background struct {
	ctx       context.Context
	cancel    context.CancelFunc
	closeOnce sync.Once
	wg        sync.WaitGroup

	mu     sync.Mutex
	closed bool
}

// NewBackground returns a Background that runs until Close.
func NewBackground() *Background {
	ctx, cancel := context.WithCancel(context.Background())
	return &Background{ctx: ctx, cancel: cancel}
}

// Context is canceled by Close; held requests and pushes end with it.
func (b *Background) Context() context.Context { return b.ctx }

// Done is closed by Close.
func (b *Background) Done() <-chan struct{} { return b.ctx.Done() }

// After runs fn in the background after delay, unless Close comes first.
// After Close it does nothing.
func (b *Background) After(delay time.Duration, fn func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		if delay > 0 {
			t := time.NewTimer(delay)
			defer t.Stop()
			select {
			case <-t.C:
			case <-b.ctx.Done():
				return
			}
		}
		fn()
	}()
}

// Close cancels Context, calls stop (which shuts the fake's listener) and
// waits for work started by After to return. Only the first call does
// anything.
func (b *Background) Close(stop func()) {
	b.closeOnce.Do(func() {
		b.mu.Lock()
		b.closed = true
		b.mu.Unlock()
		b.cancel()
		stop()
		b.wg.Wait()
	})
}
