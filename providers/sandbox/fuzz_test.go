package sandbox

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/providers/providertest"
)

// FuzzParseReceipts checks the sandbox's receipt parser on any body (no
// panic, known statuses, output bounded by the input: JSON unescaping only
// shrinks text, except that an invalid UTF-8 byte becomes a 3-byte U+FFFD)
// and round-trips a Report built from the fuzzed fields.
func FuzzParseReceipts(f *testing.F) {
	f.Add([]byte(`[{"message_id":"sb-1","task_id":"t","receiver":"+8613800138000","status":"DELIVERED","code":"DELIVRD","description":"ok","delivered_at":"2026-03-01T09:00:00+08:00"}]`),
		"sb-1", "0b9c3c1e-2f0c-4f43-8f1e-3c7d5a1b9e20", "+8613800138004", "UNDELIV", "failed receipt", true, int64(1772326800))
	f.Add([]byte(`[{"message_id":"","status":"LOST","delivered_at":"now"},{}]`), "x", "", "", "", "", false, int64(-1))
	f.Add([]byte(`null`), "m", "t", "r", "c", "d", true, int64(0))
	f.Add([]byte(`{"message_id":"x"}`), "m\x00", "t", "r", "c", "d", false, int64(1))
	h := New().ReceiptHandler()
	parse := func(body []byte) ([]providers.Receipt, error) {
		return h.ParseReceipts(httptest.NewRequest(http.MethodPost, "/callbacks/sandbox/1?token=t", strings.NewReader(string(body))))
	}

	f.Fuzz(func(t *testing.T, body []byte, messageID, taskID, receiver, code, desc string, delivered bool, unix int64) {
		if len(body) > 64<<10 || len(messageID)+len(taskID)+len(receiver)+len(code)+len(desc) > 4096 {
			t.Skip()
		}
		if receipts, err := parse(body); err == nil {
			providertest.CheckReceipts(t, receipts, len(body), 1)
			for _, r := range receipts {
				require.NotEqual(t, providers.ReceiptRejected, r.Status, "a report is DELIVERED or UNDELIVERED")
			}
		}

		for _, s := range []string{messageID, taskID, receiver, code, desc} {
			if !utf8.ValidString(s) {
				return
			}
		}
		if messageID == "" {
			return
		}
		at := time.Unix(1e9+unix%(3e9), 0).In(time.FixedZone("", 8*3600))
		status := StatusUndelivered
		if delivered {
			status = StatusDelivered
		}
		rep := Report{MessageID: messageID, TaskID: taskID, Receiver: receiver, Status: status, Code: code, Description: desc, DeliveredAt: at.Format(time.RFC3339)}
		push, err := json.Marshal([]Report{rep})
		require.NoError(t, err)
		receipts, err := parse(push)
		require.NoError(t, err)
		require.Len(t, receipts, 1)
		got := receipts[0]
		require.Equal(t, [5]string{messageID, taskID, receiver, code, desc}, [5]string{got.ProviderMessageID, got.TaskID, got.Receiver, got.Code, got.Description})
		require.True(t, at.Equal(got.At), "at %s, got %s", at, got.At)
		require.Equal(t, delivered, got.Status == providers.ReceiptDelivered)
	})
}
