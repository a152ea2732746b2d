package zrwinfofake

import (
	"context"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// reply is a decoded result body.
type reply struct {
	Code    string          `json:"code"`
	Msg     string          `json:"msg"`
	SmUUID  string          `json:"smUuid"`
	BatchID string          `json:"batchId"`
	Data    []pulledReport  `json:"data"`
	Raw     json.RawMessage `json:"-"`
}

func creds() url.Values {
	return url.Values{"accesskey": {DefaultAccessKey}, "secret": {DefaultSecret}}
}

func single(mobile, content string) url.Values {
	v := creds()
	v.Set("sign", "【Herald】")
	v.Set("templateId", "44341")
	v.Set("mobile", mobile)
	v.Set("content", content)
	return v
}

func post(t *testing.T, s *Server, path string, form url.Values) reply {
	t.Helper()
	resp, err := http.PostForm(s.URL()+path, form)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "application/json;charset=UTF-8", resp.Header.Get("Content-Type"))
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var a reply
	require.NoError(t, json.Unmarshal(body, &a), string(body))
	a.Raw = body
	return a
}

func TestCredentials(t *testing.T) {
	t.Parallel()
	s := New(t, WithCredential("ak2", "sk2"))
	tests := []struct {
		name string
		edit func(url.Values)
		code string
	}{
		{"OK", func(url.Values) {}, CodeOK},
		{"OtherPair", func(v url.Values) { v.Set("accesskey", "ak2"); v.Set("secret", "sk2") }, CodeOK},
		{"WrongSecret", func(v url.Values) { v.Set("secret", "wrong") }, CodeBadCredentials},
		{"SecretOfOtherKey", func(v url.Values) { v.Set("secret", "sk2") }, CodeBadCredentials},
		{"UnknownKey", func(v url.Values) { v.Set("accesskey", "nobody") }, CodeBadCredentials},
		{"CaseMatters", func(v url.Values) { v.Set("secret", strings.ToUpper(DefaultSecret)) }, CodeBadCredentials},
		{"SpaceMatters", func(v url.Values) { v.Set("secret", DefaultSecret+" ") }, CodeBadCredentials},
		{"NoSecret", func(v url.Values) { v.Del("secret") }, CodeMissingParam},
		{"NoKey", func(v url.Values) { v.Del("accesskey") }, CodeMissingParam},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			form := single("13711112222", "a##b")
			tc.edit(form)
			a := post(t, s, PathSingleSend, form)
			require.Equal(t, tc.code, a.Code, a.Msg)
			if tc.code == CodeBadCredentials {
				require.Equal(t, "accesskey或secret错误", a.Msg)
			}
		})
	}
}

func TestCredentialsCheckedOnEveryAPI(t *testing.T) {
	t.Parallel()
	s := New(t)
	for _, path := range []string{PathSingleSend, PathBatchSend, PathStatus} {
		form := url.Values{"accesskey": {DefaultAccessKey}, "secret": {"wrong"}}
		require.Equal(t, CodeBadCredentials, post(t, s, path, form).Code, path)
	}
	require.Empty(t, s.Sent())
}

