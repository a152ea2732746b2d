package aliyunfake

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	dysms "github.com/alibabacloud-go/dysmsapi-20170525/v4/client"
	util "github.com/alibabacloud-go/tea-utils/v2/service"
	"github.com/alibabacloud-go/tea/tea"
	"github.com/stretchr/testify/require"
)

const (
	phone   = "13711112222"
	phone2  = "13711113333"
	outID   = "task-1"
	tplCode = "SMS_100001"
)

// capturedRequest is a request as the SDK put it on the wire.
type capturedRequest struct {
	method string
	url    string
	header http.Header
	body   []byte
}

// capturingProxy is an HTTP proxy that records every request the SDK sends
// through it and forwards it unchanged. The SDK takes no transport, but it
// does take a proxy, which is how these tests see its real requests.
type capturingProxy struct {
	mu   sync.Mutex
	reqs []capturedRequest
}

func (p *capturingProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	c := capturedRequest{method: r.Method, url: r.URL.String(), header: r.Header.Clone(), body: body}
	p.mu.Lock()
	p.reqs = append(p.reqs, c)
	p.mu.Unlock()
	resp, err := forward(c, nil)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for k, vs := range resp.Header {
		w.Header()[k] = vs
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

func (p *capturingProxy) last(t *testing.T) capturedRequest {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	require.NotEmpty(t, p.reqs)
	return p.reqs[len(p.reqs)-1]
}

// forward sends a captured request again, after edit.
func forward(c capturedRequest, edit func(r *http.Request, body *[]byte)) (*http.Response, error) {
	body := append([]byte(nil), c.body...)
	req, err := http.NewRequest(c.method, c.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header = c.header.Clone()
	req.Header.Del("Proxy-Connection")
	if edit != nil {
		edit(req, &body)
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.ContentLength = int64(len(body))
	return http.DefaultTransport.RoundTrip(req)
}

// answer is a decoded answer of the fake.
type answer struct {
	status int
	body   map[string]any
}

func (a answer) code() string { s, _ := a.body["Code"].(string); return s }

func replay(t *testing.T, c capturedRequest, edit func(r *http.Request, body *[]byte)) answer {
	t.Helper()
	resp, err := forward(c, edit)
	require.NoError(t, err)
	defer resp.Body.Close()
	var body map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	return answer{status: resp.StatusCode, body: body}
}

type clientOptions struct {
	id, secret string
	v1         bool
}

// sdkClient builds the official client pointed at the fake through a
// capturing proxy.
func sdkClient(t *testing.T, fake *Server, o clientOptions) (*dysms.Client, *capturingProxy) {
	t.Helper()
	if o.id == "" {
		o.id, o.secret = DefaultAccessKeyID, DefaultAccessKeySecret
	}
	proxy := &capturingProxy{}
	ps := httptest.NewServer(proxy)
	t.Cleanup(ps.Close)
	cfg := &openapi.Config{
		AccessKeyId:     tea.String(o.id),
		AccessKeySecret: tea.String(o.secret),
		Endpoint:        tea.String(fake.Endpoint()),
		Protocol:        tea.String("http"),
		HttpProxy:       tea.String(ps.URL),
		ReadTimeout:     tea.Int(5000),
	}
	if o.v1 {
		// "v2" is how the SDK spells the RPC HMAC-SHA1 signature.
		cfg.SignatureAlgorithm = tea.String("v2")
	}
	c, err := dysms.NewClient(cfg)
	require.NoError(t, err)
	return c, proxy
}

func rt() *util.RuntimeOptions { return &util.RuntimeOptions{Autoretry: tea.Bool(false)} }

func sendRequest(phones string) *dysms.SendSmsRequest {
	return &dysms.SendSmsRequest{
		PhoneNumbers:  tea.String(phones),
		SignName:      tea.String("Herald"),
		TemplateCode:  tea.String(tplCode),
		TemplateParam: tea.String(`{"code":"4711","name":"A & B*~ c"}`),
		OutId:         tea.String(outID),
	}
}

func batchRequest() *dysms.SendBatchSmsRequest {
	return &dysms.SendBatchSmsRequest{
		PhoneNumberJson:   tea.String(`["` + phone + `","+86` + phone2 + `"]`),
		SignNameJson:      tea.String(`["Herald","Other"]`),
		TemplateCode:      tea.String(tplCode),
		TemplateParamJson: tea.String(`[{"code":"1"},{"code":"2"}]`),
	}
}

func sdkCode(t *testing.T, err error) (string, int) {
	t.Helper()
	var e *tea.SDKError
	require.True(t, errors.As(err, &e), "not an SDK error: %v", err)
	return tea.StringValue(e.Code), tea.IntValue(e.StatusCode)
}

func TestSDKSendSms(t *testing.T) {
	t.Parallel()
	for _, v1 := range []bool{false, true} {
		name := map[bool]string{false: "V3", true: "V1"}[v1]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fake := New(t)
			c, _ := sdkClient(t, fake, clientOptions{v1: v1})
			resp, err := c.SendSmsWithOptions(sendRequest(phone+","+phone2), rt())
			require.NoError(t, err)
			require.Equal(t, "OK", tea.StringValue(resp.Body.Code))
			require.Equal(t, "OK", tea.StringValue(resp.Body.Message))
			biz := tea.StringValue(resp.Body.BizId)
			require.Regexp(t, `^[1-9][0-9]{17}\^0$`, biz)
			require.NotEmpty(t, tea.StringValue(resp.Body.RequestId))

			sent := fake.Sent()
			require.Len(t, sent, 2)
			want := map[string]string{"code": "4711", "name": "A & B*~ c"}
			for i, p := range []string{phone, phone2} {
				require.Equal(t, "SendSms", sent[i].Action)
				require.Equal(t, biz, sent[i].BizID)
				require.Equal(t, p, sent[i].PhoneNumber)
				require.Equal(t, "Herald", sent[i].SignName)
				require.Equal(t, tplCode, sent[i].TemplateCode)
				require.Equal(t, want, sent[i].TemplateParam)
				require.Equal(t, outID, sent[i].OutID)
				require.True(t, sent[i].Answered)
				require.Equal(t, DefaultAccessKeyID, sent[i].AccessKeyID)
			}
			wantSig := SignedV3
			if v1 {
				wantSig = SignedV1
			}
			require.Equal(t, wantSig, sent[0].SignedWith)
		})
	}
}

func TestSDKSendBatchSms(t *testing.T) {
	t.Parallel()
	for _, v1 := range []bool{false, true} {
		name := map[bool]string{false: "V3", true: "V1"}[v1]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fake := New(t)
			c, proxy := sdkClient(t, fake, clientOptions{v1: v1})
			resp, err := c.SendBatchSmsWithOptions(batchRequest(), rt())
			require.NoError(t, err)
			require.Equal(t, "OK", tea.StringValue(resp.Body.Code))
			// The numbers travel in a form body, which the signature covers.
			require.Contains(t, string(proxy.last(t).body), "PhoneNumberJson=")

			sent := fake.Sent()
			require.Len(t, sent, 2)
			require.Equal(t, "SendBatchSms", sent[0].Action)
			require.Equal(t, sent[0].BizID, sent[1].BizID)
			require.Equal(t, "Other", sent[1].SignName)
			require.Equal(t, "+86"+phone2, sent[1].PhoneNumber)
			require.Equal(t, map[string]string{"code": "2"}, sent[1].TemplateParam)
			require.Empty(t, sent[0].OutID)
		})
	}
}

