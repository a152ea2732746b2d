package tencent

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

// FuzzParseReceipts checks the receipt push parser on any body: no panic, a
// parsed receipt has a known status, an id and a time, and the output is no
// larger than the input allows (JSON unescaping only shrinks text, except
// that an invalid UTF-8 byte becomes a 3-byte U+FFFD). It also builds a
// push in Tencent's format from the fuzzed fields and checks that parsing
// gives them back.
func FuzzParseReceipts(f *testing.F) {
	f.Add([]byte(`[{"user_receive_time":"2026-03-01 09:00:05","nationcode":"86","mobile":"13800138000","report_status":"SUCCESS","errmsg":"DELIVRD","description":"用户短信送达成功","sid":"2433:1","ext":"task-1"}]`),
		"2433:0000000001", "0b9c3c1e-2f0c-4f43-8f1e-3c7d5a1b9e20", "DELIVRD", "用户短信送达成功", "13800138000", "86", true, int64(1772326805))
	f.Add([]byte(`[{"sid":"x","report_status":"fail","mobile":13800138000,"nationcode":86,"user_receive_time":null}]`),
		"s", "", "UNDELIV", "", "+8613800138000", "", false, int64(0))
	f.Add([]byte(`{"sid":"x"}`), "s\u2028", "\x00", "", "", "", "1", true, int64(-1))
	f.Add([]byte(`[{"sid":"","report_status":"SUCCESS"},{"report_status":"MAYBE"}]`), "a", "b", "c", "d", "e", "f", false, int64(4102444800))
	f.Add([]byte(`[{"sid":"x","report_status":"SUCCESS","user_receive_time":"yesterday"}]`), "a", "b", "c", "d", "e", "f", true, int64(1))
	now := time.Date(2026, 3, 1, 1, 0, 0, 0, time.UTC)
	h := NewReceiptHandler(WithClock(func() time.Time { return now }))
	parse := func(body []byte) ([]providers.Receipt, error) {
		return h.ParseReceipts(httptest.NewRequest(http.MethodPost, "/callbacks/tencent/1?token=t", strings.NewReader(string(body))))
	}

	f.Fuzz(func(t *testing.T, body []byte, sid, ext, errmsg, desc, mobile, nationCode string, delivered bool, unix int64) {
		if len(body) > 64<<10 || len(sid)+len(ext)+len(errmsg)+len(desc)+len(mobile)+len(nationCode) > 4096 {
			t.Skip()
		}
		receipts, err := parse(body)
		if err == nil {
			providertest.CheckReceipts(t, receipts, len(body), 1)
			for _, r := range receipts {
				require.False(t, r.At.IsZero(), "a report without a time gets the time it came")
			}
		}

		// Round trip through Tencent's push format.
		if sid == "" || !allValidUTF8(sid, ext, errmsg, desc, mobile, nationCode) {
			return
		}
		at := time.Unix(1e9+unix%(3e9), 0).UTC() // 2001 to 2096, whole seconds
		status := reportFail
		if delivered {
			status = reportSuccess
		}
		push, err := json.Marshal([]map[string]string{{
			"user_receive_time": at.In(chinaTime()).Format(receiptTimeLayout),
			"nationcode":        nationCode, "mobile": mobile, "report_status": status,
			"errmsg": errmsg, "description": desc, "sid": sid, "ext": ext,
		}})
		require.NoError(t, err)
		receipts, err = parse(push)
		require.NoError(t, err)
		require.Len(t, receipts, 1)
		got := receipts[0]
		require.Equal(t, sid, got.ProviderMessageID)
		require.Equal(t, ext, got.TaskID)
		require.Equal(t, errmsg, got.Code)
		require.Equal(t, desc, got.Description)
		require.Equal(t, at, got.At)
		require.Equal(t, delivered, got.Status == providers.ReceiptDelivered)
		wantReceiver := mobile
		if mobile != "" && nationCode != "" && !strings.HasPrefix(mobile, "+") {
			wantReceiver = "+" + nationCode + mobile
		}
		require.Equal(t, wantReceiver, got.Receiver)
	})
}

func allValidUTF8(ss ...string) bool {
	for _, s := range ss {
		if !utf8.ValidString(s) {
			return false
		}
	}
	return true
}
