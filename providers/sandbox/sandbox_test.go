package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// fakeClock stands still and sleeps no time, unless sleep says otherwise.
// It records every sleep.
type fakeClock struct {
	mu    sync.Mutex
	slept []time.Duration
	// sleep, if set, decides what a sleep does.
	sleep func(ctx context.Context, d time.Duration) error
}

func (c *fakeClock) Now() time.Time { return testNow }

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.slept = append(c.slept, d)
	sleep := c.sleep
	c.mu.Unlock()
	if sleep != nil {
		return sleep(ctx, d)
	}
	return ctx.Err()
}

func (c *fakeClock) sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.slept...)
}

// push is one receipt push as the callback endpoint saw it.
type push struct {
	header  http.Header
	query   string
	reports []Report
}

// callback is Herald's receipt endpoint, as far as the sandbox can tell.
type callback struct {
	srv  *httptest.Server
	hits atomic.Int32
	// fail answers 500 to the first fail hits.
	fail   int32
	pushes chan push
}

func newCallback(t *testing.T, fail int32) *callback {
	t.Helper()
	cb := &callback{fail: fail, pushes: make(chan push, 100)}
	cb.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := cb.hits.Add(1)
		if n <= cb.fail {
			receiptHandler{}.Acknowledge(w, false)
			return
		}
		body, _ := io.ReadAll(r.Body)
		var reports []Report
		if err := json.Unmarshal(body, &reports); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		cb.pushes <- push{header: r.Header.Clone(), query: r.URL.RawQuery, reports: reports}
		receiptHandler{}.Acknowledge(w, true)
	}))
	t.Cleanup(cb.srv.Close)
	return cb
}

func (cb *callback) url() string { return cb.srv.URL + "/v1/receipts/sandbox?token=tok-123" }

func (cb *callback) next(t *testing.T) push {
	t.Helper()
	select {
	case p := <-cb.pushes:
		return p
	case <-time.After(10 * time.Second):
		t.Fatal("no receipt pushed")
		return push{}
	}
}

type fixture struct {
	p     *Provider
	clock *fakeClock
	cb    *callback
}

// setup builds a provider on a fake clock with a callback endpoint that
// fails its first fail pushes. The provider is closed at cleanup.
func setup(t *testing.T, fail int32, opts ...Option) fixture {
	t.Helper()
	clock := &fakeClock{}
	p := New(append([]Option{WithClock(clock)}, opts...)...)
	t.Cleanup(func() { _ = p.Close() })
	return fixture{p: p, clock: clock, cb: newCallback(t, fail)}
}

func (f fixture) sender(t *testing.T, accountID int64, cfg string) *Sender {
	t.Helper()
	s, err := f.p.NewSender(providers.Account{ID: accountID, Kind: Kind, Config: json.RawMessage(cfg), CallbackURL: f.cb.url()})
	require.NoError(t, err)
	return s.(*Sender)
}