// TestSignatureNegatives replays real SDK requests with one thing wrong
// each time.
func TestSignatureNegatives(t *testing.T) {
	t.Parallel()

	capture := func(t *testing.T, v1, batch bool) (*Server, capturedRequest) {
		t.Helper()
		fake := New(t)
		c, proxy := sdkClient(t, fake, clientOptions{v1: v1})
		var err error
		if batch {
			_, err = c.SendBatchSmsWithOptions(batchRequest(), rt())
		} else {
			_, err = c.SendSmsWithOptions(sendRequest(phone), rt())
		}
		require.NoError(t, err)
		return fake, proxy.last(t)
	}
	setQuery := func(name, value string) func(r *http.Request, _ *[]byte) {
		return func(r *http.Request, _ *[]byte) {
			q := r.URL.Query()
			q.Set(name, value)
			r.URL.RawQuery = q.Encode()
		}
	}

	tests := []struct {
		name   string
		v1     bool
		batch  bool
		edit   func(r *http.Request, body *[]byte)
		status int
		code   string
	}{
		{"V3Replay", false, false, nil, 400, "SignatureNonceUsed"},
		{"V3ChangedNumber", false, false, func(r *http.Request, _ *[]byte) {
			setQuery("PhoneNumbers", phone2)(r, nil)
			r.Header.Set("x-acs-signature-nonce", "fresh-nonce")
		}, 400, "SignatureDoesNotMatch"},
		{"V3ChangedBody", false, true, func(r *http.Request, body *[]byte) {
			*body = bytes.Replace(*body, []byte("Herald"), []byte("Hacked"), 1)
			r.Header.Set("x-acs-signature-nonce", "fresh-nonce")
		}, 400, "SignatureDoesNotMatch"},
		{"V3ChangedHost", false, false, func(r *http.Request, _ *[]byte) {
			r.Host = "dysmsapi.aliyuncs.com"
			r.Header.Set("x-acs-signature-nonce", "fresh-nonce")
		}, 400, "SignatureDoesNotMatch"},
		{"V3ChangedAction", false, false, func(r *http.Request, _ *[]byte) {
			r.Header.Set("x-acs-action", "QuerySendDetails")
			r.Header.Set("x-acs-signature-nonce", "fresh-nonce")
		}, 400, "SignatureDoesNotMatch"},
		{"V3UnsignedHeader", false, false, func(r *http.Request, _ *[]byte) {
			r.Header.Set("x-acs-extra", "1")
		}, 400, "IncompleteSignature"},
		{"V3NoAuthorization", false, false, func(r *http.Request, _ *[]byte) {
			r.Header.Del("Authorization")
		}, 400, "MissingSignature"},
		{"V3MalformedAuthorization", false, false, func(r *http.Request, _ *[]byte) {
			r.Header.Set("Authorization", "ACS3-HMAC-SHA256 Credential="+DefaultAccessKeyID)
		}, 400, "IncompleteSignature"},
		{"V3OldDate", false, false, func(r *http.Request, _ *[]byte) {
			r.Header.Set("x-acs-date", time.Now().UTC().Add(-20*time.Minute).Format(timestampForm))
		}, 400, "InvalidTimeStamp.Expired"},
		{"V3WrongVersion", false, false, func(r *http.Request, _ *[]byte) {
			r.Header.Set("x-acs-version", "2018-01-01")
		}, 400, "InvalidVersion"},
		{"V3UnknownAction", false, false, func(r *http.Request, _ *[]byte) {
			r.Header.Set("x-acs-action", "DeleteEverything")
		}, 404, "InvalidAction.NotFound"},
		{"V1Replay", true, false, nil, 400, "SignatureNonceUsed"},
		{"V1ChangedNumber", true, false, func(r *http.Request, _ *[]byte) {
			setQuery("PhoneNumbers", phone2)(r, nil)
			setQuery("SignatureNonce", "fresh-nonce")(r, nil)
		}, 400, "SignatureDoesNotMatch"},
		{"V1ChangedBody", true, true, func(r *http.Request, body *[]byte) {
			*body = bytes.Replace(*body, []byte("Herald"), []byte("Hacked"), 1)
			setQuery("SignatureNonce", "fresh-nonce")(r, nil)
		}, 400, "SignatureDoesNotMatch"},
		{"V1NoSignature", true, false, func(r *http.Request, _ *[]byte) {
			q := r.URL.Query()
			q.Del("Signature")
			r.URL.RawQuery = q.Encode()
		}, 400, "MissingSignature"},
		{"V1OldTimestamp", true, false, setQuery("Timestamp", time.Now().UTC().Add(-time.Hour).Format(timestampForm)), 400, "InvalidTimeStamp.Expired"},
		{"V1UnknownKey", true, false, func(r *http.Request, _ *[]byte) {
			setQuery("AccessKeyId", "LTAIunknown")(r, nil)
		}, 404, "InvalidAccessKeyId.NotFound"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fake, c := capture(t, tc.v1, tc.batch)
			a := replay(t, c, tc.edit)
			require.Equal(t, tc.status, a.status, "answer: %v", a.body)
			require.Equal(t, tc.code, a.code(), "answer: %v", a.body)
			require.NotEmpty(t, a.body["RequestId"])
			require.Equal(t, hostID, a.body["HostId"])
			require.Len(t, fake.Sent(), 2-boolInt(!tc.batch), "only the captured send went through")
		})
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestSDKCredentials(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		o          clientOptions
		code       string
		httpStatus int
	}{
		{"WrongSecretV3", clientOptions{id: DefaultAccessKeyID, secret: "wrong"}, "SignatureDoesNotMatch", 400},
		{"UnknownKeyV3", clientOptions{id: "LTAIunknown", secret: DefaultAccessKeySecret}, "InvalidAccessKeyId.NotFound", 404},
		{"WrongSecretV1", clientOptions{id: DefaultAccessKeyID, secret: "wrong", v1: true}, "SignatureDoesNotMatch", 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fake := New(t)
			c, _ := sdkClient(t, fake, tc.o)
			_, err := c.SendSmsWithOptions(sendRequest(phone), rt())
			code, status := sdkCode(t, err)
			require.Equal(t, tc.code, code)
			require.Equal(t, tc.httpStatus, status)
			require.Empty(t, fake.Sent())
		})
	}

	t.Run("ExtraCredential", func(t *testing.T) {
		t.Parallel()
		fake := New(t, WithCredential("LTAIsecond", "second-secret"))
		c, _ := sdkClient(t, fake, clientOptions{id: "LTAIsecond", secret: "second-secret"})
		_, err := c.SendSmsWithOptions(sendRequest(phone), rt())
		require.NoError(t, err)
		require.Equal(t, "LTAIsecond", fake.Sent()[0].AccessKeyID)
	})
}

