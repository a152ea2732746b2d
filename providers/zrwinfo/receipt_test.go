package zrwinfo

import (
	"bytes"
	"context"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/providers/zrwinfo/zrwinfofake"
)

// Sample reports in the shapes integrators describe.
const (
	sampleUUID  = "10000_1_0_13700000000_1_NKWkEcS_1"
	sampleBatch = "abc123456"
	sampleForm  = "smUuid=10000_1_0_13700000000_1_NKWkEcS_1&mobile=13700000000&deliverResult=DELIVRD&deliverTime=2018-01-01+18%3A00%3A00"
	sampleJSON  = `{"smUuid":"10000_1_0_13700000000_1_NKWkEcS_1","mobile":"13700000000","deliverResult":"DELIVRD","deliverTime":"2018-01-01 18:00:00"}`
)

// sampleAt is 2018-01-01 18:00:00 China time.
func sampleAt() time.Time { return time.Date(2018, 1, 1, 10, 0, 0, 0, time.UTC) }

func fixedNow() time.Time { return time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC) }

func parse(t *testing.T, contentType, body, query string) ([]providers.Receipt, error) {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/callbacks/zrwinfo/1?token=t"+query, strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	return NewReceiptHandler(WithClock(fixedNow)).ParseReceipts(r)
}

func singleReceipt() providers.Receipt {
	return providers.Receipt{
		ProviderMessageID: sampleUUID,
		Receiver:          "+8613700000000",
		Status:            providers.ReceiptDelivered,
		Code:              "DELIVRD",
		At:                sampleAt(),
	}
}

func TestParseReceipts(t *testing.T) {
	t.Parallel()
	multipartBody, multipartType := multipartSample(t)
	tests := []struct {
		name, contentType, body, query string
	}{
		{"FormAsDocumented", "application/form-data;charset=utf-8", sampleForm, ""},
		{"FormURLEncoded", "application/x-www-form-urlencoded", sampleForm, ""},
		{"FormWithoutType", "", sampleForm, ""},
		{"Multipart", multipartType, multipartBody, ""},
		{"MultipartDeclaredAsFormData", "application/form-data;charset=utf-8", multipartBody, ""},
		{"JSONObject", "application/json", sampleJSON, ""},
		{"JSONArray", "application/json", "[" + sampleJSON + "]", ""},
		{"JSONData", "application/json", `{"data":[` + sampleJSON + `]}`, ""},
		{"JSONDeclaredAsForm", "application/x-www-form-urlencoded", sampleJSON, ""},
		{"QueryString", "", "", "&" + sampleForm},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rs, err := parse(t, tc.contentType, tc.body, tc.query)
			require.NoError(t, err)
			require.Equal(t, []providers.Receipt{singleReceipt()}, rs)
		})
	}
}

func multipartSample(t *testing.T) (body, contentType string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, kv := range [][2]string{{"smUuid", sampleUUID}, {"mobile", "13700000000"}, {"deliverResult", "DELIVRD"}, {"deliverTime", "2018-01-01 18:00:00"}} {
		require.NoError(t, mw.WriteField(kv[0], kv[1]))
	}
	require.NoError(t, mw.Close())
	return buf.String(), mw.FormDataContentType()
}

