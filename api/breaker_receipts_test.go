package api

import (
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/breaker"
	"github.com/heraldhq/herald/workflows"
)

// receiptTally records what the callbacks count for the breakers.
type receiptTally struct {
	mu     sync.Mutex
	counts map[int64]breaker.Counts
}

func (r *receiptTally) Add(accountID int64, c breaker.Counts) {
	r.mu.Lock()
	defer r.mu.Unlock()
	cur := r.counts[accountID]
	cur.ReceiptsDelivered += c.ReceiptsDelivered
	cur.ReceiptsFailed += c.ReceiptsFailed
	r.counts[accountID] = cur
}

func TestCallbackReceiptsCountForBreakers(t *testing.T) {
	t.Parallel()
	tally := &receiptTally{counts: map[int64]breaker.Counts{}}
	f := setup(t, func(o *setupOptions) { o.receipts = tally })
	path := callbackPath(providerKind, accSMS, callbackToken)
	sentMessage(f, accSMS, "pm-1", workflows.StatusSent, "")
	sentMessage(f, accSMS, "pm-2", workflows.StatusSent, "")
	sentMessage(f, accSMS, "pm-3", workflows.StatusSent, "")
	status, _ := push(t, f, path, receiptJSON(t,
		map[string]any{"provider_message_id": "pm-1", "status": "delivered"},
		map[string]any{"provider_message_id": "pm-2", "status": "failed", "code": "MK:0001"},
		// A rejection is about the receiver or the content.
		map[string]any{"provider_message_id": "pm-3", "status": "rejected"},
		// A receipt for no send this account accepted counts for nothing.
		map[string]any{"provider_message_id": "made-up", "status": "failed"},
	))
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, map[int64]breaker.Counts{accSMS: {ReceiptsDelivered: 1, ReceiptsFailed: 1}}, tally.counts)

	t.Run("DuplicatesCountOnce", func(t *testing.T) {
		// The provider pushes the same receipts again, twice in one
		// request: the breaker has heard of them already.
		status, _ := push(t, f, path, receiptJSON(t,
			map[string]any{"provider_message_id": "pm-1", "status": "delivered"},
			map[string]any{"provider_message_id": "pm-1", "status": "delivered"},
			map[string]any{"provider_message_id": "pm-2", "status": "failed", "code": "MK:0001"},
		))
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, map[int64]breaker.Counts{accSMS: {ReceiptsDelivered: 1, ReceiptsFailed: 1}}, tally.counts)
		// Another send of the same account still counts.
		sentMessage(f, accSMS, "pm-4", workflows.StatusSent, "")
		status, _ = push(t, f, path, receiptJSON(t, map[string]any{"provider_message_id": "pm-4", "status": "delivered"}))
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, map[int64]breaker.Counts{accSMS: {ReceiptsDelivered: 2, ReceiptsFailed: 1}}, tally.counts)
	})
}