func message(receiver string, attempt int) providers.Message {
	return providers.Message{TaskID: "task-" + receiver, Attempt: attempt, Receiver: receiver, Content: "code 1234"}
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

func TestMagicReceivers(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		receiver   string
		attempt    int
		class      providers.Class // empty: accepted
		code       string
		retryAfter time.Duration
		recorded   bool                    // CheckStatus finds it
		status     providers.ReceiptStatus // what CheckStatus says
		pushed     string                  // receipt status pushed, "" for none
		ordinary   bool                    // not a magic receiver
	}{
		"InvalidReceiver":       {receiver: "+8613800004000", class: providers.ClassPermanent, code: CodeInvalidReceiver},
		"Transient":             {receiver: "+8613800004001", class: providers.ClassTransient, code: CodeTemporaryFailure},
		"Throttled":             {receiver: "+86 138-0000-4002", class: providers.ClassThrottled, code: CodeThrottled, retryAfter: time.Second},
		"AccountSuspended":      {receiver: "13800004003", class: providers.ClassAccount, code: CodeAccountSuspended},
		"Undelivered":           {receiver: "+8613800004004", recorded: true, status: providers.ReceiptFailed, pushed: StatusUndelivered},
		"NoReceipt":             {receiver: "+8613800004005", recorded: true, status: providers.ReceiptDelivered},
		"UnknownOutcome":        {receiver: "+8613800004006", class: providers.ClassUnknownOutcome, code: CodeTimeout, recorded: true, status: providers.ReceiptDelivered},
		"FailFirstAttempt":      {receiver: "+8613800004007", attempt: 1, class: providers.ClassTransient, code: CodeTemporaryFailure},
		"FailFirstAttemptLater": {receiver: "+8613800004007", attempt: 2, recorded: true, status: providers.ReceiptDelivered, pushed: StatusDelivered},
		"EmailDigits":           {receiver: "qa+4004@example.com", recorded: true, status: providers.ReceiptFailed, pushed: StatusUndelivered},
		"Ordinary":              {receiver: "+8613800001234", recorded: true, status: providers.ReceiptDelivered, pushed: StatusDelivered, ordinary: true},
		"LongerEnding":          {receiver: "+8613800014008", recorded: true, status: providers.ReceiptDelivered, pushed: StatusDelivered, ordinary: true},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := setup(t, 0)
			// Magic receivers get rates that would change every outcome, to
			// show the ending wins.
			cfg := `{"latency_ms":0,"receipt_delay_ms":0,"failure_rate":1,"failure_class":"permanent","no_receipt_rate":1}`
			if tc.ordinary {
				cfg = `{"latency_ms":0,"receipt_delay_ms":0}`
			}
			s := f.sender(t, 1, cfg)
			attempt := max(tc.attempt, 1)
			msg := message(tc.receiver, attempt)

			res, err := s.Send(context.Background(), msg)
			if tc.class != "" {
				pe := requireClass(t, err, tc.class, tc.code)
				require.Equal(t, tc.retryAfter, pe.RetryAfter)
				require.Empty(t, res.ProviderMessageID)
			} else {
				require.NoError(t, err)
				require.Regexp(t, `^sbx-[0-9a-f]{24}$`, res.ProviderMessageID)
				require.False(t, res.Delivered, "the sandbox sends receipts")
			}

			got, found, err := s.CheckStatus(context.Background(), providers.StatusQuery{TaskID: msg.TaskID, ProviderMessageID: res.ProviderMessageID})
			require.NoError(t, err)
			require.Equal(t, tc.recorded, found)
			if found {
				require.Equal(t, tc.status, got.Status)
				require.Equal(t, msg.TaskID, got.TaskID)
				require.Equal(t, testNow, got.At)
			}

			if tc.pushed != "" {
				p := f.cb.next(t)
				require.Len(t, p.reports, 1)
				require.Equal(t, tc.pushed, p.reports[0].Status)
				require.Equal(t, res.ProviderMessageID, p.reports[0].MessageID)
			}
			require.NoError(t, f.p.Close())
			want := int32(0)
			if tc.pushed != "" {
				want = 1
			}
			require.Equal(t, want, f.cb.hits.Load(), "receipt pushes")
		})
	}
}

