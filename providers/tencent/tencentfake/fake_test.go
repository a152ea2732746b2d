package tencentfake

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"
	sms "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/sms/v20210111"
)

// capturedRequest is a request as the SDK put it on the wire.
type capturedRequest struct {
	method string
	url    string
	header http.Header
	body   []byte
}

// capturingTransport records every request before passing it on.
type capturingTransport struct {
	mu   sync.Mutex
	reqs []capturedRequest
}

func (c *capturingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	// The SDK sets headers under non-canonical keys ("X-TC-Action"); the
	// server sees them canonicalized, and so should the replay.
	header := http.Header{}
	for k, vs := range r.Header {
		for _, v := range vs {
			header.Add(k, v)
		}
	}
	c.mu.Lock()
	c.reqs = append(c.reqs, capturedRequest{method: r.Method, url: r.URL.String(), header: header, body: body})
	c.mu.Unlock()
	r.Body = io.NopCloser(bytes.NewReader(body))
	return http.DefaultTransport.RoundTrip(r)
}

func (c *capturingTransport) last(t *testing.T) capturedRequest {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	require.NotEmpty(t, c.reqs)
	return c.reqs[len(c.reqs)-1]
}

func sdkClient(t *testing.T, fake *Server, secretID, secretKey string) (*sms.Client, *capturingTransport) {
	t.Helper()
	cpf := profile.NewClientProfile()
	cpf.HttpProfile.Endpoint = fake.Endpoint()
	cpf.HttpProfile.Scheme = "http"
	cpf.HttpProfile.ReqTimeout = 5
	cpf.DisableRegionBreaker = true
	client, err := sms.NewClient(common.NewCredential(secretID, secretKey), "ap-guangzhou", cpf)
	require.NoError(t, err)
	ct := &capturingTransport{}
	client.WithHttpTransport(ct)
	return client, ct
}

func sendRequest(phones ...string) *sms.SendSmsRequest {
	req := sms.NewSendSmsRequest()
	req.PhoneNumberSet = common.StringPtrs(phones)
	req.SmsSdkAppId = common.StringPtr(DefaultSdkAppID)
	req.TemplateId = common.StringPtr("1234567")
	req.SignName = common.StringPtr("Herald")
	req.TemplateParamSet = common.StringPtrs([]string{"4711", "5"})
	req.SessionContext = common.StringPtr("task-1")
	return req
}

