package aliyun

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/providers"
)

var pushNow = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func pushRequest(body string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/callbacks/aliyun/1?token=x", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	return r
}

func TestParseReceipts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		want []providers.Receipt
	}{
		{
			// The sample of the SmsReport documentation.
			name: "DocumentedSample",
			body: `[{"phone_number":"13811112222","send_time":"2017-01-01 00:00:00","report_time":"2017-01-01 00:00:05",
				"success":true,"err_code":"DELIVERED","err_msg":"用户接收成功","sms_size":"1",
				"biz_id":"12345^0","out_id":"67890"}]`,
			want: []providers.Receipt{{
				ProviderMessageID: "12345^0:13811112222",
				TaskID:            "67890",
				Receiver:          "+8613811112222",
				Status:            providers.ReceiptDelivered,
				Code:              "DELIVERED",
				Description:       "用户接收成功",
				At:                time.Date(2016, 12, 31, 16, 0, 5, 0, time.UTC),
			}},
		},
		{
			name: "FailureWithNewerFields",
			body: `[{"phone_number":"13811112222","send_time":"2025-03-01 20:00:00","report_time":"2025-03-01 20:00:09",
				"success":false,"err_code":"MK:0004","err_msg":"MK:0004","sms_size":"2","biz_id":"700000000000000000^0",
				"out_id":"7c2b36f4-6f7e-4d7c-9a53-3d3f0e4b8f11","template_code":"SMS_1","sign_name":"Herald",
				"message_id":"m1","request_id":"r1"}]`,
			want: []providers.Receipt{{
				ProviderMessageID: "700000000000000000^0:13811112222",
				TaskID:            "7c2b36f4-6f7e-4d7c-9a53-3d3f0e4b8f11",
				Receiver:          "+8613811112222",
				Status:            providers.ReceiptFailed,
				Code:              "MK:0004",
				Description:       "MK:0004",
				At:                time.Date(2025, 3, 1, 12, 0, 9, 0, time.UTC),
			}},
		},
		{
			name: "SeveralLooseTypesAndPrefixes",
			body: `[
				{"phone_number":"+8613811112222","report_time":"2025-03-01 20:00:00","success":"true","err_code":"DELIVERED","sms_size":1,"biz_id":"1^0","out_id":null},
				{"phone_number":8613811113333,"report_time":"2025-03-01 20:00:01","success":false,"err_code":"UNDELIV","biz_id":"1^0","out_id":""},
				{"phone_number":"85291234567","success":true,"biz_id":"2^0"}
			]`,
			want: []providers.Receipt{
				{ProviderMessageID: "1^0:13811112222", Receiver: "+8613811112222", Status: providers.ReceiptDelivered,
					Code: "DELIVERED", At: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)},
				{ProviderMessageID: "1^0:13811113333", Receiver: "+8613811113333", Status: providers.ReceiptFailed,
					Code: "UNDELIV", At: time.Date(2025, 3, 1, 12, 0, 1, 0, time.UTC)},
				{ProviderMessageID: "2^0:85291234567", Receiver: "+85291234567", Status: providers.ReceiptDelivered, At: pushNow},
			},
		},
		{name: "Empty", body: ` [] `, want: []providers.Receipt{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := NewReceiptHandler(WithClock(func() time.Time { return pushNow }))
			got, err := h.ParseReceipts(pushRequest(tc.body))
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestParseReceiptsRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body, want string
	}{
		{"EmptyBody", ``, "empty body"},
		{"Object", `{"phone_number":"13811112222","success":true,"biz_id":"1^0"}`, "not a JSON array"},
		{"NotJSON", `phone_number=13811112222`, "not a JSON array"},
		{"BrokenJSON", `[{"phone_number":`, "decode"},
		{"NoBizID", `[{"phone_number":"13811112222","success":true}]`, "biz_id is missing"},
		{"NoPhone", `[{"biz_id":"1^0","success":true}]`, "phone_number is missing"},
		{"NoSuccess", `[{"phone_number":"13811112222","biz_id":"1^0"}]`, "success is missing"},
		{"NullSuccess", `[{"phone_number":"13811112222","biz_id":"1^0","success":null}]`, "success is missing"},
		{"BadSuccess", `[{"phone_number":"13811112222","biz_id":"1^0","success":"yes"}]`, "true or false"},
		{"BadTime", `[{"phone_number":"13811112222","biz_id":"1^0","success":true,"report_time":"2025-03-01T12:00:00Z"}]`, "report_time"},
		{"SmsUpBody", `[{"phone_number":"13811112222","content":"TD","send_time":"2017-09-01 00:00:00","dest_code":"1234","sequence_id":"1"}]`, "SmsUp"},
		{"SecondBad", `[{"phone_number":"13811112222","biz_id":"1^0","success":true},{"phone_number":"1"}]`, "report 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewReceiptHandler().ParseReceipts(pushRequest(tc.body))
			require.ErrorContains(t, err, tc.want)
		})
	}

	t.Run("TooLarge", func(t *testing.T) {
		t.Parallel()
		body := "[" + strings.Repeat(" ", maxPushBody) + "]"
		_, err := NewReceiptHandler().ParseReceipts(pushRequest(body))
		require.ErrorContains(t, err, "larger than")
	})
}