func TestSingleSendValidation(t *testing.T) {
	t.Parallel()
	s := New(t, WithTemplate("44341", 2), WithSign("【Herald】"), WithSign("29183"))
	tests := []struct {
		name string
		edit func(url.Values)
		code string
	}{
		{"OK", func(url.Values) {}, CodeOK},
		{"SignID", func(v url.Values) { v.Set("sign", "29183") }, CodeOK},
		{"DollarSeparator", func(v url.Values) { v.Set("content", "a$$b") }, CodeOK},
		{"NoSign", func(v url.Values) { v.Del("sign") }, CodeMissingParam},
		{"BareSign", func(v url.Values) { v.Set("sign", "Herald") }, CodeBadSign},
		{"UnapprovedSign", func(v url.Values) { v.Set("sign", "【Other】") }, CodeBadSign},
		{"NoTemplate", func(v url.Values) { v.Del("templateId") }, CodeMissingParam},
		{"UnknownTemplate", func(v url.Values) { v.Set("templateId", "1") }, CodeBadTemplate},
		{"TooFewVariables", func(v url.Values) { v.Set("content", "a") }, CodeVariableCount},
		{"NoContent", func(v url.Values) { v.Del("content") }, CodeMissingParam},
		{"NoMobile", func(v url.Values) { v.Del("mobile") }, CodeMissingParam},
		{"TwoMobiles", func(v url.Values) { v.Set("mobile", "13711112222,13722223333") }, CodeBadMobile},
		{"E164Mobile", func(v url.Values) { v.Set("mobile", "+8613711112222") }, CodeBadMobile},
		{"ShortMobile", func(v url.Values) { v.Set("mobile", "1371111222") }, CodeBadMobile},
		{"UnknownParam", func(v url.Values) { v.Set("templateID", "44341") }, CodeBadParam},
		{"RepeatedParam", func(v url.Values) { v.Add("mobile", "13722223333") }, CodeBadParam},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			form := single("13711112222", "a##b")
			tc.edit(form)
			a := post(t, s, PathSingleSend, form)
			require.Equal(t, tc.code, a.Code, a.Msg)
			if tc.code == CodeOK {
				require.Equal(t, "SUCCESS", a.Msg)
				require.Regexp(t, `^\d+_1_0_13711112222_1_[A-Za-z]{7}_1$`, a.SmUUID)
			} else {
				require.Empty(t, a.SmUUID)
				require.NotEmpty(t, a.Msg)
			}
		})
	}
}

func TestSingleSendRecordsAndAnswers(t *testing.T) {
	t.Parallel()
	now := time.Date(2024, 5, 1, 2, 0, 0, 0, time.UTC)
	s := New(t, WithClock(func() time.Time { return now }))
	a := post(t, s, PathSingleSend, single("13711112222", "先生##9:40"))
	require.Equal(t, CodeOK, a.Code)
	require.JSONEq(t, `{"code":"0","msg":"SUCCESS","smUuid":"`+a.SmUUID+`"}`, string(a.Raw))
	require.Equal(t, []SentMessage{{
		SmUUID: a.SmUUID, Mobile: "13711112222", TemplateID: "44341", Sign: "【Herald】",
		Content: "先生##9:40", At: now, Answered: true,
	}}, s.Sent())
}

func TestGetWithQuery(t *testing.T) {
	t.Parallel()
	s := New(t)
	resp, err := http.Get(s.URL() + PathSingleSend + "?" + single("13711112222", "x").Encode())
	require.NoError(t, err)
	defer resp.Body.Close()
	var a reply
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&a))
	require.Equal(t, CodeOK, a.Code)
}

func TestJSONBodyIsNotRead(t *testing.T) {
	t.Parallel()
	s := New(t)
	body, err := json.Marshal(map[string]string{"accesskey": DefaultAccessKey, "secret": DefaultSecret})
	require.NoError(t, err)
	resp, err := http.Post(s.URL()+PathStatus, "application/json", strings.NewReader(string(body)))
	require.NoError(t, err)
	defer resp.Body.Close()
	var a reply
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&a))
	require.Equal(t, CodeMissingParam, a.Code, "parameters only travel form-encoded")
}

