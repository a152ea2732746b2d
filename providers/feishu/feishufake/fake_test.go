package feishufake

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type answer struct {
	Code int    `json:"code"`
	Msg  string `json:"msg"`
}

// sign is written here independently of the sender's, from the reference:
// the key is "timestamp\nsecret" and the message is empty.
func sign(secret, ts string) string {
	mac := hmac.New(sha256.New, []byte(ts+"\n"+secret))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// dingtalkStyle is the other scheme (key = secret, message =
// "timestamp\nsecret"), which Feishu refuses.
func dingtalkStyle(secret, ts string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "\n" + secret))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func post(t *testing.T, s *Server, hookID, body string) answer {
	t.Helper()
	resp, err := http.Post(s.WebhookURL(hookID), "application/json; charset=utf-8", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var a answer
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&a))
	return a
}

// signed adds a good timestamp and sign to a body's fields.
func signed(fields string, at time.Time) string {
	ts := strconv.FormatInt(at.Unix(), 10)
	return `{"timestamp":"` + ts + `","sign":"` + sign(DefaultSecret, ts) + `",` + fields + `}`
}

const textFields = `"msg_type":"text","content":{"text":"hello"}`

// Answers the tests expect.
func okAnswer() answer { return answer{CodeOK, "success"} }
func signFail() answer {
	return answer{CodeSignMismatch, "sign match fail or timestamp is not within one hour from current time"}
}
func badReq() answer   { return answer{CodeBadRequest, "Bad Request"} }
func badParse() answer { return answer{CodeBadRequest, "Bad Request: fail to parse content"} }
func tokenFail() answer {
	return answer{CodeTokenInvalid, "param invalid: incoming webhook access token invalid"}
}

func TestSignature(t *testing.T) {
	t.Parallel()
	now := time.Now()
	ts := strconv.FormatInt(now.Unix(), 10)
	ms := strconv.FormatInt(now.UnixMilli(), 10)
	tests := []struct {
		name string
		body string
		want answer
	}{
		{"OK", signed(textFields, now), okAnswer()},
		{"NumberTimestamp", `{"timestamp":` + ts + `,"sign":"` + sign(DefaultSecret, ts) + `",` + textFields + `}`, okAnswer()},
		{"WrongSecret", `{"timestamp":"` + ts + `","sign":"` + sign("other", ts) + `",` + textFields + `}`, signFail()},
		{"DingTalkScheme", `{"timestamp":"` + ts + `","sign":"` + dingtalkStyle(DefaultSecret, ts) + `",` + textFields + `}`, signFail()},
		{"Milliseconds", `{"timestamp":"` + ms + `","sign":"` + sign(DefaultSecret, ms) + `",` + textFields + `}`, signFail()},
		{"Stale", signed(textFields, now.Add(-61*time.Minute)), signFail()},
		{"Future", signed(textFields, now.Add(61*time.Minute)), signFail()},
		{"NoSign", `{"timestamp":"` + ts + `",` + textFields + `}`, signFail()},
		{"NoTimestamp", `{"sign":"` + sign(DefaultSecret, ts) + `",` + textFields + `}`, signFail()},
		{"SignInQueryIsNotEnough", `{` + textFields + `}`, signFail()},
	}
	s := New(t, WithRateLimit(0, 0))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, post(t, s, DefaultHookID, tc.body))
		})
	}

	t.Run("UnknownHook", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, tokenFail(), post(t, s, "nope", signed(textFields, now)))
	})

	t.Run("KnownVector", func(t *testing.T) {
		t.Parallel()
		// printf '' | openssl dgst -sha256 -hmac "$(printf '1700000000\ntestsecret')" -binary | base64
		require.Equal(t, "AOc8oJ7//5OlQlfWC3nRL0R+IkuzcD1FKcAyibRK9Q8=", sign("testsecret", "1700000000"))
		v := New(t, WithClock(func() time.Time { return time.Unix(1700000100, 0) }), WithBot(Bot{HookID: "vec", Secret: "testsecret"}))
		require.Equal(t, okAnswer(), post(t, v, "vec", `{"timestamp":"1700000000","sign":"AOc8oJ7//5OlQlfWC3nRL0R+IkuzcD1FKcAyibRK9Q8=",`+textFields+`}`))
	})
}