// replay sends a captured request again, after edit, and decodes the
// answer's Response object.
func replay(t *testing.T, c capturedRequest, edit func(r *http.Request)) map[string]any {
	t.Helper()
	req, err := http.NewRequest(c.method, c.url, bytes.NewReader(c.body))
	require.NoError(t, err)
	req.Header = c.header.Clone()
	if edit != nil {
		edit(req)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var out struct {
		Response map[string]any
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return out.Response
}

func errorCode(resp map[string]any) string {
	e, ok := resp["Error"].(map[string]any)
	if !ok {
		return ""
	}
	code, _ := e["Code"].(string)
	return code
}

// resign recomputes the Authorization of r for body and timestamp, with the
// given credential scope date, as a client that gets everything else right.
func resign(r *http.Request, body []byte, secretID, secretKey, date string, ts int64) {
	tsText := strconv.FormatInt(ts, 10)
	r.Header.Set("X-TC-Timestamp", tsText)
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	headers := []string{"content-type", "host"}
	sig := signature(secretKey, date, tsText, canonicalRequest(r, headers, body))
	r.Header.Set("Authorization", algorithm+" Credential="+secretID+"/"+date+"/sms/tc3_request, SignedHeaders=content-type;host, Signature="+sig)
}

func TestSDKRequestsVerify(t *testing.T) {
	t.Parallel()
	fake := New(t)
	client, ct := sdkClient(t, fake, DefaultSecretID, DefaultSecretKey)

	resp, err := client.SendSmsWithContext(context.Background(), sendRequest("+8613711112222"))
	require.NoError(t, err)
	require.Len(t, resp.Response.SendStatusSet, 1)
	st := resp.Response.SendStatusSet[0]
	require.Equal(t, "Ok", *st.Code)
	require.Equal(t, "send success", *st.Message)
	require.Equal(t, "+8613711112222", *st.PhoneNumber)
	require.Equal(t, "CN", *st.IsoCode)
	require.Equal(t, "task-1", *st.SessionContext)
	require.EqualValues(t, 1, *st.Fee)
	require.Regexp(t, `^2433:\d{28}$`, *st.SerialNo)
	require.NotEmpty(t, *resp.Response.RequestId)

	// The signature the SDK computed is the one the fake computes.
	c := ct.last(t)
	req, err := http.NewRequest(c.method, c.url, nil)
	require.NoError(t, err)
	req.Header = c.header
	auth, ok := parseAuthorization(c.header.Get("Authorization"))
	require.True(t, ok)
	require.Equal(t, []string{"content-type", "host"}, auth.signedHeaders)
	require.Equal(t, auth.signature, signature(DefaultSecretKey, auth.date, c.header.Get("X-TC-Timestamp"),
		canonicalRequest(req, auth.signedHeaders, c.body)))

	sent := fake.Sent()
	require.Len(t, sent, 1)
	require.Equal(t, *st.SerialNo, sent[0].SerialNo)
	require.Equal(t, []string{"4711", "5"}, sent[0].TemplateParams)
	require.Equal(t, "Herald", sent[0].SignName)
	require.True(t, sent[0].Answered)
}

func TestSignatureRejected(t *testing.T) {
	t.Parallel()
	fake := New(t)
	client, ct := sdkClient(t, fake, DefaultSecretID, DefaultSecretKey)
	_, err := client.SendSmsWithContext(context.Background(), sendRequest("+8613711112222"))
	require.NoError(t, err)
	captured := ct.last(t)
	ts, err := strconv.ParseInt(captured.header.Get("X-TC-Timestamp"), 10, 64)
	require.NoError(t, err)
	today := time.Unix(ts, 0).UTC().Format(scopeDateForm)

	tests := []struct {
		name string
		edit func(r *http.Request)
		code string
	}{
		{"Replayed", nil, ""},
		{"TamperedBody", func(r *http.Request) {
			body := bytes.Replace(captured.body, []byte("4711"), []byte("4712"), 1)
			r.Body = io.NopCloser(bytes.NewReader(body))
		}, "AuthFailure.SignatureFailure"},
		{"WrongDate", func(r *http.Request) {
			// Signed consistently, but with a scope date that is not the
			// UTC date of the timestamp (a local-time date, say).
			yesterday := time.Unix(ts, 0).UTC().AddDate(0, 0, -1).Format(scopeDateForm)
			resign(r, captured.body, DefaultSecretID, DefaultSecretKey, yesterday, ts)
		}, "AuthFailure.SignatureFailure"},
		{"StaleTimestamp", func(r *http.Request) {
			old := ts - 6*60
			resign(r, captured.body, DefaultSecretID, DefaultSecretKey, time.Unix(old, 0).UTC().Format(scopeDateForm), old)
		}, "AuthFailure.SignatureExpire"},
		{"FutureTimestamp", func(r *http.Request) {
			ahead := ts + 6*60
			resign(r, captured.body, DefaultSecretID, DefaultSecretKey, time.Unix(ahead, 0).UTC().Format(scopeDateForm), ahead)
		}, "AuthFailure.SignatureExpire"},
		{"TimestampChangedAfterSigning", func(r *http.Request) {
			r.Header.Set("X-TC-Timestamp", strconv.FormatInt(ts+1, 10))
		}, "AuthFailure.SignatureFailure"},
		{"WrongKey", func(r *http.Request) {
			resign(r, captured.body, DefaultSecretID, "not-the-key", today, ts)
		}, "AuthFailure.SignatureFailure"},
		{"UnknownSecretID", func(r *http.Request) {
			resign(r, captured.body, "AKIDunknown", DefaultSecretKey, today, ts)
		}, "AuthFailure.SecretIdNotFound"},
		{"WrongHost", func(r *http.Request) { r.Host = "sms.tencentcloudapi.com" }, "AuthFailure.SignatureFailure"},
		{"WrongContentType", func(r *http.Request) {
			r.Header.Set("Content-Type", "application/json; charset=utf-8")
		}, "AuthFailure.SignatureFailure"},
		{"MissingAuthorization", func(r *http.Request) { r.Header.Del("Authorization") }, "AuthFailure.InvalidAuthorization"},
		{"MalformedAuthorization", func(r *http.Request) {
			r.Header.Set("Authorization", "TC3-HMAC-SHA256 Credential=x")
		}, "AuthFailure.InvalidAuthorization"},
		{"MissingAction", func(r *http.Request) { r.Header.Del("X-TC-Action") }, "MissingParameter"},
		{"UnknownAction", func(r *http.Request) { r.Header.Set("X-TC-Action", "DescribeInstances") }, "InvalidAction"},
		{"MissingVersion", func(r *http.Request) { r.Header.Del("X-TC-Version") }, "MissingParameter"},
		{"WrongVersion", func(r *http.Request) { r.Header.Set("X-TC-Version", "2019-07-11") }, "NoSuchVersion"},
		{"MissingRegion", func(r *http.Request) { r.Header.Del("X-TC-Region") }, "MissingParameter"},
		{"UnsupportedRegion", func(r *http.Request) { r.Header.Set("X-TC-Region", "eu-frankfurt") }, "UnsupportedRegion"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp := replay(t, captured, tc.edit)
			require.Equal(t, tc.code, errorCode(resp), "answer: %v", resp)
			require.NotEmpty(t, resp["RequestId"])
		})
	}
}

func TestClockSkew(t *testing.T) {
	t.Parallel()
	fake := New(t, WithClock(func() time.Time { return time.Now().Add(10 * time.Minute) }))
	client, _ := sdkClient(t, fake, DefaultSecretID, DefaultSecretKey)
	_, err := client.SendSmsWithContext(context.Background(), sendRequest("+8613711112222"))
	require.ErrorContains(t, err, "AuthFailure.SignatureExpire")
	require.Empty(t, fake.Sent())
}

func TestSendSmsValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts []Option
		edit func(*sms.SendSmsRequest)
		code string
	}{
		{"UnknownApp", nil, func(r *sms.SendSmsRequest) { r.SmsSdkAppId = common.StringPtr("1400999999") }, "InvalidParameterValue.SdkAppIdNotExist"},
		{"MissingApp", nil, func(r *sms.SendSmsRequest) { r.SmsSdkAppId = nil }, "MissingParameter"},
		{"MissingTemplate", nil, func(r *sms.SendSmsRequest) { r.TemplateId = nil }, "MissingParameter"},
		{"NoNumbers", nil, func(r *sms.SendSmsRequest) { r.PhoneNumberSet = nil }, "MissingParameter.EmptyPhoneNumberSet"},
		{"TooManyNumbers", nil, func(r *sms.SendSmsRequest) {
			r.PhoneNumberSet = make([]*string, 201)
			for i := range r.PhoneNumberSet {
				r.PhoneNumberSet[i] = common.StringPtr("+8613711112222")
			}
		}, "LimitExceeded.PhoneNumberCountLimit"},
		{"MissingSignForMainland", nil, func(r *sms.SendSmsRequest) { r.SignName = nil }, "MissingParameter"},
		{"MixedNumbers", nil, func(r *sms.SendSmsRequest) {
			r.PhoneNumberSet = common.StringPtrs([]string{"+8613711112222", "+14155550123"})
		}, "UnsupportedOperation.ContainDomesticAndInternationalPhoneNumber"},
		{"UnknownTemplate", []Option{WithTemplate("999", 2)}, nil, "FailedOperation.TemplateIncorrectOrUnapproved"},
		{"ParamCount", []Option{WithTemplate("1234567", 1)}, nil, "FailedOperation.TemplateParamSetNotMatchApprovedTemplate"},
		{"UnknownSign", []Option{WithSignName("Other")}, nil, "FailedOperation.SignatureIncorrectOrUnapproved"},
		{"Accepted", []Option{WithTemplate("1234567", 2), WithSignName("Herald")}, nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fake := New(t, tc.opts...)
			client, _ := sdkClient(t, fake, DefaultSecretID, DefaultSecretKey)
			req := sendRequest("+8613711112222")
			if tc.edit != nil {
				tc.edit(req)
			}
			_, err := client.SendSmsWithContext(context.Background(), req)
			if tc.code == "" {
				require.NoError(t, err)
				require.Len(t, fake.Sent(), 1)
				return
			}
			require.ErrorContains(t, err, "Code="+tc.code+",")
			require.Empty(t, fake.Sent())
		})
	}
}