func TestBatchSendValidation(t *testing.T) {
	t.Parallel()
	s := New(t, WithTemplate("44341", 1), WithMaxBatch(3))
	batch := func(edit func(url.Values)) url.Values {
		v := creds()
		v.Set("sign", "【Herald】")
		v.Set("templateId", "44341")
		v.Set("mobile", "13711112222,13722223333")
		v.Set("content", "4711")
		edit(v)
		return v
	}
	tests := []struct {
		name string
		edit func(url.Values)
		code string
	}{
		{"MobileList", func(url.Values) {}, CodeOK},
		{"Data", func(v url.Values) {
			v.Del("mobile")
			v.Del("content")
			v.Set("data", `{"13711112222":"a","13722223333":"b"}`)
		}, CodeOK},
		{"Scheduled", func(v url.Values) { v.Set("scheduleSendTime", "2030-01-01 08:00:00") }, CodeOK},
		{"BadSchedule", func(v url.Values) { v.Set("scheduleSendTime", "2030-01-01") }, CodeBadParam},
		{"DataAndMobile", func(v url.Values) { v.Set("data", `{"13711112222":"a"}`) }, CodeBadParam},
		{"BadData", func(v url.Values) { v.Del("mobile"); v.Del("content"); v.Set("data", `["13711112222"]`) }, CodeBadParam},
		{"EmptyData", func(v url.Values) { v.Del("mobile"); v.Del("content"); v.Set("data", `{}`) }, CodeBadParam},
		{"DataBadMobile", func(v url.Values) { v.Del("mobile"); v.Del("content"); v.Set("data", `{"123":"a"}`) }, CodeBadMobile},
		{"DataVariableCount", func(v url.Values) { v.Del("mobile"); v.Del("content"); v.Set("data", `{"13711112222":"a##b"}`) }, CodeVariableCount},
		{"NoMobile", func(v url.Values) { v.Del("mobile") }, CodeMissingParam},
		{"NoContent", func(v url.Values) { v.Del("content") }, CodeMissingParam},
		{"BadMobileInList", func(v url.Values) { v.Set("mobile", "13711112222,x") }, CodeBadMobile},
		{"TooMany", func(v url.Values) { v.Set("mobile", "13711112222,13722223333,13733334444,13744445555") }, CodeTooManyNumbers},
		{"NoTemplate", func(v url.Values) { v.Del("templateId") }, CodeMissingParam},
		{"NoSign", func(v url.Values) { v.Del("sign") }, CodeMissingParam},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := post(t, s, PathBatchSend, batch(tc.edit))
			require.Equal(t, tc.code, a.Code, a.Msg)
			if tc.code == CodeOK {
				require.NotEmpty(t, a.BatchID)
				require.Empty(t, a.SmUUID, "a batch reply has only a batchId")
			} else {
				require.Empty(t, a.BatchID)
			}
		})
	}
}

func TestBatchSendRecordsEachNumber(t *testing.T) {
	t.Parallel()
	s := New(t)
	v := creds()
	v.Set("sign", "29183")
	v.Set("templateId", "1")
	v.Set("data", `{"13722223333":"b##2","13711112222":"a##1"}`)
	a := post(t, s, PathBatchSend, v)
	require.Equal(t, CodeOK, a.Code)
	sent := s.Sent()
	require.Len(t, sent, 2)
	require.Equal(t, "13711112222", sent[0].Mobile)
	require.Equal(t, "a##1", sent[0].Content)
	require.Equal(t, "13722223333", sent[1].Mobile)
	require.Equal(t, "b##2", sent[1].Content)
	for _, m := range sent {
		require.Equal(t, a.BatchID, m.BatchID)
		require.NotEmpty(t, m.SmUUID)
	}
	require.NotEqual(t, sent[0].SmUUID, sent[1].SmUUID)
}

func TestStatusPullIsAQueue(t *testing.T) {
	t.Parallel()
	now := time.Date(2024, 5, 1, 2, 0, 0, 0, time.UTC)
	s := New(t, WithPullPageSize(2), WithClock(func() time.Time { return now }))
	var ids []string
	for _, m := range []string{"13711112222", "13722223333", "13733334444"} {
		ids = append(ids, post(t, s, PathSingleSend, single(m, "x")).SmUUID)
	}
	v := creds()
	v.Set("sign", "【Herald】")
	v.Set("templateId", "1")
	v.Set("mobile", "13744445555")
	v.Set("content", "y")
	batchID := post(t, s, PathBatchSend, v).BatchID
	batchUUID := s.Sent()[3].SmUUID

	empty := post(t, s, PathStatus, creds())
	require.JSONEq(t, `{"code":"0","msg":"SUCCESS","data":[]}`, string(empty.Raw))

	require.NoError(t, s.PushReceipt(ids[0], Delivered))
	require.NoError(t, s.PushReceipt(batchUUID, Undelivered))
	require.NoError(t, s.PushReceipt(ids[2], Rejected))
	require.Error(t, s.PushReceipt("nope", Delivered))

	first := post(t, s, PathStatus, creds())
	require.Equal(t, []pulledReport{
		{SmUUID: ids[0], DeliverTime: "2024-05-01 10:00:00", Mobile: "13711112222", DeliverResult: "DELIVRD"},
		{SmUUID: batchUUID, DeliverTime: "2024-05-01 10:00:00", Mobile: "13744445555", DeliverResult: "UNDELIV", BatchID: batchID},
	}, first.Data)
	second := post(t, s, PathStatus, creds())
	require.Len(t, second.Data, 1)
	require.Equal(t, ids[2], second.Data[0].SmUUID)
	require.Empty(t, post(t, s, PathStatus, creds()).Data)
	require.Equal(t, 4, s.Pulls())
}