func TestFailureRate(t *testing.T) {
	t.Parallel()

	outcomes := func(s *Sender, n int) string {
		var b strings.Builder
		for i := range n {
			_, err := s.Send(context.Background(), message(fmt.Sprintf("+861380000%04d", i%4000), 1))
			if err != nil {
				b.WriteByte('x')
			} else {
				b.WriteByte('.')
			}
		}
		return b.String()
	}
	const cfg = `{"latency_ms":0,"failure_rate":0.5,"seed":7}`

	t.Run("SeedReproducible", func(t *testing.T) {
		t.Parallel()
		a := outcomes(setup(t, 0).sender(t, 1, cfg), 200)
		b := outcomes(setup(t, 0).sender(t, 1, cfg), 200)
		require.Equal(t, a, b)
		fails := strings.Count(a, "x")
		require.Greater(t, fails, 60, a)
		require.Less(t, fails, 140, a)

		other := outcomes(setup(t, 0).sender(t, 1, `{"latency_ms":0,"failure_rate":0.5,"seed":8}`), 200)
		require.NotEqual(t, a, other)
	})

	t.Run("RebuiltSenderContinues", func(t *testing.T) {
		t.Parallel()
		whole := outcomes(setup(t, 0).sender(t, 1, cfg), 100)
		f := setup(t, 0)
		first := outcomes(f.sender(t, 1, cfg), 50)
		second := outcomes(f.sender(t, 1, cfg), 50)
		require.Equal(t, whole, first+second)
	})

	t.Run("ClassAndCode", func(t *testing.T) {
		t.Parallel()
		f := setup(t, 0)
		s := f.sender(t, 1, `{"latency_ms":0,"failure_rate":1,"failure_class":"account","failure_code":"BALANCE_LOW"}`)
		_, err := s.Send(context.Background(), message("+8613800001111", 1))
		requireClass(t, err, providers.ClassAccount, "BALANCE_LOW")
	})

	t.Run("DefaultClassAndCode", func(t *testing.T) {
		t.Parallel()
		s := setup(t, 0).sender(t, 1, `{"latency_ms":0,"failure_rate":1}`)
		_, err := s.Send(context.Background(), message("+8613800001111", 1))
		requireClass(t, err, providers.ClassTransient, CodeFailure)
	})

	t.Run("Throttled", func(t *testing.T) {
		t.Parallel()
		s := setup(t, 0).sender(t, 1, `{"latency_ms":0,"failure_rate":1,"failure_class":"throttled"}`)
		_, err := s.Send(context.Background(), message("+8613800001111", 1))
		pe := requireClass(t, err, providers.ClassThrottled, CodeFailure)
		require.Equal(t, ThrottleRetryAfter, pe.RetryAfter)
	})

	t.Run("UnknownOutcome", func(t *testing.T) {
		t.Parallel()
		f := setup(t, 0)
		s := f.sender(t, 1, `{"latency_ms":0,"failure_rate":1,"failure_class":"unknown_outcome"}`)
		msg := message("+8613800001111", 1)
		_, err := s.Send(context.Background(), msg)
		requireClass(t, err, providers.ClassUnknownOutcome, CodeFailure)
		got, found, err := s.CheckStatus(context.Background(), providers.StatusQuery{TaskID: msg.TaskID})
		require.NoError(t, err)
		require.True(t, found)
		require.Equal(t, providers.ReceiptDelivered, got.Status)
	})

	t.Run("NoReceiptRate", func(t *testing.T) {
		t.Parallel()
		f := setup(t, 0)
		s := f.sender(t, 1, `{"latency_ms":0,"receipt_delay_ms":0,"no_receipt_rate":1}`)
		res, err := s.Send(context.Background(), message("+8613800001111", 1))
		require.NoError(t, err)
		got, found, err := s.CheckStatus(context.Background(), providers.StatusQuery{ProviderMessageID: res.ProviderMessageID})
		require.NoError(t, err)
		require.True(t, found)
		require.Equal(t, providers.ReceiptDelivered, got.Status)
		require.NoError(t, f.p.Close())
		require.Zero(t, f.cb.hits.Load())
	})

	t.Run("ReceiptFailureRate", func(t *testing.T) {
		t.Parallel()
		f := setup(t, 0)
		s := f.sender(t, 1, `{"latency_ms":0,"receipt_delay_ms":0,"receipt_failure_rate":1}`)
		res, err := s.Send(context.Background(), message("+8613800001111", 1))
		require.NoError(t, err)
		p := f.cb.next(t)
		require.Equal(t, StatusUndelivered, p.reports[0].Status)
		require.Equal(t, CodeUndelivered, p.reports[0].Code)
		require.Equal(t, res.ProviderMessageID, p.reports[0].MessageID)
	})
}

