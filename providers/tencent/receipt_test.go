package tencent

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/providers"
)

func parsePush(t *testing.T, body string) ([]providers.Receipt, error) {
	t.Helper()
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	h := NewReceiptHandler(WithClock(func() time.Time { return now }))
	r := httptest.NewRequest(http.MethodPost, "/callbacks/tencent", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	return h.ParseReceipts(r)
}

func TestParseReceipts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		want []providers.Receipt
	}{
		{
			name: "Success",
			body: `[{"user_receive_time":"2015-10-17 08:03:04","nationcode":"86","mobile":"13711112222",
				"report_status":"SUCCESS","errmsg":"DELIVRD","description":"用户短信送达成功","sid":"5000:1045710669157053657849499619"}]`,
			want: []providers.Receipt{{
				ProviderMessageID: "5000:1045710669157053657849499619",
				Receiver:          "+8613711112222",
				Status:            providers.ReceiptDelivered,
				Code:              "DELIVRD",
				Description:       "用户短信送达成功",
				At:                time.Date(2015, 10, 17, 0, 3, 4, 0, time.UTC),
			}},
		},
		{
			name: "FailureWithExt",
			body: `[{"user_receive_time":"2025-01-01 00:30:00","nationcode":"86","mobile":"13711112222",
				"report_status":"FAIL","errmsg":"MK:0004","description":"用户短信送达失败","sid":"2433:1",
				"ext":"7c2b36f4-6f7e-4d7c-9a53-3d3f0e4b8f11"}]`,
			want: []providers.Receipt{{
				ProviderMessageID: "2433:1",
				TaskID:            "7c2b36f4-6f7e-4d7c-9a53-3d3f0e4b8f11",
				Receiver:          "+8613711112222",
				Status:            providers.ReceiptFailed,
				Code:              "MK:0004",
				Description:       "用户短信送达失败",
				At:                time.Date(2024, 12, 31, 16, 30, 0, 0, time.UTC),
			}},
		},
		{
			name: "SeveralWithNumbersAsNumbers",
			body: `[
				{"user_receive_time":"2025-03-01 20:00:00","nationcode":86,"mobile":13711112222,"report_status":"SUCCESS","errmsg":"DELIVRD","description":"ok","sid":"2433:1"},
				{"user_receive_time":"2025-03-01 20:00:01","nationcode":"1","mobile":"4155550123","report_status":"FAIL","errmsg":"UNDELIV","description":"no","sid":"2433:2","ext":null}
			]`,
			want: []providers.Receipt{
				{ProviderMessageID: "2433:1", Receiver: "+8613711112222", Status: providers.ReceiptDelivered,
					Code: "DELIVRD", Description: "ok", At: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)},
				{ProviderMessageID: "2433:2", Receiver: "+14155550123", Status: providers.ReceiptFailed,
					Code: "UNDELIV", Description: "no", At: time.Date(2025, 3, 1, 12, 0, 1, 0, time.UTC)},
			},
		},
		{
			name: "NoTimeTakesNow",
			body: `[{"nationcode":"86","mobile":"13711112222","report_status":"SUCCESS","errmsg":"DELIVRD","sid":"2433:1"}]`,
			want: []providers.Receipt{{ProviderMessageID: "2433:1", Receiver: "+8613711112222",
				Status: providers.ReceiptDelivered, Code: "DELIVRD", At: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}},
		},
		{name: "Empty", body: `[]`, want: []providers.Receipt{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := parsePush(t, tc.body)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestParseReceiptsInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body, err string
	}{
		{"EmptyBody", "", "empty body"},
		{"ReplyCallbackObject", `{"extend":"","mobile":"13711112222","nationcode":"86","sign":"Herald","text":"TD","time":1700000000}`, "JSON object"},
		{"NotJSON", `sid=1&status=SUCCESS`, "not a JSON array"},
		{"BrokenJSON", `[{"sid":"1",`, "decode"},
		{"MissingSid", `[{"report_status":"SUCCESS"}]`, "report 0: sid is missing"},
		{"UnknownStatus", `[{"sid":"1","report_status":"DELIVERED"}]`, `report_status "DELIVERED"`},
		{"BadTime", `[{"sid":"1","report_status":"SUCCESS"},{"sid":"2","report_status":"FAIL","user_receive_time":"2025-03-01T20:00:00Z"}]`, "report 1: user_receive_time"},
		{"WrongFieldType", `[{"sid":{"x":1},"report_status":"SUCCESS"}]`, "decode"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := parsePush(t, tc.body)
			require.ErrorContains(t, err, tc.err)
		})
	}

	t.Run("TooLarge", func(t *testing.T) {
		t.Parallel()
		_, err := parsePush(t, "["+strings.Repeat(" ", maxReceiptBody)+"]")
		require.ErrorContains(t, err, "larger than")
	})
}

func TestAcknowledge(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		ok     bool
		status int
		body   string
	}{
		{"Accepted", true, http.StatusOK, `{"result":0,"errmsg":"OK"}`},
		{"Refused", false, http.StatusInternalServerError, `{"result":1,"errmsg":"receipts not accepted"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := httptest.NewRecorder()
			New().ReceiptHandler().Acknowledge(w, tc.ok)
			require.Equal(t, tc.status, w.Code)
			require.Equal(t, "application/json", w.Header().Get("Content-Type"))
			require.JSONEq(t, tc.body, w.Body.String())
		})
	}
}
