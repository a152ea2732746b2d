package dingtalkfake

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type answer struct {
	ErrCode int    `json:"errcode"`
	ErrMsg  string `json:"errmsg"`
}

// sign is written here independently of the sender's, from the reference.
func sign(secret string, ms int64) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(ms, 10) + "\n" + secret))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// post sends body to the fake with rawQuery as is.
func post(t *testing.T, s *Server, rawQuery, body string) answer {
	t.Helper()
	resp, err := http.Post(s.URL()+"/robot/send?"+rawQuery, "application/json; charset=utf-8", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "DingTalk answers 200, errors included")
	var a answer
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&a))
	return a
}

func signedQuery(token, secret string, at time.Time) string {
	ms := at.UnixMilli()
	return url.Values{"access_token": {token}, "timestamp": {strconv.FormatInt(ms, 10)}, "sign": {sign(secret, ms)}}.Encode()
}

const textBody = `{"msgtype":"text","text":{"content":"hello"}}`

func TestSignature(t *testing.T) {
	t.Parallel()
	now := time.Now()
	ms := strconv.FormatInt(now.UnixMilli(), 10)
	good := sign(DefaultSecret, now.UnixMilli())
	tests := []struct {
		name  string
		query string
		code  int
		msg   string
	}{
		{"OK", signedQuery(DefaultAccessToken, DefaultSecret, now), CodeOK, "ok"},
		{"WrongSecret", signedQuery(DefaultAccessToken, "SECother", now), CodeSecurity, "sign not match"},
		{"MissingSign", "access_token=" + DefaultAccessToken + "&timestamp=" + ms, CodeSecurity, "sign not match"},
		{"MissingTimestamp", "access_token=" + DefaultAccessToken + "&sign=" + url.QueryEscape(good), CodeSecurity, "invalid timestamp"},
		{"SecondsNotMillis", "access_token=" + DefaultAccessToken + "&timestamp=" + strconv.FormatInt(now.Unix(), 10) + "&sign=" + url.QueryEscape(sign(DefaultSecret, now.Unix())), CodeSecurity, "invalid timestamp"},
		{"Stale", signedQuery(DefaultAccessToken, DefaultSecret, now.Add(-61*time.Minute)), CodeSecurity, "invalid timestamp"},
		{"Future", signedQuery(DefaultAccessToken, DefaultSecret, now.Add(61*time.Minute)), CodeSecurity, "invalid timestamp"},
		{"SignedForOtherTime", "access_token=" + DefaultAccessToken + "&timestamp=" + ms + "&sign=" + url.QueryEscape(sign(DefaultSecret, now.UnixMilli()-1)), CodeSecurity, "sign not match"},
		{"UnknownToken", signedQuery("nope", DefaultSecret, now), CodeTokenNotExist, "token is not exist"},
		{"MissingToken", "", CodeMissingParameter, "缺少参数 access_token"},
	}
	s := New(t, WithRateLimit(0, 0, 0))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, answer{tc.code, tc.msg}, post(t, s, tc.query, textBody))
		})
	}
}

func TestSignatureKnownVector(t *testing.T) {
	t.Parallel()
	// printf '1700000000000\nSECtestsecret' | openssl dgst -sha256 -hmac SECtestsecret -binary | base64
	require.Equal(t, "7LVwF0dAF3/+MRRulbpE4y72Ogzykc6bS2nG4I99T4s=", sign("SECtestsecret", 1700000000000))
	at := time.UnixMilli(1700000000000)
	s := New(t, WithClock(func() time.Time { return at }), WithRobot(Robot{AccessToken: "vec", Secret: "SECtestsecret"}))
	q := "access_token=vec&timestamp=1700000000000&sign="
	require.Equal(t, answer{CodeOK, "ok"}, post(t, s, q+"7LVwF0dAF3%2F%2BMRRulbpE4y72Ogzykc6bS2nG4I99T4s%3D", textBody))
	require.Equal(t, answer{CodeSecurity, "sign not match"}, post(t, s, q+"7LVwF0dAF3/+MRRulbpE4y72Ogzykc6bS2nG4I99T4s=", textBody), "a raw + is a space")
	require.Equal(t, answer{CodeSecurity, "sign not match"}, post(t, s, q+"7LVwF0dAF3%252F%252BMRRulbpE4y72Ogzykc6bS2nG4I99T4s%253D", textBody), "escaped twice")
}