func TestReceiptPush(t *testing.T) {
	t.Parallel()

	t.Run("Body", func(t *testing.T) {
		t.Parallel()
		f := setup(t, 0)
		s := f.sender(t, 1, `{"latency_ms":15,"receipt_delay_ms":250}`)
		msg := providers.Message{TaskID: "6f1c2a4e-8c1b-4f7e-9a55-0d3c2b1a9e77", Attempt: 1, Receiver: "+8613800001234"}
		res, err := s.Send(context.Background(), msg)
		require.NoError(t, err)

		p := f.cb.next(t)
		require.Equal(t, []Report{{
			MessageID:   res.ProviderMessageID,
			TaskID:      msg.TaskID,
			Receiver:    "+8613800001234",
			Status:      StatusDelivered,
			Code:        CodeDelivered,
			Description: "delivered",
			DeliveredAt: "2026-03-01T12:00:00Z",
		}}, p.reports)
		require.Equal(t, "application/json", p.header.Get("Content-Type"))
		require.Empty(t, p.header.Get("X-Sandbox-Token"))
		require.Equal(t, "token=tok-123", p.query, "the token travels in the callback URL")
		require.NoError(t, f.p.Close())
		require.Equal(t, []time.Duration{15 * time.Millisecond, 250 * time.Millisecond}, f.clock.sleeps(), "latency, then receipt delay")
	})

	t.Run("RetriesOn500", func(t *testing.T) {
		t.Parallel()
		f := setup(t, 2)
		s := f.sender(t, 1, `{"latency_ms":0,"receipt_delay_ms":0}`)
		res, err := s.Send(context.Background(), message("+8613800001234", 1))
		require.NoError(t, err)
		p := f.cb.next(t)
		require.Equal(t, res.ProviderMessageID, p.reports[0].MessageID)
		require.NoError(t, f.p.Close())
		require.Equal(t, int32(3), f.cb.hits.Load())
		require.Equal(t, []time.Duration{0, 0, 200 * time.Millisecond, 400 * time.Millisecond}, f.clock.sleeps(), "latency, delay, back-off, back-off")
	})

	t.Run("GivesUpAfterFiveTries", func(t *testing.T) {
		t.Parallel()
		f := setup(t, 1000)
		s := f.sender(t, 1, `{"latency_ms":0,"receipt_delay_ms":0}`)
		_, err := s.Send(context.Background(), message("+8613800001234", 1))
		require.NoError(t, err)
		require.Eventually(t, func() bool { return f.cb.hits.Load() == 5 }, 10*time.Second, 5*time.Millisecond)
		require.NoError(t, f.p.Close())
		require.Equal(t, int32(5), f.cb.hits.Load())
	})

	t.Run("RetriesOnConnectionError", func(t *testing.T) {
		t.Parallel()
		var calls atomic.Int32
		rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if calls.Add(1) < 3 {
				return nil, errors.New("connection refused")
			}
			return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader(`{"ok":true}`)), Header: http.Header{}}, nil
		})
		f := setup(t, 0, WithHTTPClient(&http.Client{Transport: rt}))
		s := f.sender(t, 1, `{"latency_ms":0,"receipt_delay_ms":0}`)
		_, err := s.Send(context.Background(), message("+8613800001234", 1))
		require.NoError(t, err)
		require.Eventually(t, func() bool { return calls.Load() == 3 }, 10*time.Second, 5*time.Millisecond)
		require.NoError(t, f.p.Close())
		require.Equal(t, int32(3), calls.Load())
	})

	t.Run("RealClock", func(t *testing.T) {
		t.Parallel()
		p := New()
		t.Cleanup(func() { _ = p.Close() })
		cb := newCallback(t, 1)
		s, err := p.NewSender(providers.Account{ID: 4, Kind: Kind, Config: json.RawMessage(`{"latency_ms":1,"receipt_delay_ms":10}`), CallbackURL: cb.url()})
		require.NoError(t, err)
		res, err := s.Send(context.Background(), message("+8613800001234", 1))
		require.NoError(t, err)
		require.Equal(t, res.ProviderMessageID, cb.next(t).reports[0].MessageID)
	})

	t.Run("NoCallbackURL", func(t *testing.T) {
		t.Parallel()
		f := setup(t, 0)
		s, err := f.p.NewSender(providers.Account{ID: 1, Kind: Kind, Config: json.RawMessage(`{"latency_ms":0}`)})
		require.NoError(t, err)
		res, err := s.Send(context.Background(), message("+8613800001234", 1))
		require.NoError(t, err)
		require.NotEmpty(t, res.ProviderMessageID)
		require.NoError(t, f.p.Close())
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestClose(t *testing.T) {
	t.Parallel()

	t.Run("DropsWaitingPushes", func(t *testing.T) {
		t.Parallel()
		f := setup(t, 0)
		waiting := make(chan struct{}, 10)
		f.clock.sleep = func(ctx context.Context, d time.Duration) error {
			if d == 0 {
				return ctx.Err()
			}
			waiting <- struct{}{}
			<-ctx.Done()
			return ctx.Err()
		}
		s := f.sender(t, 1, `{"latency_ms":0,"receipt_delay_ms":60000}`)
		for i := range 3 {
			_, err := s.Send(context.Background(), message(fmt.Sprintf("+861380000123%d", i), 1))
			require.NoError(t, err)
		}
		for range 3 {
			<-waiting
		}
		require.NoError(t, f.p.Close())
		require.Zero(t, f.cb.hits.Load())
		require.NoError(t, f.p.Close(), "twice is fine")
	})

	t.Run("WaitsForInFlightPush", func(t *testing.T) {
		t.Parallel()
		started := make(chan struct{})
		var finished atomic.Bool
		rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			close(started)
			<-r.Context().Done()
			time.Sleep(50 * time.Millisecond) // a slow unwind Close must wait out
			finished.Store(true)
			return nil, r.Context().Err()
		})
		f := setup(t, 0, WithHTTPClient(&http.Client{Transport: rt}))
		s := f.sender(t, 1, `{"latency_ms":0,"receipt_delay_ms":0}`)
		_, err := s.Send(context.Background(), message("+8613800001234", 1))
		require.NoError(t, err)
		<-started
		require.NoError(t, f.p.Close())
		require.True(t, finished.Load(), "Close returned before the push goroutine ended")
	})

	t.Run("SendAfterClose", func(t *testing.T) {
		t.Parallel()
		f := setup(t, 0)
		s := f.sender(t, 1, `{"latency_ms":0}`)
		require.NoError(t, f.p.Close())
		_, err := s.Send(context.Background(), message("+8613800001234", 1))
		requireClass(t, err, providers.ClassTransient, CodeClosed)
	})
}