func TestPerNumberResults(t *testing.T) {
	t.Parallel()
	fake := New(t)
	fake.PerNumberCode("13711113333", "FailedOperation.PhoneNumberInBlacklist")
	client, _ := sdkClient(t, fake, DefaultSecretID, DefaultSecretKey)

	resp, err := client.SendSmsWithContext(context.Background(),
		sendRequest("+8613711112222", "+8613711113333", "+86123"))
	require.NoError(t, err)
	set := resp.Response.SendStatusSet
	require.Len(t, set, 3)
	require.Equal(t, "Ok", *set[0].Code)
	require.Equal(t, "FailedOperation.PhoneNumberInBlacklist", *set[1].Code)
	require.Empty(t, *set[1].SerialNo)
	require.EqualValues(t, 0, *set[1].Fee)
	require.Equal(t, "InvalidParameterValue.IncorrectPhoneNumber", *set[2].Code)
	require.Len(t, fake.Sent(), 1)

	fake.PerNumberCode("+8613711113333", "")
	resp, err = client.SendSmsWithContext(context.Background(), sendRequest("+8613711113333"))
	require.NoError(t, err)
	require.Equal(t, "Ok", *resp.Response.SendStatusSet[0].Code)
}

func TestFaults(t *testing.T) {
	t.Parallel()

	t.Run("FailNextQueues", func(t *testing.T) {
		t.Parallel()
		fake := New(t)
		client, _ := sdkClient(t, fake, DefaultSecretID, DefaultSecretKey)
		fake.FailNext(1, "InternalError.Timeout")
		fake.Throttle(1)
		_, err := client.SendSmsWithContext(context.Background(), sendRequest("+8613711112222"))
		require.ErrorContains(t, err, "Code=InternalError.Timeout,")
		_, err = client.SendSmsWithContext(context.Background(), sendRequest("+8613711112222"))
		require.ErrorContains(t, err, "Code=RequestLimitExceeded,")
		_, err = client.SendSmsWithContext(context.Background(), sendRequest("+8613711112222"))
		require.NoError(t, err)
		require.Len(t, fake.Sent(), 1)
	})

	t.Run("Down", func(t *testing.T) {
		t.Parallel()
		fake := New(t)
		client, _ := sdkClient(t, fake, DefaultSecretID, DefaultSecretKey)
		fake.Down()
		_, err := client.SendSmsWithContext(context.Background(), sendRequest("+8613711112222"))
		require.ErrorContains(t, err, "ClientError.ParseJsonError")
		fake.Up()
		_, err = client.SendSmsWithContext(context.Background(), sendRequest("+8613711112222"))
		require.NoError(t, err)
		require.Len(t, fake.Sent(), 1)
	})

	t.Run("HangRecordsTheSend", func(t *testing.T) {
		t.Parallel()
		fake := New(t)
		client, _ := sdkClient(t, fake, DefaultSecretID, DefaultSecretKey)
		fake.Hang(1)
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		_, err := client.SendSmsWithContext(ctx, sendRequest("+8613711112222"))
		require.ErrorContains(t, err, "ClientError.NetworkError")
		sent := fake.Sent()
		require.Len(t, sent, 1)
		require.False(t, sent[0].Answered)
	})

	t.Run("DropRecordsTheSend", func(t *testing.T) {
		t.Parallel()
		fake := New(t)
		client, _ := sdkClient(t, fake, DefaultSecretID, DefaultSecretKey)
		fake.Drop(1)
		_, err := client.SendSmsWithContext(context.Background(), sendRequest("+8613711112222"))
		require.ErrorContains(t, err, "ClientError.NetworkError")
		require.Len(t, fake.Sent(), 1)
	})

	t.Run("CloseReleasesHang", func(t *testing.T) {
		t.Parallel()
		fake := New(t)
		client, _ := sdkClient(t, fake, DefaultSecretID, DefaultSecretKey)
		fake.Hang(1)
		done := make(chan error, 1)
		go func() {
			_, err := client.SendSmsWithContext(context.Background(), sendRequest("+8613711112222"))
			done <- err
		}()
		require.Eventually(t, func() bool { return len(fake.Sent()) == 1 }, 5*time.Second, 10*time.Millisecond)
		fake.Close()
		select {
		case err := <-done:
			require.Error(t, err)
		case <-time.After(5 * time.Second):
			t.Fatal("send still held after Close")
		}
	})
}