func TestSendValidation(t *testing.T) {
	t.Parallel()
	opts := []Option{WithTemplate(tplCode, "Your code is ${code}, valid ${minutes} minutes."), WithSignName("Herald")}
	tests := []struct {
		name   string
		edit   func(r *dysms.SendSmsRequest)
		status int
		code   string
	}{
		{"MissingPhoneNumbers", func(r *dysms.SendSmsRequest) { r.PhoneNumbers = nil }, 400, "MissingPhoneNumbers"},
		{"MissingSignName", func(r *dysms.SendSmsRequest) { r.SignName = nil }, 400, "MissingSignName"},
		{"MissingTemplateCode", func(r *dysms.SendSmsRequest) { r.TemplateCode = nil }, 400, "MissingTemplateCode"},
		{"BadNumber", func(r *dysms.SendSmsRequest) { r.PhoneNumbers = tea.String("12345") }, 200, "isv.MOBILE_NUMBER_ILLEGAL"},
		{"OneBadNumberOfTwo", func(r *dysms.SendSmsRequest) { r.PhoneNumbers = tea.String(phone + ",abc") }, 200, "isv.MOBILE_NUMBER_ILLEGAL"},
		{"TooManyNumbers", func(r *dysms.SendSmsRequest) {
			r.PhoneNumbers = tea.String(strings.Repeat(phone+",", 1000) + phone)
		}, 200, "isv.MOBILE_COUNT_OVER_LIMIT"},
		{"UnknownTemplate", func(r *dysms.SendSmsRequest) { r.TemplateCode = tea.String("SMS_999") }, 200, "isv.SMS_TEMPLATE_ILLEGAL"},
		{"UnknownSignature", func(r *dysms.SendSmsRequest) { r.SignName = tea.String("Other") }, 200, "isv.SMS_SIGNATURE_ILLEGAL"},
		{"NumberValue", func(r *dysms.SendSmsRequest) { r.TemplateParam = tea.String(`{"code":4711,"minutes":"5"}`) }, 200, "isv.INVALID_JSON_PARAM"},
		{"NotJSON", func(r *dysms.SendSmsRequest) { r.TemplateParam = tea.String(`code=4711`) }, 200, "isv.INVALID_JSON_PARAM"},
		{"MissingVariable", func(r *dysms.SendSmsRequest) { r.TemplateParam = tea.String(`{"code":"4711"}`) }, 200, "isv.TEMPLATE_MISSING_PARAMETERS"},
		{"LongOutID", func(r *dysms.SendSmsRequest) { r.OutId = tea.String(strings.Repeat("x", 257)) }, 200, "isv.INVALID_PARAMETERS"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fake := New(t, opts...)
			c, _ := sdkClient(t, fake, clientOptions{})
			req := sendRequest(phone)
			req.TemplateParam = tea.String(`{"code":"4711","minutes":"5"}`)
			tc.edit(req)
			resp, err := c.SendSmsWithOptions(req, rt())
			if tc.status == 200 {
				require.NoError(t, err)
				require.Equal(t, tc.code, tea.StringValue(resp.Body.Code))
				require.NotEmpty(t, tea.StringValue(resp.Body.Message))
				require.Nil(t, resp.Body.BizId)
			} else {
				code, status := sdkCode(t, err)
				require.Equal(t, tc.code, code)
				require.Equal(t, tc.status, status)
			}
			require.Empty(t, fake.Sent())
		})
	}

	t.Run("RenderedContent", func(t *testing.T) {
		t.Parallel()
		fake := New(t, opts...)
		c, _ := sdkClient(t, fake, clientOptions{})
		req := sendRequest("+86" + phone)
		req.TemplateParam = tea.String(`{"code":"4711","minutes":"5"}`)
		_, err := c.SendSmsWithOptions(req, rt())
		require.NoError(t, err)
		require.Equal(t, "【Herald】Your code is 4711, valid 5 minutes.", fake.Sent()[0].Content)
	})
}

func TestBatchValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		edit func(r *dysms.SendBatchSmsRequest)
		code string
	}{
		{"SignCountMismatch", func(r *dysms.SendBatchSmsRequest) { r.SignNameJson = tea.String(`["Herald"]`) }, "isv.INVALID_PARAMETERS"},
		{"ParamCountMismatch", func(r *dysms.SendBatchSmsRequest) { r.TemplateParamJson = tea.String(`[{"code":"1"}]`) }, "isv.INVALID_JSON_PARAM"},
		{"ParamNotString", func(r *dysms.SendBatchSmsRequest) { r.TemplateParamJson = tea.String(`[{"code":"1"},{"code":2}]`) }, "isv.INVALID_JSON_PARAM"},
		{"NumbersNotArray", func(r *dysms.SendBatchSmsRequest) { r.PhoneNumberJson = tea.String(phone) }, "isv.INVALID_PARAMETERS"},
		{"TooMany", func(r *dysms.SendBatchSmsRequest) {
			phones := make([]string, 101)
			signs := make([]string, 101)
			for i := range phones {
				phones[i], signs[i] = phone, "Herald"
			}
			pj, _ := json.Marshal(phones)
			sj, _ := json.Marshal(signs)
			r.PhoneNumberJson, r.SignNameJson, r.TemplateParamJson = tea.String(string(pj)), tea.String(string(sj)), nil
		}, "isv.MOBILE_COUNT_OVER_LIMIT"},
		{"BadNumber", func(r *dysms.SendBatchSmsRequest) { r.PhoneNumberJson = tea.String(`["` + phone + `","999"]`) }, "isv.MOBILE_NUMBER_ILLEGAL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fake := New(t)
			c, _ := sdkClient(t, fake, clientOptions{})
			req := batchRequest()
			tc.edit(req)
			resp, err := c.SendBatchSmsWithOptions(req, rt())
			require.NoError(t, err)
			require.Equal(t, tc.code, tea.StringValue(resp.Body.Code))
			require.Empty(t, fake.Sent())
		})
	}

	t.Run("MissingPhoneNumberJson", func(t *testing.T) {
		t.Parallel()
		fake := New(t)
		c, _ := sdkClient(t, fake, clientOptions{})
		req := batchRequest()
		req.PhoneNumberJson = nil
		_, err := c.SendBatchSmsWithOptions(req, rt())
		code, status := sdkCode(t, err)
		require.Equal(t, "MissingPhoneNumberJson", code)
		require.Equal(t, 400, status)
	})
}