func TestSendCancelledDuringLatency(t *testing.T) {
	t.Parallel()
	p := New()
	t.Cleanup(func() { _ = p.Close() })
	s, err := p.NewSender(providers.Account{ID: 1, Kind: Kind, Config: json.RawMessage(`{"latency_ms":60000}`)})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	msg := message("+8613800001234", 1)
	_, err = s.Send(ctx, msg)
	pe := requireClass(t, err, providers.ClassTransient, CodeCancelled)
	require.ErrorIs(t, pe, context.DeadlineExceeded)
	require.Less(t, time.Since(start), 5*time.Second)
	_, found, err := s.(*Sender).CheckStatus(context.Background(), providers.StatusQuery{TaskID: msg.TaskID})
	require.NoError(t, err)
	require.False(t, found, "nothing was accepted")
}

func TestCheckStatus(t *testing.T) {
	t.Parallel()
	f := setup(t, 0)
	s := f.sender(t, 1, `{"latency_ms":0,"receipt_delay_ms":500}`)
	other := f.sender(t, 2, `{"latency_ms":0}`)

	first := message("+8613800004004", 1)
	res1, err := s.Send(context.Background(), first)
	require.NoError(t, err)
	second := first
	second.Attempt = 2
	second.Receiver = "+8613800001234" // same task, now to a good receiver
	res2, err := s.Send(context.Background(), second)
	require.NoError(t, err)

	check := func(s *Sender, q providers.StatusQuery) (providers.Receipt, bool) {
		t.Helper()
		r, found, err := s.CheckStatus(context.Background(), q)
		require.NoError(t, err)
		return r, found
	}

	t.Run("ByProviderMessageID", func(t *testing.T) {
		t.Parallel()
		r, found := check(s, providers.StatusQuery{ProviderMessageID: res1.ProviderMessageID})
		require.True(t, found)
		require.Equal(t, providers.Receipt{
			ProviderMessageID: res1.ProviderMessageID,
			TaskID:            first.TaskID,
			Receiver:          first.Receiver,
			Status:            providers.ReceiptFailed,
			Code:              CodeUndelivered,
			Description:       "the handset could not be reached",
			At:                testNow.Add(500 * time.Millisecond).Truncate(time.Second),
		}, r)
	})

	t.Run("ByTaskIsLatest", func(t *testing.T) {
		t.Parallel()
		r, found := check(s, providers.StatusQuery{TaskID: first.TaskID})
		require.True(t, found)
		require.Equal(t, res2.ProviderMessageID, r.ProviderMessageID)
		require.Equal(t, providers.ReceiptDelivered, r.Status)
		require.Equal(t, CodeDelivered, r.Code)
	})

	t.Run("UnknownID", func(t *testing.T) {
		t.Parallel()
		_, found := check(s, providers.StatusQuery{ProviderMessageID: "sbx-000000000000000000000000"})
		require.False(t, found)
		_, found = check(s, providers.StatusQuery{TaskID: "no-such-task"})
		require.False(t, found)
	})

	t.Run("UnknownIDIgnoresTask", func(t *testing.T) {
		t.Parallel()
		_, found := check(s, providers.StatusQuery{ProviderMessageID: "sbx-nope", TaskID: first.TaskID})
		require.False(t, found)
	})

	t.Run("OtherAccount", func(t *testing.T) {
		t.Parallel()
		_, found := check(other, providers.StatusQuery{ProviderMessageID: res1.ProviderMessageID})
		require.False(t, found)
		_, found = check(other, providers.StatusQuery{TaskID: first.TaskID})
		require.False(t, found)
	})

	t.Run("Cancelled", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, _, err := s.CheckStatus(ctx, providers.StatusQuery{TaskID: first.TaskID})
		require.ErrorIs(t, err, context.Canceled)
	})
}

