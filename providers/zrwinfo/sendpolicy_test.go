package zrwinfo

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/providers"
)

// TestSendPolicyCoversBatchSends checks that on_unknown_outcome applies to
// batch sends: a batch's reports come off the status pull once, to
// whichever check takes them first, so a status check cannot settle one.
// The values themselves are checked by TestConformance.
func TestSendPolicyCoversBatchSends(t *testing.T) {
	t.Parallel()
	for _, raw := range []string{`{"access_key":"a","secret":"b"}`, `{"access_key":"a","secret":"b","on_unknown_outcome":"resend"}`} {
		policy := New().SendPolicy(providers.Account{ID: 1, Kind: Kind, Config: json.RawMessage(raw)})
		require.True(t, policy.BatchUnchecked, "config %s", raw)
	}
}
