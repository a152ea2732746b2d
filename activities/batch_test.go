package activities

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/providers"
)

// fakeBatchSender records every batch request and answers per message.
type fakeBatchSender struct {
	max int
	err error

	mu    sync.Mutex
	calls [][]providers.Message
}

func (f *fakeBatchSender) MaxBatch() int { return f.max }

func (f *fakeBatchSender) SendBatch(_ context.Context, msgs []providers.Message) ([]providers.BatchOutcome, error) {
	f.mu.Lock()
	f.calls = append(f.calls, append([]providers.Message(nil), msgs...))
	f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	outs := make([]providers.BatchOutcome, len(msgs))
	for i, m := range msgs {
		if m.Receiver == "bad" {
			outs[i].Err = providers.Errorf(providers.ClassPermanent, "BAD_NUMBER", "bad number")
			continue
		}
		outs[i].Result = providers.Result{ProviderMessageID: "batch:" + m.Receiver}
	}
	return outs, nil
}

func (f *fakeBatchSender) requests() [][]providers.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]providers.Message(nil), f.calls...)
}

type batchAnswer struct {
	res providers.Result
	err error
}

// sendAll sends msgs concurrently through b and returns the answers in
// msgs' order.
func sendAll(ctx context.Context, b *batcher, bs providers.BatchSender, msgs []providers.Message) []batchAnswer {
	out := make([]batchAnswer, len(msgs))
	var wg sync.WaitGroup
	for i, m := range msgs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := b.send(ctx, 7, bs, m)
			out[i] = batchAnswer{res, err}
		}()
	}
	wg.Wait()
	return out
}

func TestBatcher(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	msg := func(receiver, template string) providers.Message {
		return providers.Message{TaskID: "t-" + receiver, Receiver: receiver, TemplateCode: template, Signature: "Shop"}
	}

	t.Run("ConcurrentSendsShareOneRequest", func(t *testing.T) {
		t.Parallel()
		bs := &fakeBatchSender{max: 100}
		answers := sendAll(ctx, newBatcher(50*time.Millisecond), bs, []providers.Message{msg("a", "T1"), msg("bad", "T1"), msg("c", "T1")})
		require.Len(t, bs.requests(), 1)
		require.Len(t, bs.requests()[0], 3)
		require.Equal(t, "batch:a", answers[0].res.ProviderMessageID)
		require.Equal(t, providers.ClassPermanent, providers.AsError(answers[1].err).Class)
		require.Equal(t, "batch:c", answers[2].res.ProviderMessageID)
	})

	t.Run("TemplatesNeverMix", func(t *testing.T) {
		t.Parallel()
		bs := &fakeBatchSender{max: 100}
		answers := sendAll(ctx, newBatcher(50*time.Millisecond), bs, []providers.Message{msg("a", "T1"), msg("b", "T2"), msg("c", "T1")})
		require.Len(t, bs.requests(), 2)
		for _, req := range bs.requests() {
			for _, m := range req {
				require.Equal(t, req[0].TemplateCode, m.TemplateCode)
			}
		}
		for _, a := range answers {
			require.NoError(t, a.err)
		}
	})

	t.Run("FullBatchGoesAtOnce", func(t *testing.T) {
		t.Parallel()
		bs := &fakeBatchSender{max: 2}
		start := time.Now()
		answers := sendAll(ctx, newBatcher(time.Hour), bs, []providers.Message{msg("a", "T1"), msg("b", "T1")})
		require.Less(t, time.Since(start), time.Minute, "a full batch does not wait for the window")
		require.Len(t, bs.requests(), 1)
		require.NoError(t, answers[0].err)
		require.NoError(t, answers[1].err)
	})

	t.Run("RequestFailureReachesEveryMessage", func(t *testing.T) {
		t.Parallel()
		bs := &fakeBatchSender{max: 100, err: providers.Errorf(providers.ClassThrottled, "Throttling", "slow down")}
		answers := sendAll(ctx, newBatcher(10*time.Millisecond), bs, []providers.Message{msg("a", "T1"), msg("b", "T1")})
		for _, a := range answers {
			require.Equal(t, providers.ClassThrottled, providers.AsError(a.err).Class)
		}
	})

	t.Run("AbandonedWaitIsAnUnknownOutcome", func(t *testing.T) {
		t.Parallel()
		bs := &fakeBatchSender{max: 100}
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := newBatcher(time.Hour).send(cctx, 7, bs, msg("a", "T1"))
		pe := providers.AsError(err)
		require.Equal(t, providers.ClassUnknownOutcome, pe.Class)
		require.True(t, errors.Is(err, context.Canceled))
	})
}