func TestMaxRecords(t *testing.T) {
	t.Parallel()
	f := setup(t, 0, WithMaxRecords(2))
	s := f.sender(t, 1, `{"latency_ms":0}`)
	var ids []string
	for i := range 3 {
		res, err := s.Send(context.Background(), message(fmt.Sprintf("+86138000012%02d", i), 1))
		require.NoError(t, err)
		ids = append(ids, res.ProviderMessageID)
	}
	for i, want := range []bool{false, true, true} {
		_, found, err := s.CheckStatus(context.Background(), providers.StatusQuery{ProviderMessageID: ids[i]})
		require.NoError(t, err)
		require.Equal(t, want, found, "message %d", i)
	}
	_, found, err := s.CheckStatus(context.Background(), providers.StatusQuery{TaskID: "task-+8613800001200"})
	require.NoError(t, err)
	require.False(t, found, "the task index forgets with the record")
}

func TestReceiptHandler(t *testing.T) {
	t.Parallel()
	h := New().ReceiptHandler()
	parse := func(body string) ([]providers.Receipt, error) {
		return h.ParseReceipts(httptest.NewRequest(http.MethodPost, "/v1/receipts/sandbox?token=x", strings.NewReader(body)))
	}

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		got, err := parse(`[
			{"message_id":"sbx-1","task_id":"t1","receiver":"+8613800001234","status":"DELIVERED","code":"DELIVRD","description":"delivered","delivered_at":"2026-03-01T12:00:00Z"},
			{"message_id":"sbx-2","task_id":"t2","receiver":"+8613800004004","status":"UNDELIV","code":"UNDELIV","description":"gone","delivered_at":"2026-03-01T12:00:01+08:00","extra":1}
		]`)
		require.NoError(t, err)
		require.Len(t, got, 2)
		require.True(t, got[1].At.Equal(testNow.Add(time.Second-8*time.Hour)), got[1].At)
		got[1].At = time.Time{}
		require.Equal(t, []providers.Receipt{
			{ProviderMessageID: "sbx-1", TaskID: "t1", Receiver: "+8613800001234", Status: providers.ReceiptDelivered, Code: "DELIVRD", Description: "delivered", At: testNow},
			{ProviderMessageID: "sbx-2", TaskID: "t2", Receiver: "+8613800004004", Status: providers.ReceiptFailed, Code: "UNDELIV", Description: "gone"},
		}, got)
	})

	t.Run("Empty", func(t *testing.T) {
		t.Parallel()
		got, err := parse(`[]`)
		require.NoError(t, err)
		require.Empty(t, got)
	})

	for name, tc := range map[string]struct {
		body string
		want []string
	}{
		"ErrNotJSON":    {body: `DELIVERED`, want: []string{"not a JSON array"}},
		"ErrNull":       {body: `null`, want: []string{"not a JSON array"}},
		"ErrObject":     {body: `{"message_id":"sbx-1"}`, want: []string{"not a JSON array"}},
		"ErrEmptyBody":  {body: ``, want: []string{"not a JSON array"}},
		"ErrWrongTypes": {body: `[{"message_id":1}]`, want: []string{"not a JSON array"}},
		"ErrFields": {
			body: `[{"message_id":"sbx-1","status":"DELIVERED","delivered_at":"2026-03-01T12:00:00Z"},
				{"status":"LOST","delivered_at":"yesterday"}]`,
			want: []string{"receipt 1: message_id is missing, status must be DELIVERED or UNDELIV, delivered_at must be an RFC 3339 time"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := parse(tc.body)
			require.Error(t, err)
			for _, w := range tc.want {
				require.ErrorContains(t, err, w)
			}
		})
	}

	t.Run("ErrTooLarge", func(t *testing.T) {
		t.Parallel()
		_, err := parse(`[` + strings.Repeat(" ", maxReceiptBody) + `]`)
		require.ErrorContains(t, err, "exceeds")
	})

	t.Run("RoundTrip", func(t *testing.T) {
		t.Parallel()
		f := setup(t, 0)
		s := f.sender(t, 1, `{"latency_ms":0,"receipt_delay_ms":0}`)
		res, err := s.Send(context.Background(), message("+8613800004004", 1))
		require.NoError(t, err)
		body, err := json.Marshal(f.cb.next(t).reports)
		require.NoError(t, err)
		got, err := parse(string(body))
		require.NoError(t, err)
		want, found, err := s.CheckStatus(context.Background(), providers.StatusQuery{ProviderMessageID: res.ProviderMessageID})
		require.NoError(t, err)
		require.True(t, found)
		require.Equal(t, []providers.Receipt{want}, got, "the pushed receipt and CheckStatus agree")
	})

	for name, tc := range map[string]struct {
		ok     bool
		status int
		body   string
	}{
		"AckOK":     {ok: true, status: 200, body: `{"ok":true}`},
		"AckFailed": {ok: false, status: 500, body: `{"ok":false}`},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			w := httptest.NewRecorder()
			h.Acknowledge(w, tc.ok)
			require.Equal(t, tc.status, w.Code)
			require.Equal(t, tc.body, w.Body.String())
			require.Equal(t, "application/json", w.Header().Get("Content-Type"))
		})
	}
}