func TestPayloads(t *testing.T) {
	t.Parallel()
	s := New(t, WithRateLimit(0, 0))
	tests := []struct {
		name   string
		fields string
		want   answer
	}{
		{"Text", textFields, okAnswer()},
		{"TextEmpty", `"msg_type":"text","content":{"text":""}`, badParse()},
		{"TextNoContent", `"msg_type":"text"`, badParse()},
		{"Post", `"msg_type":"post","content":{"post":{"zh_cn":{"title":"t","content":[[{"tag":"text","text":"a"},{"tag":"a","text":"l","href":"https://e.x"},{"tag":"at","user_id":"all"}]]}}}`, okAnswer()},
		{"PostNoLocale", `"msg_type":"post","content":{"post":{}}`, badParse()},
		{"PostNoParagraphs", `"msg_type":"post","content":{"post":{"en_us":{"title":"t","content":[]}}}`, badParse()},
		{"PostBadTag", `"msg_type":"post","content":{"post":{"zh_cn":{"content":[[{"tag":"blink","text":"a"}]]}}}`, badParse()},
		{"PostLinkWithoutHref", `"msg_type":"post","content":{"post":{"zh_cn":{"content":[[{"tag":"a","text":"a"}]]}}}`, badParse()},
		{"Card", `"msg_type":"interactive","card":{"elements":[{"tag":"div","text":{"tag":"lark_md","content":"x"}}]}`, okAnswer()},
		{"CardAsString", `"msg_type":"interactive","card":"{\"elements\":[{\"tag\":\"markdown\",\"content\":\"x\"}]}"`, okAnswer()},
		{"CardTemplate", `"msg_type":"interactive","card":{"type":"template","data":{"template_id":"ctp_1"}}`, okAnswer()},
		{"CardEmpty", `"msg_type":"interactive","card":{}`, badParse()},
		{"CardElementWithoutTag", `"msg_type":"interactive","card":{"elements":[{"text":"x"}]}`, badParse()},
		{"Image", `"msg_type":"image","content":{"image_key":"img_1"}`, okAnswer()},
		{"ShareChat", `"msg_type":"share_chat","content":{"share_chat_id":"oc_1"}`, okAnswer()},
		{"UnknownType", `"msg_type":"video","content":{}`, badReq()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, post(t, s, DefaultHookID, signed(tc.fields, time.Now())))
		})
	}

	t.Run("NotJSON", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, badReq(), post(t, s, DefaultHookID, "msg_type=text"))
	})

	t.Run("Over20KB", func(t *testing.T) {
		t.Parallel()
		big := `"msg_type":"text","content":{"text":"` + strings.Repeat("x", MaxBodyBytes) + `"}`
		require.Equal(t, badReq(), post(t, s, DefaultHookID, signed(big, time.Now())))
	})

	t.Run("Recorded", func(t *testing.T) {
		t.Parallel()
		s := New(t)
		body := signed(`"msg_type":"interactive","card":{"header":{"title":{"tag":"plain_text","content":"T"}},"elements":[{"tag":"div","text":{"tag":"lark_md","content":"hi <at id=ou_1></at>"}}]}`, time.Now())
		require.Equal(t, okAnswer(), post(t, s, DefaultHookID, body))
		sent := s.Sent()
		require.Len(t, sent, 1)
		require.Equal(t, "interactive", sent[0].MsgType)
		require.Equal(t, "T", sent[0].Title)
		require.Equal(t, "hi <at id=ou_1></at>", sent[0].Text)
		require.Equal(t, []string{"ou_1"}, sent[0].Mentions)
		require.JSONEq(t, body, string(sent[0].Body))
		require.True(t, sent[0].Answered)
	})
}