func TestPayloads(t *testing.T) {
	t.Parallel()
	s := New(t, WithRateLimit(0, 0, 0))
	tests := []struct {
		name string
		body string
		code int
		msg  string
	}{
		{"Text", textBody, CodeOK, "ok"},
		{"TextEmpty", `{"msgtype":"text","text":{"content":" "}}`, CodeMissingParameter, "缺少参数 text"},
		{"TextMissing", `{"msgtype":"text"}`, CodeMissingParameter, "缺少参数 text"},
		{"Markdown", `{"msgtype":"markdown","markdown":{"title":"t","text":"# x"}}`, CodeOK, "ok"},
		{"MarkdownNoTitle", `{"msgtype":"markdown","markdown":{"text":"# x"}}`, CodeMissingParameter, "缺少参数 markdown.title"},
		{"MarkdownNoText", `{"msgtype":"markdown","markdown":{"title":"t"}}`, CodeMissingParameter, "缺少参数 markdown.text"},
		{"ActionCardSingle", `{"msgtype":"actionCard","actionCard":{"title":"t","text":"x","singleTitle":"Go","singleURL":"https://e.x"}}`, CodeOK, "ok"},
		{"ActionCardButtons", `{"msgtype":"actionCard","actionCard":{"title":"t","text":"x","btnOrientation":"1","btns":[{"title":"A","actionURL":"https://a"}]}}`, CodeOK, "ok"},
		{"ActionCardNoButton", `{"msgtype":"actionCard","actionCard":{"title":"t","text":"x"}}`, CodeMissingParameter, "缺少参数 actionCard.singleTitle"},
		{"ActionCardBadButton", `{"msgtype":"actionCard","actionCard":{"title":"t","text":"x","btns":[{"title":"A"}]}}`, CodeMissingParameter, "缺少参数 actionCard.btns"},
		{"Link", `{"msgtype":"link","link":{"title":"t","text":"x","messageUrl":"https://e.x"}}`, CodeOK, "ok"},
		{"FeedCard", `{"msgtype":"feedCard","feedCard":{"links":[{"title":"t","messageURL":"https://e.x","picURL":""}]}}`, CodeOK, "ok"},
		{"UnknownType", `{"msgtype":"video"}`, CodeMissingParameter, "缺少参数 msgtype"},
		{"NotJSON", `msgtype=text`, CodeMissingParameter, "缺少参数 json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, answer{tc.code, tc.msg}, post(t, s, signedQuery(DefaultAccessToken, DefaultSecret, time.Now()), tc.body))
		})
	}

	t.Run("Recorded", func(t *testing.T) {
		t.Parallel()
		s := New(t)
		body := `{"msgtype":"text","text":{"content":"hi @138"},"at":{"atMobiles":["138"],"atUserIds":["u1"],"isAtAll":true}}`
		require.Equal(t, answer{CodeOK, "ok"}, post(t, s, signedQuery(DefaultAccessToken, DefaultSecret, time.Now()), body))
		sent := s.Sent()
		require.Len(t, sent, 1)
		require.Equal(t, "hi @138", sent[0].Text)
		require.Equal(t, []string{"138"}, sent[0].AtMobiles)
		require.Equal(t, []string{"u1"}, sent[0].AtUserIDs)
		require.True(t, sent[0].IsAtAll)
		require.JSONEq(t, body, string(sent[0].Body))
		require.True(t, sent[0].Answered)
	})

	t.Run("WrongContentType", func(t *testing.T) {
		t.Parallel()
		s := New(t)
		resp, err := http.Post(s.URL()+"/robot/send?"+signedQuery(DefaultAccessToken, DefaultSecret, time.Now()), "text/plain", strings.NewReader(textBody))
		require.NoError(t, err)
		defer resp.Body.Close()
		var a answer
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&a))
		require.Equal(t, CodeMissingParameter, a.ErrCode)
	})

	t.Run("GET", func(t *testing.T) {
		t.Parallel()
		s := New(t)
		resp, err := http.Get(s.URL() + "/robot/send?" + signedQuery(DefaultAccessToken, DefaultSecret, time.Now()))
		require.NoError(t, err)
		defer resp.Body.Close()
		var a answer
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&a))
		require.Equal(t, answer{CodeNeedPost, "需要POST请求"}, a)
	})
}