func TestParseConfig(t *testing.T) {
	t.Parallel()

	for name, raw := range map[string]string{"Empty": ``, "Null": `null`, "EmptyObject": `{}`, "EmptyStrings": `{"failure_class":"","failure_code":""}`} {
		t.Run("Defaults"+name, func(t *testing.T) {
			t.Parallel()
			cfg, err := ParseConfig(json.RawMessage(raw))
			require.NoError(t, err)
			require.Equal(t, DefaultConfig(), cfg)
			require.Equal(t, Config{LatencyMS: 20, FailureClass: providers.ClassTransient, FailureCode: "SANDBOX_FAILURE", ReceiptDelayMS: 100}, cfg)
			require.Equal(t, 20*time.Millisecond, cfg.Latency())
			require.Equal(t, 100*time.Millisecond, cfg.ReceiptDelay())
		})
	}

	t.Run("Full", func(t *testing.T) {
		t.Parallel()
		cfg, err := ParseConfig(json.RawMessage(`{"latency_ms":0,"failure_rate":0.25,"failure_class":"config","failure_code":"TPL","receipt_delay_ms":0,"receipt_failure_rate":1,"no_receipt_rate":0.5,"seed":-3}`))
		require.NoError(t, err)
		seed := int64(-3)
		require.Equal(t, Config{FailureRate: 0.25, FailureClass: providers.ClassConfig, FailureCode: "TPL", ReceiptFailureRate: 1, NoReceiptRate: 0.5, Seed: &seed}, cfg)
	})

	t.Run("ErrEveryProblem", func(t *testing.T) {
		t.Parallel()
		_, err := ParseConfig(json.RawMessage(`{"latency_ms":-1,"failure_rate":1.5,"failure_class":"flaky","receipt_delay_ms":3600001,"receipt_failure_rate":-0.1,"no_receipt_rate":2,"seed":"abc","latency":5}`))
		require.Error(t, err)
		for _, w := range []string{
			`unknown field "latency"`,
			"seed must be an integer",
			"latency_ms must be between 0 and 60000",
			"failure_rate must be between 0 and 1",
			"receipt_failure_rate must be between 0 and 1",
			"no_receipt_rate must be between 0 and 1",
			`failure_class must be one of transient, throttled, account, permanent, config, unknown_outcome, not "flaky"`,
			"receipt_delay_ms must be between 0 and 3600000",
		} {
			require.ErrorContains(t, err, w)
		}
	})

	t.Run("ErrNotAnObject", func(t *testing.T) {
		t.Parallel()
		_, err := ParseConfig(json.RawMessage(`"fast"`))
		require.ErrorContains(t, err, "config must be a JSON object")
	})

	t.Run("ErrValidate", func(t *testing.T) {
		t.Parallel()
		require.ErrorContains(t, Config{FailureClass: "transient"}.Validate(), "failure_code must not be empty")
		require.NoError(t, DefaultConfig().Validate())
	})
}