func TestKeywords(t *testing.T) {
	t.Parallel()
	s := New(t, WithBot(Bot{HookID: "kw", Keywords: []string{"告警", "alert"}}))
	require.Equal(t, okAnswer(), post(t, s, "kw", `{"msg_type":"text","content":{"text":"disk alert"}}`))
	require.Equal(t, okAnswer(), post(t, s, "kw", `{"msg_type":"post","content":{"post":{"zh_cn":{"title":"告警","content":[[{"tag":"text","text":"x"}]]}}}}`))
	require.Equal(t, answer{CodeKeywordsNotFound, "Key Words Not Found"}, post(t, s, "kw", `{"msg_type":"text","content":{"text":"hello"}}`))
	require.Len(t, s.Sent(), 2)
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Unix(1700000000, 0)
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}
	advance := func(d time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(d)
	}
	s := New(t, WithClock(clock), WithRateLimit(3, 2), WithBot(Bot{HookID: "other"}))
	limited := answer{CodeFrequencyLimited, "frequency limited psm[lark.oapi.app_platform_runtime]appID[1]"}
	send := func() answer { return post(t, s, DefaultHookID, signed(textFields, clock())) }

	require.Equal(t, okAnswer(), send())
	require.Equal(t, okAnswer(), send())
	require.Equal(t, limited, send(), "two a second")
	require.Equal(t, okAnswer(), post(t, s, "other", `{`+textFields+`}`), "the limit is per bot")
	advance(time.Second)
	require.Equal(t, okAnswer(), send())
	require.Equal(t, limited, send(), "three a minute")
	advance(time.Minute)
	require.Equal(t, okAnswer(), send())
	require.Len(t, s.Sent(), 5)
}

func TestControls(t *testing.T) {
	t.Parallel()
	body := func() string { return signed(textFields, time.Now()) }

	t.Run("FailNextAndThrottle", func(t *testing.T) {
		t.Parallel()
		s := New(t)
		s.FailNext(1, CodeIPNotAllowed)
		s.Throttle(1)
		require.Equal(t, answer{CodeIPNotAllowed, "Ip Not Allowed"}, post(t, s, DefaultHookID, body()))
		require.Equal(t, CodeFrequencyLimited, post(t, s, DefaultHookID, body()).Code)
		require.Equal(t, okAnswer(), post(t, s, DefaultHookID, body()))
		require.Len(t, s.Sent(), 1)
	})

	t.Run("FailNextAfterChecks", func(t *testing.T) {
		t.Parallel()
		s := New(t)
		s.FailNext(1, CodeIPNotAllowed)
		require.Equal(t, signFail(), post(t, s, DefaultHookID, `{`+textFields+`}`))
		require.Equal(t, CodeIPNotAllowed, post(t, s, DefaultHookID, body()).Code)
	})

	t.Run("SuccessBody", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			opts []Option
			want string
		}{
			{nil, `{"StatusCode":0,"StatusMessage":"success","code":0,"data":{},"msg":"success"}`},
			{[]Option{WithLegacyAnswer()}, `{"Extra":null,"StatusCode":0,"StatusMessage":"success"}`},
		} {
			s := New(t, tc.opts...)
			resp, err := http.Post(s.WebhookURL(DefaultHookID), "application/json", strings.NewReader(body()))
			require.NoError(t, err)
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.JSONEq(t, tc.want, string(got))
		}
	})

	t.Run("Down", func(t *testing.T) {
		t.Parallel()
		s := New(t)
		s.Down()
		resp, err := http.Post(s.WebhookURL(DefaultHookID), "application/json", strings.NewReader(body()))
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusBadGateway, resp.StatusCode)
		s.Up()
		require.Equal(t, okAnswer(), post(t, s, DefaultHookID, body()))
		require.Len(t, s.Sent(), 1)
	})

	t.Run("HangAndDrop", func(t *testing.T) {
		t.Parallel()
		s := New(t)
		s.Hang(1)
		s.Drop(1)
		client := &http.Client{Timeout: 100 * time.Millisecond}
		for range 2 {
			resp, err := client.Post(s.WebhookURL(DefaultHookID), "application/json", strings.NewReader(body()))
			if err == nil {
				resp.Body.Close()
			}
			require.Error(t, err)
		}
		sent := s.Sent()
		require.Len(t, sent, 2)
		require.False(t, sent[0].Answered)
		require.False(t, sent[1].Answered)
		require.Equal(t, okAnswer(), post(t, s, DefaultHookID, body()))
	})

	t.Run("CloseReleasesHang", func(t *testing.T) {
		t.Parallel()
		s := New(t)
		s.Hang(1)
		done := make(chan error, 1)
		go func() {
			resp, err := http.Post(s.WebhookURL(DefaultHookID), "application/json", strings.NewReader(body()))
			if err == nil {
				resp.Body.Close()
			}
			done <- err
		}()
		require.Eventually(t, func() bool { return len(s.Sent()) == 1 }, 5*time.Second, 5*time.Millisecond)
		s.Close()
		select {
		case err := <-done:
			require.Error(t, err)
		case <-time.After(5 * time.Second):
			t.Fatal("Close did not release the held request")
		}
	})
}
