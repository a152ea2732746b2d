package fakeserver

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestFaults(t *testing.T) {
	t.Parallel()

	t.Run("FailNextQueuesInOrder", func(t *testing.T) {
		t.Parallel()
		var f Faults[string]
		f.FailNext(2, "A")
		f.FailNext(1, "B")
		for _, want := range []string{"A", "A", "B"} {
			code, ok := f.NextFailure()
			require.True(t, ok)
			require.Equal(t, want, code)
		}
		_, ok := f.NextFailure()
		require.False(t, ok)
	})

	t.Run("HangBeforeDrop", func(t *testing.T) {
		t.Parallel()
		var f Faults[int]
		f.Drop(1)
		f.Hang(1)
		require.Equal(t, HangUp, f.TakeEnding())
		require.Equal(t, DropIt, f.TakeEnding())
		require.Equal(t, Answer, f.TakeEnding())
		require.True(t, Answer.Answered())
		require.False(t, HangUp.Answered())
		require.False(t, DropIt.Answered())
	})

	t.Run("DownUp", func(t *testing.T) {
		t.Parallel()
		var f Faults[int]
		require.False(t, f.IsDown())
		f.Down()
		require.True(t, f.IsDown())
		f.Up()
		require.False(t, f.IsDown())
	})
}

func TestWithhold(t *testing.T) {
	t.Parallel()
	stop := make(chan struct{})
	var f Faults[int]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		Withhold(r, stop, f.TakeEnding())
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(srv.Close)
	// The subtests share one Faults and stop channel, so they run in
	// order rather than in parallel. A POST, unlike a GET, is never
	// retried by the transport, so a cut connection shows as an error.
	post := func() (*http.Response, error) { return http.Post(srv.URL, "text/plain", nil) }

	t.Run("Answer", func(t *testing.T) {
		resp, err := post()
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		require.Equal(t, http.StatusOK, resp.StatusCode)
	})

	t.Run("Drop", func(t *testing.T) {
		f.Drop(1)
		_, err := post()
		require.Error(t, err)
	})

	t.Run("HangUntilStop", func(t *testing.T) {
		f.Hang(1)
		time.AfterFunc(50*time.Millisecond, func() { close(stop) })
		_, err := post()
		require.Error(t, err)
	})
}

func TestWriteDownPage(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	WriteDownPage(rec, http.StatusBadGateway, "502 Bad Gateway")
	require.Equal(t, http.StatusBadGateway, rec.Code)
	require.Equal(t, "text/html", rec.Header().Get("Content-Type"))
	require.Equal(t, "<html><body><h1>502 Bad Gateway</h1></body></html>\n", rec.Body.String())
}

func TestPusher(t *testing.T) {
	t.Parallel()

	// receiver answers the first fails requests with HTTP 500.
	receiver := func(t *testing.T, fails int32, answer string) string {
		var n atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) <= fails {
				w.WriteHeader(http.StatusInternalServerError)
				return
			}
			_, _ = w.Write([]byte(answer))
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	newPusher := func(accept func([]byte) error) *Pusher {
		return NewPusher("testfake", 3, time.Millisecond, accept)
	}

	t.Run("RetriesUntilAccepted", func(t *testing.T) {
		t.Parallel()
		url := receiver(t, 2, "ok")
		p := newPusher(nil)
		require.NoError(t, p.Push(context.Background(), url, "text/plain", []byte("x")))
		log := p.Log()
		require.Len(t, log, 3)
		require.Equal(t, http.StatusInternalServerError, log[0].StatusCode)
		require.ErrorContains(t, log[0].Err, "testfake: push answered HTTP 500")
		require.Equal(t, Attempt{URL: url, Body: []byte("x"), ContentType: "text/plain", StatusCode: http.StatusOK}, log[2])
	})

	t.Run("GivesUp", func(t *testing.T) {
		t.Parallel()
		p := newPusher(nil)
		err := p.Push(context.Background(), receiver(t, 5, "ok"), "text/plain", nil)
		require.ErrorContains(t, err, "HTTP 500")
		require.Len(t, p.Log(), 3)
	})

	t.Run("AcceptRefuses", func(t *testing.T) {
		t.Parallel()
		p := newPusher(func(answer []byte) error { return errors.New("testfake: no ack in " + string(answer)) })
		err := p.Push(context.Background(), receiver(t, 0, "nope"), "text/plain", nil)
		require.EqualError(t, err, "testfake: no ack in nope")
		require.Len(t, p.Log(), 3)
	})

	t.Run("Abandoned", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		p := newPusher(nil)
		p.Interval = time.Hour
		time.AfterFunc(20*time.Millisecond, cancel)
		err := p.Push(ctx, receiver(t, 5, "ok"), "text/plain", nil)
		require.ErrorIs(t, err, context.Canceled)
		require.ErrorContains(t, err, "testfake: push abandoned")
		require.Len(t, p.Log(), 1)
	})
}

func TestBackground(t *testing.T) {
	t.Parallel()

	t.Run("RunsAfterDelay", func(t *testing.T) {
		t.Parallel()
		b := NewBackground()
		ran := make(chan struct{})
		b.After(time.Millisecond, func() { close(ran) })
		<-ran
		b.Close(func() {})
	})

	t.Run("CloseCancelsAndWaits", func(t *testing.T) {
		t.Parallel()
		b := NewBackground()
		var ran atomic.Bool
		b.After(time.Hour, func() { ran.Store(true) })
		stopped := false
		b.Close(func() { stopped = true })
		require.True(t, stopped)
		require.Error(t, b.Context().Err())
		b.After(0, func() { ran.Store(true) })
		b.Close(func() { t.Fatal("second Close ran stop") })
		require.False(t, ran.Load())
	})
}
