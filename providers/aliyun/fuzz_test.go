package aliyun

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

// FuzzParseReceipts checks the SmsReport parser on any body (no panic,
// known statuses, output bounded by the input: JSON unescaping only
// shrinks text, except that an invalid UTF-8 byte becomes a 3-byte U+FFFD,
// and a number gains at most "+86" and a separator) and round-trips a
// report built from the fuzzed fields in Aliyun's format.
func FuzzParseReceipts(f *testing.F) {
	f.Add([]byte(`[{"phone_number":"13800138000","send_time":"2026-03-01 09:00:00","report_time":"2026-03-01 09:00:05","success":true,"err_code":"DELIVERED","err_msg":"用户接收成功","sms_size":"1","biz_id":"932702304080415357^0","out_id":"task-1"}]`),
		"932702304080415357^0", "0b9c3c1e-2f0c-4f43-8f1e-3c7d5a1b9e20", "13800138000", "DELIVERED", "用户接收成功", true, int64(1772326805))
	f.Add([]byte(`[{"phone_number":8613800138000,"success":"false","biz_id":1,"report_time":null}]`), "b", "", "+85261234567", "UNDELIV", "", false, int64(0))
	f.Add([]byte(`[{"content":"TD","phone_number":"1"}]`), "b", "t", "00861", "", "", true, int64(-1))
	f.Add([]byte(`[{"biz_id":"x","phone_number":"1","success":true,"report_time":"2026-13-01"}]`), "b", "t", "abc", "c", "d", false, int64(5))
	now := time.Date(2026, 3, 1, 1, 0, 0, 0, time.UTC)
	h := NewReceiptHandler(WithClock(func() time.Time { return now }))
	parse := func(body []byte) ([]providers.Receipt, error) {
		return h.ParseReceipts(httptest.NewRequest(http.MethodPost, "/callbacks/aliyun/1?token=t", strings.NewReader(string(body))))
	}

	f.Fuzz(func(t *testing.T, body []byte, bizID, outID, phone, errCode, errMsg string, delivered bool, unix int64) {
		if len(body) > 64<<10 || len(bizID)+len(outID)+len(phone)+len(errCode)+len(errMsg) > 4096 {
			t.Skip()
		}
		if receipts, err := parse(body); err == nil {
			providertest.CheckReceipts(t, receipts, len(body), 1)
			for _, r := range receipts {
				require.NotEqual(t, providers.ReceiptRejected, r.Status, "Aliyun reports delivered or failed")
				require.False(t, r.At.IsZero(), "a report without a time gets the time it came")
			}
		}

		for _, s := range []string{bizID, outID, phone, errCode, errMsg} {
			if !utf8.ValidString(s) {
				return
			}
		}
		if bizID == "" || phone == "" {
			return
		}
		at := time.Unix(1e9+unix%(3e9), 0).UTC()
		push, err := json.Marshal([]map[string]any{{
			"phone_number": phone, "send_time": at.In(chinaTime()).Format(aliyunTimeFmt), "report_time": at.In(chinaTime()).Format(aliyunTimeFmt),
			"success": delivered, "err_code": errCode, "err_msg": errMsg, "sms_size": "1", "biz_id": bizID, "out_id": outID,
		}})
		require.NoError(t, err)
		receipts, err := parse(push)
		require.NoError(t, err)
		require.Len(t, receipts, 1)
		got := receipts[0]
		require.Equal(t, messageID(bizID, phone), got.ProviderMessageID)
		require.Equal(t, outID, got.TaskID)
		require.Equal(t, e164(numberKey(phone)), got.Receiver)
		require.Equal(t, errCode, got.Code)
		require.Equal(t, errMsg, got.Description)
		require.Equal(t, at, got.At)
		require.Equal(t, delivered, got.Status == providers.ReceiptDelivered)
	})
}

// FuzzParseReplies checks the SmsUp parser: no panic, every reply has a
// content (possibly empty) and a time, and the output is bounded by the
// input.
func FuzzParseReplies(f *testing.F) {
	f.Add([]byte(`[{"phone_number":"13800138000","send_time":"2026-03-01 09:00:00","content":"TD","sign_name":"Herald","dest_code":"1234","sequence_id":1234}]`))
	f.Add([]byte(`[{"phone_number":"1","content":null,"biz_id":"x"}]`))
	f.Add([]byte(`[{"phone_number":"","content":""}]`))
	f.Add([]byte(`{}`))
	h := NewReplyHandler()
	f.Fuzz(func(t *testing.T, body []byte) {
		if len(body) > 64<<10 {
			t.Skip()
		}
		replies, err := h.ParseReplies(httptest.NewRequest(http.MethodPost, "/callbacks/aliyun/1/replies?token=t", strings.NewReader(string(body))))
		if err != nil {
			return
		}
		require.LessOrEqual(t, len(replies), len(body)/2+1)
		size := 0
		for _, r := range replies {
			require.False(t, r.At.IsZero())
			size += len(r.Receiver) + len(r.Content) + len(r.SignName) + len(r.ExtendCode)
		}
		require.LessOrEqual(t, size, 3*len(body)+4*len(replies))
	})
}
