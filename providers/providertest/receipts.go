package providertest

import (
	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/providers"
)

// CheckReceipts checks receipts that a receipt parser took from n bytes of
// input, as a fuzz target does for any input the parser accepted: each has
// a final status and an id, and together they are no more than the input
// can carry. Unescaping JSON or a form only shrinks text, except that an
// invalid UTF-8 byte becomes a 3-byte U+FFFD, and a receiver may gain a
// country code and a separator (8 bytes at most). perReport is how many
// receipts one report may give: 1, or 2 for a parser that files a report
// under both its batch and its message id.
func CheckReceipts(t require.TestingT, receipts []providers.Receipt, n, perReport int) {
	if h, ok := t.(interface{ Helper() }); ok {
		h.Helper()
	}
	// The smallest report, "{}" with a separator, takes two bytes.
	require.LessOrEqual(t, len(receipts), perReport*(n/2+1), "more receipts than %d bytes hold", n)
	size := 0
	for _, r := range receipts {
		require.Contains(t, []providers.ReceiptStatus{providers.ReceiptDelivered, providers.ReceiptFailed, providers.ReceiptRejected},
			r.Status, "a pushed receipt has a final status")
		require.NotEmpty(t, r.ProviderMessageID, "a receipt has an id")
		size += len(r.ProviderMessageID) + len(r.TaskID) + len(r.Receiver) + len(r.Code) + len(r.Description)
	}
	require.LessOrEqual(t, size, perReport*3*n+8*len(receipts), "more text than %d bytes carry", n)
}