func TestParseReceiptsVariants(t *testing.T) {
	t.Parallel()

	t.Run("BatchReportHasBothKeys", func(t *testing.T) {
		t.Parallel()
		rs, err := parse(t, "application/form-data", sampleForm+"&batchId="+sampleBatch, "")
		require.NoError(t, err)
		byBatch := singleReceipt()
		byBatch.ProviderMessageID = BatchMessageID(sampleBatch, "13700000000")
		require.Equal(t, []providers.Receipt{byBatch, singleReceipt()}, rs)
	})

	t.Run("BatchReportWithoutSmUUID", func(t *testing.T) {
		t.Parallel()
		rs, err := parse(t, "", "batchId=b1&mobile=%2B8613700000000&deliverResult=UNDELIV", "")
		require.NoError(t, err)
		require.Equal(t, []providers.Receipt{{
			ProviderMessageID: "b1:13700000000", Receiver: "+8613700000000",
			Status: providers.ReceiptFailed, Code: "UNDELIV", At: fixedNow(),
		}}, rs)
	})

	t.Run("Statuses", func(t *testing.T) {
		t.Parallel()
		for result, status := range map[string]providers.ReceiptStatus{
			"DELIVRD": providers.ReceiptDelivered,
			"delivrd": providers.ReceiptDelivered,
			"REJECTD": providers.ReceiptRejected,
			"UNDELIV": providers.ReceiptFailed,
			"EXPIRED": providers.ReceiptFailed,
			"MK:0001": providers.ReceiptFailed,
		} {
			rs, err := parse(t, "application/json", `{"smUuid":"u","deliverResult":"`+result+`"}`, "")
			require.NoError(t, err, result)
			require.Equal(t, status, rs[0].Status, result)
			require.Equal(t, result, rs[0].Code)
			require.Empty(t, rs[0].Receiver)
		}
	})

	t.Run("TimeForms", func(t *testing.T) {
		t.Parallel()
		for _, v := range []string{"1514800800", "1514800800000", "2018-01-01T18:00:00+08:00"} {
			rs, err := parse(t, "application/json", `{"smUuid":"u","deliverResult":"DELIVRD","deliverTime":"`+v+`"}`, "")
			require.NoError(t, err, v)
			require.Equal(t, sampleAt(), rs[0].At, v)
		}
	})

	t.Run("NumbersAsJSONNumbers", func(t *testing.T) {
		t.Parallel()
		rs, err := parse(t, "application/json", `{"smUuid":"u","mobile":13700000000,"batchId":42,"deliverResult":"DELIVRD"}`, "")
		require.NoError(t, err)
		require.Equal(t, "42:13700000000", rs[0].ProviderMessageID)
	})

	t.Run("SeveralReports", func(t *testing.T) {
		t.Parallel()
		rs, err := parse(t, "application/json", `[{"smUuid":"a","deliverResult":"DELIVRD"},{"smUuid":"b","deliverResult":"UNDELIV"}]`, "")
		require.NoError(t, err)
		require.Len(t, rs, 2)
		require.Equal(t, "b", rs[1].ProviderMessageID)
	})
}

func TestParseReceiptsInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, contentType, body, want string
	}{
		{"Empty", "", "", "empty body"},
		{"NoIDs", "", "mobile=13700000000&deliverResult=DELIVRD", "neither smUuid nor batchId"},
		{"BatchWithoutMobile", "", "batchId=b&deliverResult=DELIVRD", "batchId without a readable mobile"},
		{"NoResult", "", "smUuid=u&mobile=13700000000", "deliverResult is missing"},
		{"BadTime", "", "smUuid=u&deliverResult=DELIVRD&deliverTime=yesterday", `deliverTime "yesterday"`},
		{"BadJSON", "application/json", `{"smUuid":`, "decode JSON object"},
		{"EmptyArray", "application/json", `[]`, "holds no report"},
		{"BadForm", "", "%zz", "decode form body"},
		{"SecondReportBad", "application/json", `[{"smUuid":"a","deliverResult":"DELIVRD"},{"smUuid":"b"}]`, "report 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := parse(t, tc.contentType, tc.body, "")
			require.ErrorContains(t, err, tc.want)
		})
	}

	t.Run("TooLarge", func(t *testing.T) {
		t.Parallel()
		_, err := parse(t, "", sampleForm+"&x="+strings.Repeat("a", maxReceiptBody), "")
		require.ErrorContains(t, err, "larger than")
	})
}