func TestKeywords(t *testing.T) {
	t.Parallel()
	s := New(t, WithRobot(Robot{AccessToken: "kw", Keywords: []string{"告警", "alert"}}))
	require.Equal(t, answer{CodeOK, "ok"}, post(t, s, "access_token=kw", `{"msgtype":"text","text":{"content":"disk alert"}}`))
	require.Equal(t, answer{CodeOK, "ok"}, post(t, s, "access_token=kw", `{"msgtype":"markdown","markdown":{"title":"告警","text":"x"}}`))
	require.Equal(t, answer{CodeSecurity, "keywords not in content"}, post(t, s, "access_token=kw", `{"msgtype":"text","text":{"content":"hello"}}`))
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
	s := New(t, WithClock(clock), WithRateLimit(2, time.Minute, 10*time.Minute),
		WithRobot(Robot{AccessToken: "other"}))
	q := func() string { return signedQuery(DefaultAccessToken, DefaultSecret, clock()) }
	tooFast := answer{CodeTooFast, "send too fast, exceed 20 times per minute"}

	require.Equal(t, answer{CodeOK, "ok"}, post(t, s, q(), textBody))
	advance(30 * time.Second)
	require.Equal(t, answer{CodeOK, "ok"}, post(t, s, q(), textBody))
	require.Equal(t, tooFast, post(t, s, q(), textBody))
	require.Equal(t, answer{CodeOK, "ok"}, post(t, s, "access_token=other", textBody), "the limit is per robot")

	advance(time.Minute)
	require.Equal(t, tooFast, post(t, s, q(), textBody), "blocked past the window")
	advance(9 * time.Minute)
	require.Equal(t, answer{CodeOK, "ok"}, post(t, s, q(), textBody), "the block is over")
	require.Len(t, s.Sent(), 4)
}

func TestControls(t *testing.T) {
	t.Parallel()
	q := func() string { return signedQuery(DefaultAccessToken, DefaultSecret, time.Now()) }

	t.Run("FailNextAndThrottle", func(t *testing.T) {
		t.Parallel()
		s := New(t)
		s.FailNext(1, CodeBusy)
		s.Throttle(1)
		require.Equal(t, answer{CodeBusy, "系统繁忙"}, post(t, s, q(), textBody))
		require.Equal(t, CodeTooFast, post(t, s, q(), textBody).ErrCode)
		require.Equal(t, CodeOK, post(t, s, q(), textBody).ErrCode)
		require.Len(t, s.Sent(), 1)
	})

	t.Run("FailNextAfterSignature", func(t *testing.T) {
		t.Parallel()
		s := New(t)
		s.FailNext(1, CodeBusy)
		require.Equal(t, CodeSecurity, post(t, s, signedQuery(DefaultAccessToken, "SECwrong", time.Now()), textBody).ErrCode)
		require.Equal(t, CodeBusy, post(t, s, q(), textBody).ErrCode, "the bad request did not use up the failure")
	})

	t.Run("Down", func(t *testing.T) {
		t.Parallel()
		s := New(t)
		s.Down()
		resp, err := http.Post(s.URL()+"/robot/send?"+q(), "application/json", strings.NewReader(textBody))
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusBadGateway, resp.StatusCode)
		require.Contains(t, string(body), "502")
		s.Up()
		require.Equal(t, CodeOK, post(t, s, q(), textBody).ErrCode)
		require.Len(t, s.Sent(), 1)
	})

	t.Run("HangAndDrop", func(t *testing.T) {
		t.Parallel()
		s := New(t)
		s.Hang(1)
		s.Drop(1)
		client := &http.Client{Timeout: 100 * time.Millisecond}
		for range 2 {
			resp, err := client.Post(s.URL()+"/robot/send?"+q(), "application/json", strings.NewReader(textBody))
			if err == nil {
				resp.Body.Close()
			}
			require.Error(t, err)
		}
		sent := s.Sent()
		require.Len(t, sent, 2)
		require.False(t, sent[0].Answered)
		require.False(t, sent[1].Answered)
		require.Equal(t, CodeOK, post(t, s, q(), textBody).ErrCode)
	})

	t.Run("CloseReleasesHang", func(t *testing.T) {
		t.Parallel()
		s := New(t)
		s.Hang(1)
		done := make(chan error, 1)
		go func() {
			resp, err := http.Post(s.URL()+"/robot/send?"+q(), "application/json", strings.NewReader(textBody))
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