func TestProvider(t *testing.T) {
	t.Parallel()
	p := New()
	t.Cleanup(func() { _ = p.Close() })
	require.Equal(t, "sandbox", p.Kind())
	require.NotNil(t, p.ReceiptHandler())
	require.NoError(t, p.ValidateConfig(json.RawMessage(`{}`)))
	require.ErrorContains(t, p.ValidateConfig(json.RawMessage(`{"failure_rate":2}`)), "failure_rate")

	_, err := p.NewSender(providers.Account{ID: 5, Kind: Kind, Config: json.RawMessage(`{"latency_ms":"slow"}`)})
	require.ErrorContains(t, err, "sandbox account 5")
	require.ErrorContains(t, err, "latency_ms must be an integer")

	_, err = p.NewSender(providers.Account{ID: 5, Kind: Kind, CallbackURL: "/relative?token=tok-SECRET"})
	require.ErrorContains(t, err, "callback URL must be an absolute http or https URL")
	require.NotContains(t, err.Error(), "tok-SECRET")

	s, err := p.NewSender(providers.Account{ID: 5, Kind: Kind, CallbackURL: "http://127.0.0.1:1/cb?token=t"})
	require.NoError(t, err)
	_, ok := s.(providers.StatusChecker)
	require.True(t, ok)
}
