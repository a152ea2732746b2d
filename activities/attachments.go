package activities

import (
	"context"
	"fmt"
	"sync"

	"github.com/heraldhq/herald/providers"
)

// batchAttachmentsKept is how many batches' attachments a worker keeps
// decoded: the messages of a batch are sent close together, so a few
// recent batches spare reloading megabytes from the store per message.
const batchAttachmentsKept = 8

// attachmentCache keeps the decoded attachments of recent batches. A
// batch's attachments never change once stored, so entries need no
// invalidation. The zero value is ready to use.
type attachmentCache struct {
	mu    sync.Mutex
	order []string
	byID  map[string][]providers.Attachment
}

// batchAttachments returns the attachments of a batch, from the cache or
// the store. Stored attachments that do not decode are a permanent
// provider failure; store errors are returned as they are, for Temporal to
// retry.
func (a *Activities) batchAttachments(ctx context.Context, batchID string) ([]providers.Attachment, error) {
	c := &a.batchAtts
	c.mu.Lock()
	atts, ok := c.byID[batchID]
	c.mu.Unlock()
	if ok {
		return atts, nil
	}
	b, err := a.store.GetBatch(ctx, batchID)
	if err != nil {
		return nil, fmt.Errorf("load batch %s: %w", batchID, err)
	}
	if !hasAttachments(b.Attachments) {
		atts = nil
	} else if atts, err = decodeAttachments(b.Attachments); err != nil {
		return nil, providerError(providers.Errorf(providers.ClassPermanent, "ATTACHMENT_INVALID", "stored attachments of batch %s: %v", batchID, err))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byID == nil {
		c.byID = map[string][]providers.Attachment{}
	}
	if _, ok := c.byID[batchID]; !ok {
		c.byID[batchID] = atts
		c.order = append(c.order, batchID)
		if len(c.order) > batchAttachmentsKept {
			delete(c.byID, c.order[0])
			c.order = c.order[1:]
		}
	}
	return atts, nil
}

func hasAttachments(raw []byte) bool {
	return len(raw) > 0 && string(raw) != "null"
}