func TestReceipts(t *testing.T) {
	t.Parallel()

	type push struct {
		body []map[string]string
	}
	var mu sync.Mutex
	var got []push
	failFirst := true
	callback := func(w http.ResponseWriter, r *http.Request) {
		var body []map[string]string
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		got = append(got, push{body: body})
		if failFirst {
			failFirst = false
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, `{"result":1,"errmsg":"busy"}`)
			return
		}
		_, _ = io.WriteString(w, `{"result":0,"errmsg":"OK"}`)
	}
	cbServer := newCallbackServer(t, callback)

	fake := New(t, WithPushRetryInterval(10*time.Millisecond))
	fake.SetCallback(cbServer)
	fake.AutoReceipt(0, Success)
	client, _ := sdkClient(t, fake, DefaultSecretID, DefaultSecretKey)

	resp, err := client.SendSmsWithContext(context.Background(), sendRequest("+8613711112222"))
	require.NoError(t, err)
	serial := *resp.Response.SendStatusSet[0].SerialNo

	// The first push is refused, the retry is taken.
	require.Eventually(t, func() bool { return len(fake.Pushes()) == 2 }, 5*time.Second, 10*time.Millisecond)
	pushes := fake.Pushes()
	require.Error(t, pushes[0].Err)
	require.NoError(t, pushes[1].Err)
	mu.Lock()
	report := got[1].body
	mu.Unlock()
	require.Len(t, report, 1)
	require.Equal(t, serial, report[0]["sid"])
	require.Equal(t, "SUCCESS", report[0]["report_status"])
	require.Equal(t, "DELIVRD", report[0]["errmsg"])
	require.Equal(t, "86", report[0]["nationcode"])
	require.Equal(t, "13711112222", report[0]["mobile"])
	require.Equal(t, "task-1", report[0]["ext"])
	_, err = time.Parse("2006-01-02 15:04:05", report[0]["user_receive_time"])
	require.NoError(t, err)

	// A later failure report replaces the first one and is pulled once.
	require.NoError(t, fake.PushReceipt(serial, Fail))
	require.Error(t, fake.PushReceipt("2433:nope", Success))

	pull := sms.NewPullSmsSendStatusRequest()
	pull.SmsSdkAppId = common.StringPtr(DefaultSdkAppID)
	pull.Limit = common.Uint64Ptr(100)
	pulled, err := client.PullSmsSendStatusWithContext(context.Background(), pull)
	require.NoError(t, err)
	require.Len(t, pulled.Response.PullSmsSendStatusSet, 1)
	st := pulled.Response.PullSmsSendStatusSet[0]
	require.Equal(t, serial, *st.SerialNo)
	require.Equal(t, "FAIL", *st.ReportStatus)
	require.Equal(t, "+8613711112222", *st.PhoneNumber)
	require.Equal(t, "86", *st.CountryCode)
	require.Equal(t, "13711112222", *st.SubscriberNumber)
	require.Equal(t, "task-1", *st.SessionContext)
	pulled, err = client.PullSmsSendStatusWithContext(context.Background(), pull)
	require.NoError(t, err)
	require.Empty(t, pulled.Response.PullSmsSendStatusSet)

	byPhone := sms.NewPullSmsSendStatusByPhoneNumberRequest()
	byPhone.SmsSdkAppId = common.StringPtr(DefaultSdkAppID)
	byPhone.PhoneNumber = common.StringPtr("+8613711112222")
	byPhone.BeginTime = common.Uint64Ptr(uint64(time.Now().Add(-time.Hour).Unix()))
	byPhone.EndTime = common.Uint64Ptr(uint64(time.Now().Add(time.Minute).Unix()))
	byPhone.Offset = common.Uint64Ptr(0)
	byPhone.Limit = common.Uint64Ptr(100)
	for range 2 { // not consumed
		res, err := client.PullSmsSendStatusByPhoneNumberWithContext(context.Background(), byPhone)
		require.NoError(t, err)
		require.Len(t, res.Response.PullSmsSendStatusSet, 1)
		require.Equal(t, serial, *res.Response.PullSmsSendStatusSet[0].SerialNo)
	}

	byPhone.BeginTime = common.Uint64Ptr(uint64(time.Now().Add(-8 * 24 * time.Hour).Unix()))
	_, err = client.PullSmsSendStatusByPhoneNumberWithContext(context.Background(), byPhone)
	require.ErrorContains(t, err, "InvalidParameterValue.BeginTimeVerifyFail")
	byPhone.BeginTime = common.Uint64Ptr(uint64(time.Now().Add(-time.Hour).Unix()))
	byPhone.Limit = common.Uint64Ptr(101)
	_, err = client.PullSmsSendStatusByPhoneNumberWithContext(context.Background(), byPhone)
	require.ErrorContains(t, err, "InvalidParameterValue.LimitVerifyFail")
}

func newCallbackServer(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL + "/tencent/receipts"
}
