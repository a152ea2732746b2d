package fakeserver

import (
	"io"
	"net/http"
	"sync"
)

// Ending is what becomes of an accepted request's answer.
type Ending int

// Endings, in the order Faults hands them out: a pending Hang goes before
// a pending Drop.
const (
	// Answer answers the request.
	Answer Ending = iota
	// HangUp holds the request unanswered until the client gives up or
	// the fake closes.
	HangUp
	// DropIt closes the connection without an answer.
	DropIt
)

// Answered reports whether the client hears back, that is whether the
// sender can know its message was taken.
func (e Ending) Answered() bool { return e == Answer }

// Faults holds the faults injected into a fake. C is the type of the
// vendor's failure codes. The zero value injects nothing; all methods are
// safe for concurrent use and may be called with the fake's own lock held.
type Faults[C any] struct {
	mu        sync.Mutex
	failQueue []C
	hang      int
	drop      int
	down      bool
}

// FailNext queues code for the next n requests; calls queue up in order.
func (f *Faults[C]) FailNext(n int, code C) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for range n {
		f.failQueue = append(f.failQueue, code)
	}
}

// NextFailure takes the next queued failure code; ok is false when none
// is queued.
func (f *Faults[C]) NextFailure() (code C, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.failQueue) == 0 {
		return code, false
	}
	code = f.failQueue[0]
	f.failQueue = f.failQueue[1:]
	return code, true
}

// Hang makes the next n accepted requests go unanswered (HangUp).
func (f *Faults[C]) Hang(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hang += n
}

// Drop makes the next n accepted requests be cut off (DropIt).
func (f *Faults[C]) Drop(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.drop += n
}

// Down turns the down switch on until Up.
func (f *Faults[C]) Down() { f.setDown(true) }

// Up turns the down switch off.
func (f *Faults[C]) Up() { f.setDown(false) }

func (f *Faults[C]) setDown(down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = down
}

// IsDown reports whether the down switch is on.
func (f *Faults[C]) IsDown() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.down
}

// TakeEnding decides the ending of an accepted request, using up one
// pending Hang or, failing that, one pending Drop.
func (f *Faults[C]) TakeEnding() Ending {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case f.hang > 0:
		f.hang--
		return HangUp
	case f.drop > 0:
		f.drop--
		return DropIt
	}
	return Answer
}

// Hold blocks until the client gives up on r or stop is closed.
func Hold(r *http.Request, stop <-chan struct{}) {
	select {
	case <-r.Context().Done():
	case <-stop:
	}
}

// Withhold carries out an ending in a handler. For Answer it returns at
// once and the handler answers. For HangUp it holds the request (Hold) and
// for DropIt it does not; then it closes the connection without an answer
// by panicking with http.ErrAbortHandler, which net/http recovers from
// silently, so it does not return.
func Withhold(r *http.Request, stop <-chan struct{}, e Ending) {
	switch e {
	case HangUp:
		Hold(r, stop)
		panic(http.ErrAbortHandler)
	case DropIt:
		panic(http.ErrAbortHandler)
	}
}

// WriteDownPage answers status with a bare HTML page headed heading, as a
// broken gateway in front of a service does.
func WriteDownPage(w http.ResponseWriter, status int, heading string) {
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, "<html><body><h1>"+heading+"</h1></body></html>\n")
}
