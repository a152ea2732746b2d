package zrwinfo

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/providers/providertest"
)

// FuzzParseReceipts checks the status-report parser on any body, content
// type and query (no panic, known statuses, at most two receipts per report
// and output bounded by the input) and round-trips a form push built from
// the fuzzed fields, as Zrwinfo posts it.
func FuzzParseReceipts(f *testing.F) {
	f.Add([]byte("smUuid=1001&mobile=13800138000&deliverResult=DELIVRD&deliverTime=2026-03-01+09%3A00%3A05"), "application/form-data;charset=utf-8", "",
		"1001", "13800138000", "DELIVRD", int64(1772326805))
	f.Add([]byte(`[{"smUuid":1,"batchId":"b","mobile":"+8613800138000","deliverResult":"UNDELIV","deliverTime":1772326805000}]`), "application/json", "",
		"u-2", "", "REJECTD", int64(0))
	f.Add([]byte(`{"data":[{"smUuid":"u","deliverResult":"MK:0001"}]}`), "", "smUuid=q&deliverResult=DELIVRD", "u", "1", "EXPIRED", int64(-1))
	f.Add([]byte("--X\r\nContent-Disposition: form-data; name=\"smUuid\"\r\n\r\nu\r\n--X--\r\n"), "multipart/form-data; boundary=X", "", "u", "", "", int64(1))
	f.Add([]byte(""), "", "smUuid=q&deliverResult=DELIVRD&deliverTime=20260301090005", "a", "b", "c", int64(2))
	now := time.Date(2026, 3, 1, 1, 0, 0, 0, time.UTC)
	h := NewReceiptHandler(WithClock(func() time.Time { return now }))
	parse := func(body []byte, contentType, query string) ([]providers.Receipt, error) {
		r := httptest.NewRequest(http.MethodPost, "/callbacks/zrwinfo/1?token=t", strings.NewReader(string(body)))
		r.URL.RawQuery = query
		r.Header.Set("Content-Type", contentType)
		return h.ParseReceipts(r)
	}

	f.Fuzz(func(t *testing.T, body []byte, contentType, query, smUUID, mobile, result string, unix int64) {
		if len(body) > 64<<10 || len(contentType)+len(query)+len(smUUID)+len(mobile)+len(result) > 4096 {
			t.Skip()
		}
		if receipts, err := parse(body, contentType, query); err == nil {
			// A report may come out twice: under its batch key and its
			// smUuid.
			providertest.CheckReceipts(t, receipts, len(body)+len(query), 2)
			for _, r := range receipts {
				require.NotEmpty(t, r.Code, "a report's deliverResult is its code")
				require.False(t, r.At.IsZero(), "a report without a time gets the time it came")
			}
		}

		smUUID, result = strings.TrimSpace(smUUID), strings.TrimSpace(result)
		if smUUID == "" || result == "" || !utf8.ValidString(smUUID+mobile+result) {
			return
		}
		at := time.Unix(1e9+unix%(3e9), 0).UTC()
		form := url.Values{}
		form.Set("smUuid", smUUID)
		form.Set("mobile", mobile)
		form.Set("deliverResult", result)
		form.Set("deliverTime", at.In(chinaTime()).Format(deliverTimeLayout))
		receipts, err := parse([]byte(form.Encode()), "application/form-data;charset=utf-8", "")
		require.NoError(t, err)
		require.Len(t, receipts, 1, "a report without a batchId has one key")
		got := receipts[0]
		require.Equal(t, smUUID, got.ProviderMessageID)
		require.Equal(t, result, got.Code)
		require.Equal(t, statusOf(result), got.Status)
		require.Equal(t, at, got.At)
	})
}