func TestAcknowledge(t *testing.T) {
	t.Parallel()
	h := New().ReceiptHandler()

	w := httptest.NewRecorder()
	h.Acknowledge(w, true)
	require.Equal(t, http.StatusOK, w.Code)
	require.Equal(t, "application/json;charset=utf-8", w.Header().Get("Content-Type"))
	require.JSONEq(t, `{"code":"0","msg":"SUCCESS"}`, w.Body.String())

	w = httptest.NewRecorder()
	h.Acknowledge(w, false)
	require.Equal(t, http.StatusInternalServerError, w.Code)
	require.JSONEq(t, `{"code":"1","msg":"FAIL"}`, w.Body.String())
}

// TestReceiptRoundTrip has the fake push its reports, in each format, to a
// server using the provider's receipt handler.
func TestReceiptRoundTrip(t *testing.T) {
	t.Parallel()
	for name, format := range map[string]zrwinfofake.PushFormat{
		"Form":      zrwinfofake.PushForm,
		"Multipart": zrwinfofake.PushMultipart,
		"JSON":      zrwinfofake.PushJSON,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p := New()
			var mu sync.Mutex
			var got []providers.Receipt
			cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				h := p.ReceiptHandler()
				rs, err := h.ParseReceipts(r)
				if err == nil {
					mu.Lock()
					got = append(got, rs...)
					mu.Unlock()
				}
				h.Acknowledge(w, err == nil)
			}))
			t.Cleanup(cb.Close)

			fake := zrwinfofake.New(t, zrwinfofake.WithPushFormat(format))
			fake.SetCallback(cb.URL + "/callbacks/zrwinfo/7?token=secret")
			fake.AutoReceipt(10*time.Millisecond, zrwinfofake.Delivered)
			s, err := NewSender(fakeConfig(fake))
			require.NoError(t, err)

			res, err := s.Send(context.Background(), message())
			require.NoError(t, err)
			outcomes, err := s.SendBatch(context.Background(), batchOf("13722223333"))
			require.NoError(t, err)

			require.Eventually(t, func() bool { return len(fake.Pushes()) == 2 }, 5*time.Second, 10*time.Millisecond)
			for _, push := range fake.Pushes() {
				require.NoError(t, push.Err)
				require.Equal(t, http.StatusOK, push.StatusCode)
			}
			mu.Lock()
			defer mu.Unlock()
			keys := map[string]providers.Receipt{}
			for _, r := range got {
				keys[r.ProviderMessageID] = r
			}
			single, ok := keys[res.ProviderMessageID]
			require.True(t, ok, "single send matched by smUuid")
			require.Equal(t, providers.ReceiptDelivered, single.Status)
			require.Equal(t, receiver, single.Receiver)
			require.WithinDuration(t, time.Now(), single.At, time.Minute)
			batch, ok := keys[outcomes[0].Result.ProviderMessageID]
			require.True(t, ok, "batch send matched by batchId and mobile")
			require.Equal(t, "+8613722223333", batch.Receiver)
		})
	}
}

func TestReceiptPushRetriedOnRefusal(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	calls := 0
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		calls++
		ok := calls > 1
		mu.Unlock()
		New().ReceiptHandler().Acknowledge(w, ok)
	}))
	t.Cleanup(cb.Close)
	fake := zrwinfofake.New(t, zrwinfofake.WithPushRetryInterval(time.Millisecond))
	fake.SetCallback(cb.URL)
	s, err := NewSender(fakeConfig(fake))
	require.NoError(t, err)
	res, err := s.Send(context.Background(), message())
	require.NoError(t, err)
	require.NoError(t, fake.PushReceipt(res.ProviderMessageID, zrwinfofake.Delivered))
	pushes := fake.Pushes()
	require.Len(t, pushes, 2)
	require.Equal(t, http.StatusInternalServerError, pushes[0].StatusCode)
	require.Error(t, pushes[0].Err)
	require.NoError(t, pushes[1].Err)
}