func TestFaults(t *testing.T) {
	t.Parallel()

	t.Run("FailNextAndThrottle", func(t *testing.T) {
		t.Parallel()
		s := New(t)
		s.FailNext(1, "9999")
		s.Throttle(1)
		a := post(t, s, PathSingleSend, single("13711112222", "x"))
		require.Equal(t, "9999", a.Code)
		a = post(t, s, PathStatus, creds())
		require.Equal(t, CodeTooFrequent, a.Code)
		require.Equal(t, "超频", a.Msg)
		require.Equal(t, CodeOK, post(t, s, PathSingleSend, single("13711112222", "x")).Code)
		require.Len(t, s.Sent(), 1)
	})

	t.Run("FailuresComeAfterTheCredentialCheck", func(t *testing.T) {
		t.Parallel()
		s := New(t)
		s.Throttle(1)
		form := single("13711112222", "x")
		form.Set("secret", "wrong")
		require.Equal(t, CodeBadCredentials, post(t, s, PathSingleSend, form).Code)
		require.Equal(t, CodeTooFrequent, post(t, s, PathSingleSend, single("13711112222", "x")).Code)
	})

	t.Run("Down", func(t *testing.T) {
		t.Parallel()
		s := New(t)
		s.Down()
		resp, err := http.PostForm(s.URL()+PathSingleSend, single("13711112222", "x"))
		require.NoError(t, err)
		_ = resp.Body.Close()
		require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
		require.Empty(t, s.Sent())
		s.Up()
		require.Equal(t, CodeOK, post(t, s, PathSingleSend, single("13711112222", "x")).Code)
	})

	t.Run("HangRecordsButNeverAnswers", func(t *testing.T) {
		t.Parallel()
		s := New(t)
		s.Hang(1)
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL()+PathSingleSend, strings.NewReader(single("13711112222", "x").Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		_, err = http.DefaultClient.Do(req)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		sent := s.Sent()
		require.Len(t, sent, 1)
		require.False(t, sent[0].Answered)
	})

	t.Run("Drop", func(t *testing.T) {
		t.Parallel()
		s := New(t)
		s.Drop(1)
		_, err := http.PostForm(s.URL()+PathSingleSend, single("13711112222", "x"))
		require.Error(t, err)
		require.Len(t, s.Sent(), 1)
	})

	t.Run("UnknownPathAndMethod", func(t *testing.T) {
		t.Parallel()
		s := New(t)
		resp, err := http.PostForm(s.URL()+"/api/v1/send", creds())
		require.NoError(t, err)
		_ = resp.Body.Close()
		require.Equal(t, http.StatusNotFound, resp.StatusCode)
		req, err := http.NewRequest(http.MethodPut, s.URL()+PathStatus, nil)
		require.NoError(t, err)
		resp, err = http.DefaultClient.Do(req)
		require.NoError(t, err)
		_ = resp.Body.Close()
		require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	})
}

func TestPushFormats(t *testing.T) {
	t.Parallel()
	type got struct {
		contentType string
		fields      url.Values
		json        []pulledReport
	}
	for name, format := range map[string]PushFormat{"Form": PushForm, "Multipart": PushMultipart, "JSON": PushJSON} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var pushes []got
			cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				g := got{contentType: r.Header.Get("Content-Type")}
				mediaType, _, _ := mime.ParseMediaType(g.contentType)
				switch mediaType {
				case "application/json":
					_ = json.NewDecoder(r.Body).Decode(&g.json)
				case "multipart/form-data":
					_ = r.ParseMultipartForm(1 << 20)
					g.fields = url.Values(r.MultipartForm.Value)
				default:
					_ = r.ParseForm()
					g.fields = r.PostForm
				}
				mu.Lock()
				pushes = append(pushes, g)
				mu.Unlock()
			}))
			t.Cleanup(cb.Close)

			now := time.Date(2024, 5, 1, 2, 0, 0, 0, time.UTC)
			s := New(t, WithPushFormat(format), WithClock(func() time.Time { return now }))
			s.SetCallback(cb.URL)
			id := post(t, s, PathSingleSend, single("13711112222", "x")).SmUUID
			require.NoError(t, s.PushReceipt(id, Delivered))

			mu.Lock()
			defer mu.Unlock()
			require.Len(t, pushes, 1)
			want := url.Values{"smUuid": {id}, "mobile": {"13711112222"}, "deliverResult": {"DELIVRD"}, "deliverTime": {"2024-05-01 10:00:00"}}
			switch format {
			case PushJSON:
				require.Equal(t, "application/json;charset=utf-8", pushes[0].contentType)
				require.Equal(t, []pulledReport{{SmUUID: id, DeliverTime: "2024-05-01 10:00:00", Mobile: "13711112222", DeliverResult: "DELIVRD"}}, pushes[0].json)
			case PushMultipart:
				require.True(t, strings.HasPrefix(pushes[0].contentType, "multipart/form-data; boundary="))
				require.Equal(t, want, pushes[0].fields)
			default:
				require.Equal(t, "application/x-www-form-urlencoded;charset=utf-8", pushes[0].contentType)
				require.Equal(t, want, pushes[0].fields)
			}
		})
	}
}

