package activities

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/heraldhq/herald/providers"
)

// DefaultBatchWindow is how long a send of a batch message waits for
// others bound for the same account, template and signature, so that they
// go out in one request of the provider's batch API.
const DefaultBatchWindow = 250 * time.Millisecond

// batchTimeout bounds one batch request; it is not tied to any single
// activity, since it carries many.
const batchTimeout = time.Minute

// batcher coalesces concurrent sends of batch messages through one
// account into the provider's batch API (Aliyun SendBatchSms, Zrwinfo
// batch send). Each message keeps its own workflow and activity; only the
// request to the provider is shared, and each activity gets its own
// outcome back. Single (non-batch) sends never wait: a verification code
// should not pay for batching.
type batcher struct {
	window time.Duration

	mu     sync.Mutex
	groups map[string]*batchGroup
}

type batchGroup struct {
	sender providers.BatchSender
	items  []*batchItem
	timer  *time.Timer
}

type batchItem struct {
	msg  providers.Message
	done chan providers.BatchOutcome
}

func newBatcher(window time.Duration) *batcher {
	return &batcher{window: window, groups: make(map[string]*batchGroup)}
}

// send queues msg for the next batch of its group and waits for its
// outcome.
func (b *batcher) send(ctx context.Context, accountID int64, bs providers.BatchSender, msg providers.Message) (providers.Result, error) {
	key := fmt.Sprintf("%d\x00%s\x00%s", accountID, msg.TemplateCode, msg.Signature)
	item := &batchItem{msg: msg, done: make(chan providers.BatchOutcome, 1)}

	b.mu.Lock()
	g := b.groups[key]
	if g == nil {
		g = &batchGroup{sender: bs}
		b.groups[key] = g
		g.timer = time.AfterFunc(b.window, func() { b.flush(key, g) })
	}
	g.items = append(g.items, item)
	if max := bs.MaxBatch(); max > 0 && len(g.items) >= max {
		delete(b.groups, key)
		g.timer.Stop()
		go b.run(g)
	}
	b.mu.Unlock()

	select {
	case out := <-item.done:
		return out.Result, out.Err
	case <-ctx.Done():
		// The batch may still go out with this message in it.
		return providers.Result{}, &providers.Error{Class: providers.ClassUnknownOutcome, Code: "BATCH_ABANDONED",
			Message: "the send stopped waiting for its batch request", Err: ctx.Err()}
	}
}

func (b *batcher) flush(key string, g *batchGroup) {
	b.mu.Lock()
	if b.groups[key] != g {
		// Already sent because it filled up.
		b.mu.Unlock()
		return
	}
	delete(b.groups, key)
	b.mu.Unlock()
	b.run(g)
}

// run sends one group and hands each item its outcome.
func (b *batcher) run(g *batchGroup) {
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	msgs := make([]providers.Message, len(g.items))
	for i, it := range g.items {
		msgs[i] = it.msg
	}
	outs, err := g.sender.SendBatch(ctx, msgs)
	for i, it := range g.items {
		switch {
		case err != nil:
			it.done <- providers.BatchOutcome{Err: err}
		case i < len(outs):
			it.done <- outs[i]
		default:
			it.done <- providers.BatchOutcome{Err: &providers.Error{Class: providers.ClassUnknownOutcome, Code: "BATCH_SHORT_ANSWER",
				Message: fmt.Sprintf("the provider answered for %d of %d messages", len(outs), len(msgs))}}
		}
	}
}