func TestControls(t *testing.T) {
	t.Parallel()

	t.Run("FailNextBusinessAndGateway", func(t *testing.T) {
		t.Parallel()
		fake := New(t)
		c, _ := sdkClient(t, fake, clientOptions{})
		fake.FailNext(1, "isv.AMOUNT_NOT_ENOUGH")
		fake.FailNext(1, "InternalError")
		fake.Throttle(1)
		fake.FailNext(1, "ServiceUnavailable")

		resp, err := c.SendSmsWithOptions(sendRequest(phone), rt())
		require.NoError(t, err)
		require.Equal(t, "isv.AMOUNT_NOT_ENOUGH", tea.StringValue(resp.Body.Code))
		for _, want := range []struct {
			code   string
			status int
		}{{"InternalError", 500}, {"Throttling.User", 400}, {"ServiceUnavailable", 503}} {
			_, err = c.SendSmsWithOptions(sendRequest(phone), rt())
			code, status := sdkCode(t, err)
			require.Equal(t, want.code, code)
			require.Equal(t, want.status, status)
		}
		_, err = c.SendSmsWithOptions(sendRequest(phone), rt())
		require.NoError(t, err)
		require.Len(t, fake.Sent(), 1)
		require.Equal(t, 5, fake.Requests("SendSms"))
	})

	t.Run("PerNumberCode", func(t *testing.T) {
		t.Parallel()
		fake := New(t)
		c, _ := sdkClient(t, fake, clientOptions{})
		fake.PerNumberCode("+86"+phone2, "isv.BUSINESS_LIMIT_CONTROL")
		resp, err := c.SendBatchSmsWithOptions(batchRequest(), rt())
		require.NoError(t, err)
		require.Equal(t, "isv.BUSINESS_LIMIT_CONTROL", tea.StringValue(resp.Body.Code))
		require.Equal(t, "触发分钟级流控Permits:1", tea.StringValue(resp.Body.Message))
		require.Empty(t, fake.Sent())

		fake.PerNumberCode(phone2, "OK")
		_, err = c.SendBatchSmsWithOptions(batchRequest(), rt())
		require.NoError(t, err)
		require.Len(t, fake.Sent(), 2)
	})

	t.Run("Down", func(t *testing.T) {
		t.Parallel()
		fake := New(t)
		c, _ := sdkClient(t, fake, clientOptions{})
		fake.Down()
		_, err := c.SendSmsWithOptions(sendRequest(phone), rt())
		require.Error(t, err)
		require.Empty(t, fake.Sent())
		fake.Up()
		_, err = c.SendSmsWithOptions(sendRequest(phone), rt())
		require.NoError(t, err)
	})

	t.Run("HangRecordsAndHolds", func(t *testing.T) {
		t.Parallel()
		fake := New(t)
		c, _ := sdkClient(t, fake, clientOptions{})
		fake.Hang(1)
		done := make(chan error, 1)
		go func() {
			_, err := c.SendSmsWithOptions(sendRequest(phone), rt())
			done <- err
		}()
		require.Eventually(t, func() bool { return len(fake.Sent()) == 1 }, 5*time.Second, 10*time.Millisecond)
		require.False(t, fake.Sent()[0].Answered)
		select {
		case err := <-done:
			t.Fatalf("hung request answered: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
		fake.Close()
		require.Error(t, <-done)
	})

	t.Run("Drop", func(t *testing.T) {
		t.Parallel()
		fake := New(t)
		c, _ := sdkClient(t, fake, clientOptions{})
		fake.Drop(1)
		_, err := c.SendSmsWithOptions(sendRequest(phone), rt())
		require.Error(t, err)
		require.Len(t, fake.Sent(), 1)
		require.False(t, fake.Sent()[0].Answered)
	})
}

func TestQuery(t *testing.T) {
	t.Parallel()
	fake := New(t)
	c, _ := sdkClient(t, fake, clientOptions{})
	resp, err := c.SendSmsWithOptions(sendRequest(phone), rt())
	require.NoError(t, err)
	biz := tea.StringValue(resp.Body.BizId)
	_, err = c.SendSmsWithOptions(sendRequest(phone2), rt())
	require.NoError(t, err)
	today := time.Now().In(chinaTime()).Format("20060102")

	query := func(number, date, bizID string, size, page int64) (*dysms.QuerySendDetailsResponseBody, error) {
		req := &dysms.QuerySendDetailsRequest{
			PhoneNumber: tea.String(number), SendDate: tea.String(date),
			PageSize: tea.Int64(size), CurrentPage: tea.Int64(page),
		}
		if bizID != "" {
			req.BizId = tea.String(bizID)
		}
		r, err := c.QuerySendDetailsWithOptions(req, rt())
		if err != nil {
			return nil, err
		}
		return r.Body, nil
	}

	body, err := query("+86"+phone, today, "", 10, 1)
	require.NoError(t, err)
	require.Equal(t, "OK", tea.StringValue(body.Code))
	require.Equal(t, "1", tea.StringValue(body.TotalCount))
	d := body.SmsSendDetailDTOs.SmsSendDetailDTO
	require.Len(t, d, 1)
	require.Equal(t, int64(Waiting), tea.Int64Value(d[0].SendStatus))
	require.Equal(t, outID, tea.StringValue(d[0].OutId))
	require.Equal(t, phone, tea.StringValue(d[0].PhoneNum))
	require.Empty(t, tea.StringValue(d[0].ReceiveDate))

	require.NoError(t, fake.PushReceipt(biz, "+86"+phone, Failed))
	body, err = query(phone, today, biz, 10, 1)
	require.NoError(t, err)
	d = body.SmsSendDetailDTOs.SmsSendDetailDTO
	require.Len(t, d, 1)
	require.Equal(t, int64(Failed), tea.Int64Value(d[0].SendStatus))
	require.Equal(t, "UNDELIV", tea.StringValue(d[0].ErrCode))
	require.NotEmpty(t, tea.StringValue(d[0].ReceiveDate))

	body, err = query(phone, today, "123^0", 10, 1)
	require.NoError(t, err)
	require.Empty(t, body.SmsSendDetailDTOs.SmsSendDetailDTO)

	body, err = query(phone, today, "", 10, 2)
	require.NoError(t, err)
	require.Empty(t, body.SmsSendDetailDTOs.SmsSendDetailDTO, "page 2 of 1 record")

	for _, tc := range []struct {
		name       string
		date       string
		size, page int64
	}{
		{"BadDate", "2025-03-01", 10, 1},
		{"FutureDate", time.Now().In(chinaTime()).AddDate(0, 0, 2).Format("20060102"), 10, 1},
		{"OldDate", time.Now().In(chinaTime()).AddDate(0, 0, -31).Format("20060102"), 10, 1},
		{"PageTooBig", today, 51, 1},
		{"PageZero", today, 10, 0},
	} {
		body, err := query(phone, tc.date, "", tc.size, tc.page)
		require.NoError(t, err, tc.name)
		require.Equal(t, "isv.INVALID_PARAMETERS", tea.StringValue(body.Code), tc.name)
	}

	_, err = c.QuerySendDetailsWithOptions(&dysms.QuerySendDetailsRequest{PhoneNumber: tea.String(phone)}, rt())
	code, status := sdkCode(t, err)
	require.Equal(t, "MissingSendDate", code)
	require.Equal(t, 400, status)
}

func TestPushes(t *testing.T) {
	t.Parallel()

	t.Run("ReceiptRetriedUntilAccepted", func(t *testing.T) {
		t.Parallel()
		var mu sync.Mutex
		var bodies [][]byte
		cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			bodies = append(bodies, b)
			n := len(bodies)
			mu.Unlock()
			if n < 3 {
				w.WriteHeader(http.StatusInternalServerError)
				return
			}
			_, _ = io.WriteString(w, `{"code":0,"msg":"接收成功"}`)
		}))
		t.Cleanup(cb.Close)

		fake := New(t, WithPushRetryInterval(time.Millisecond))
		fake.SetCallback(cb.URL)
		c, _ := sdkClient(t, fake, clientOptions{})
		resp, err := c.SendSmsWithOptions(sendRequest(phone), rt())
		require.NoError(t, err)
		require.NoError(t, fake.PushReceipt(tea.StringValue(resp.Body.BizId), phone, Delivered))

		pushes := fake.Pushes()
		require.Len(t, pushes, 3)
		require.Error(t, pushes[0].Err)
		require.Equal(t, http.StatusInternalServerError, pushes[0].StatusCode)
		require.NoError(t, pushes[2].Err)

		var reports []map[string]any
		require.NoError(t, json.Unmarshal(bodies[2], &reports))
		require.Len(t, reports, 1)
		r := reports[0]
		require.Equal(t, phone, r["phone_number"])
		require.Equal(t, true, r["success"])
		require.Equal(t, "DELIVERED", r["err_code"])
		require.Equal(t, "1", r["sms_size"])
		require.Equal(t, tea.StringValue(resp.Body.BizId), r["biz_id"])
		require.Equal(t, outID, r["out_id"])
		for _, f := range []string{"send_time", "report_time", "err_msg"} {
			require.NotEmpty(t, r[f], f)
		}
	})

	t.Run("AnswerWithoutNumericCodeIsAFailure", func(t *testing.T) {
		t.Parallel()
		cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_, _ = io.WriteString(w, `ok`)
		}))
		t.Cleanup(cb.Close)
		fake := New(t, WithPushRetryInterval(time.Millisecond))
		fake.SetCallback(cb.URL)
		c, _ := sdkClient(t, fake, clientOptions{})
		resp, err := c.SendSmsWithOptions(sendRequest(phone), rt())
		require.NoError(t, err)
		require.Error(t, fake.PushReceipt(tea.StringValue(resp.Body.BizId), phone, Failed))
		require.Len(t, fake.Pushes(), pushAttempts)
	})

	t.Run("AutoReceipt", func(t *testing.T) {
		t.Parallel()
		got := make(chan []byte, 4)
		cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			got <- b
			_, _ = io.WriteString(w, `{"code":0,"msg":"接收成功"}`)
		}))
		t.Cleanup(cb.Close)
		fake := New(t)
		fake.SetCallback(cb.URL)
		fake.AutoReceipt(time.Millisecond, Failed)
		c, _ := sdkClient(t, fake, clientOptions{})
		_, err := c.SendBatchSmsWithOptions(batchRequest(), rt())
		require.NoError(t, err)
		seen := map[string]bool{}
		for range 2 {
			var reports []map[string]any
			require.NoError(t, json.Unmarshal(<-got, &reports))
			require.Equal(t, false, reports[0]["success"])
			seen[reports[0]["phone_number"].(string)] = true
		}
		require.Equal(t, map[string]bool{phone: true, "+86" + phone2: true}, seen)
	})

	t.Run("BatchedReports", func(t *testing.T) {
		t.Parallel()
		got := make(chan []byte, 4)
		cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			got <- b
			_, _ = io.WriteString(w, `{"code":0,"msg":"接收成功"}`)
		}))
		t.Cleanup(cb.Close)
		fake := Start(WithBatchedReports())
		t.Cleanup(fake.Close)
		fake.SetCallback(cb.URL)
		fake.AutoReceipt(time.Millisecond, Delivered)
		c, _ := sdkClient(t, fake, clientOptions{})
		resp, err := c.SendBatchSmsWithOptions(batchRequest(), rt())
		require.NoError(t, err)
		require.Equal(t, 2, fake.SentCount())
		var reports []map[string]any
		require.NoError(t, json.Unmarshal(<-got, &reports))
		require.Len(t, reports, 2, "both numbers of the request in one push")
		seen := map[string]bool{}
		for _, r := range reports {
			require.Equal(t, true, r["success"])
			require.Equal(t, tea.StringValue(resp.Body.BizId), r["biz_id"])
			seen[r["phone_number"].(string)] = true
		}
		require.Equal(t, map[string]bool{phone: true, "+86" + phone2: true}, seen)
		require.Eventually(t, func() bool { return len(fake.Pushes()) == 1 }, time.Second, time.Millisecond)
	})

	t.Run("Reply", func(t *testing.T) {
		t.Parallel()
		got := make(chan []byte, 1)
		cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			got <- b
			_, _ = io.WriteString(w, `{"code":0,"msg":"接收成功"}`)
		}))
		t.Cleanup(cb.Close)
		fake := New(t)
		require.Error(t, fake.PushReply(Reply{PhoneNumber: phone, Content: "TD"}), "no reply callback")
		fake.SetReplyCallback(cb.URL)
		require.NoError(t, fake.PushReply(Reply{PhoneNumber: phone, Content: "TD", SignName: "Herald", DestCode: "1234"}))
		var replies []map[string]any
		require.NoError(t, json.Unmarshal(<-got, &replies))
		require.Len(t, replies, 1)
		require.Equal(t, "TD", replies[0]["content"])
		require.Equal(t, "1234", replies[0]["dest_code"])
		require.NotEmpty(t, replies[0]["sequence_id"])
		require.NotEmpty(t, replies[0]["send_time"])
	})

	t.Run("UnknownMessage", func(t *testing.T) {
		t.Parallel()
		fake := New(t)
		require.Error(t, fake.PushReceipt("1^0", phone, Delivered))
		require.Error(t, fake.PushReceipt("1^0", phone, Waiting))
	})
}

func TestNormalize(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"13711112222":      "13711112222",
		"+8613711112222":   "13711112222",
		"008613711112222":  "13711112222",
		"8613711112222":    "13711112222",
		"85291234567":      "85291234567",
		"+85291234567":     "85291234567",
		" +8613711112222 ": "13711112222", //nolint:gocritic // the spaces around the number are the case under test
	} {
		got, err := normalize(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "abc", "12345", "+86 137"} {
		_, err := normalize(bad)
		require.Error(t, err, bad)
	}
}