func TestParseReplies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		want []providers.Reply
	}{
		{
			name: "DocumentedSample",
			body: `[{"phone_number":"13811112222","content":"TD","send_time":"2017-09-01 00:00:00",
				"dest_code":"1234","sequence_id":"1234567890"}]`,
			want: []providers.Reply{{
				Receiver: "+8613811112222", Content: "TD", ExtendCode: "1234",
				At: time.Date(2017, 8, 31, 16, 0, 0, 0, time.UTC),
			}},
		},
		{
			name: "OlderShapeWithSignNameAndNumericSequence",
			body: `[{"phone_number":"13811112222","content":"好的","send_time":"2025-03-01 20:00:00","sign_name":"Herald",
				"dest_code":"","sequence_id":1234567890},
				{"phone_number":"13811113333","content":"","sign_name":"Herald"}]`,
			want: []providers.Reply{
				{Receiver: "+8613811112222", Content: "好的", SignName: "Herald", At: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)},
				{Receiver: "+8613811113333", SignName: "Herald", At: pushNow},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := NewReplyHandler(WithClock(func() time.Time { return pushNow }))
			got, err := h.ParseReplies(pushRequest(tc.body))
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}

	for _, tc := range []struct{ name, body, want string }{
		{"Object", `{"phone_number":"13811112222","content":"TD"}`, "not a JSON array"},
		{"NoPhone", `[{"content":"TD"}]`, "phone_number is missing"},
		{"NoContent", `[{"phone_number":"13811112222"}]`, "content is missing"},
		{"SmsReportBody", `[{"phone_number":"13811112222","success":true,"biz_id":"1^0"}]`, "SmsReport"},
		{"BadTime", `[{"phone_number":"13811112222","content":"TD","send_time":"yesterday"}]`, "send_time"},
	} {
		t.Run("Rejects"+tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewReplyHandler().ParseReplies(pushRequest(tc.body))
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestAcknowledge(t *testing.T) {
	t.Parallel()
	type acker interface {
		Acknowledge(w http.ResponseWriter, ok bool)
	}
	for name, h := range map[string]acker{"Receipt": NewReceiptHandler(), "Reply": NewReplyHandler()} {
		t.Run(name+"/Accepted", func(t *testing.T) {
			t.Parallel()
			w := httptest.NewRecorder()
			h.Acknowledge(w, true)
			require.Equal(t, http.StatusOK, w.Code)
			require.Equal(t, `{"code":0,"msg":"接收成功"}`, w.Body.String())
			require.Contains(t, w.Header().Get("Content-Type"), "application/json")
		})
		t.Run(name+"/Refused", func(t *testing.T) {
			t.Parallel()
			w := httptest.NewRecorder()
			h.Acknowledge(w, false)
			require.Equal(t, http.StatusInternalServerError, w.Code)
			require.JSONEq(t, `{"code":1,"msg":"接收失败"}`, w.Body.String())
		})
	}
}

func TestNumberKeys(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"13811112222":       "13811112222",
		"+8613811112222":    "13811112222",
		"8613811112222":     "13811112222",
		"008613811112222":   "13811112222",
		" 138-1111-2222 ":   "13811112222",
		"85291234567":       "85291234567",
		"+14155550123":      "14155550123",
		"0085291234567":     "85291234567",
		"":                  "",
		"+86 138 1111 2222": "13811112222",
	} {
		require.Equal(t, want, numberKey(in), in)
	}
	for in, want := range map[string]string{
		"+8613811112222":   "13811112222",
		"13811112222":      "13811112222",
		"+85291234567":     "85291234567",
		"+14155550123":     "14155550123",
		"+44 20 7946 0958": "442079460958",
	} {
		got, err := wireNumber(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "  ", "not a number", "12"} {
		_, err := wireNumber(bad)
		require.Error(t, err, bad)
	}

	biz, key := splitMessageID(messageID("700000000000000000^0", "+8613811112222"))
	require.Equal(t, "700000000000000000^0", biz)
	require.Equal(t, "13811112222", key)
	biz, key = splitMessageID("700000000000000000^0")
	require.Equal(t, "700000000000000000^0", biz)
	require.Empty(t, key)
}