func TestPushRetries(t *testing.T) {
	t.Parallel()
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
	}))
	t.Cleanup(cb.Close)
	s := New(t, WithPushRetryInterval(time.Millisecond))
	s.SetCallback(cb.URL)
	id := post(t, s, PathSingleSend, single("13711112222", "x")).SmUUID
	require.ErrorContains(t, s.PushReceipt(id, Delivered), "HTTP 502")
	pushes := s.Pushes()
	require.Len(t, pushes, pushAttempts)
	for _, p := range pushes {
		require.Equal(t, http.StatusBadGateway, p.StatusCode)
	}
	// The report is still queued for the pull.
	require.Len(t, post(t, s, PathStatus, creds()).Data, 1)
}

func TestAutoReceiptAndClose(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var bodies []string
	cb := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		mu.Lock()
		bodies = append(bodies, r.PostForm.Get("deliverResult"))
		mu.Unlock()
	}))
	t.Cleanup(cb.Close)
	s := New(t)
	s.SetCallback(cb.URL)
	s.AutoReceipt(0, Undelivered)
	post(t, s, PathSingleSend, single("13711112222", "x"))
	require.Eventually(t, func() bool { return len(s.Pushes()) == 1 }, 5*time.Second, 5*time.Millisecond)
	mu.Lock()
	require.Equal(t, []string{"UNDELIV"}, bodies)
	mu.Unlock()

	// A pending automatic report and a held request end with Close.
	s.AutoReceipt(time.Hour, Delivered)
	post(t, s, PathSingleSend, single("13711112222", "x"))
	s.Hang(1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		resp, err := http.PostForm(s.URL()+PathSingleSend, single("13711112222", "x"))
		if err == nil {
			_ = resp.Body.Close()
		}
	}()
	require.Eventually(t, func() bool { return len(s.Sent()) == 3 }, 5*time.Second, 5*time.Millisecond)
	s.Close()
	<-done
	s.Close() // a second Close is harmless
}

func TestMultipartWriterSanity(t *testing.T) {
	t.Parallel()
	body, contentType, err := encodePush(PushMultipart, pulledReport{SmUUID: "u", Mobile: "13711112222", DeliverResult: "DELIVRD", BatchID: "b"})
	require.NoError(t, err)
	_, params, err := mime.ParseMediaType(contentType)
	require.NoError(t, err)
	form, err := multipart.NewReader(strings.NewReader(string(body)), params["boundary"]).ReadForm(1 << 20)
	require.NoError(t, err)
	require.Equal(t, []string{"b"}, form.Value["batchId"])
	_, _, err = encodePush(PushFormat(99), pulledReport{})
	require.Error(t, err)
}
