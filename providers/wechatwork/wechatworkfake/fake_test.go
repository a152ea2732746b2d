package wechatworkfake

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// answer is a WeCom JSON answer as a generic map.
type answer map[string]any

func (a answer) errcode() int {
	n, _ := a["errcode"].(float64)
	return int(n)
}

func getToken(t *testing.T, s *Server, corpID, secret string) answer {
	t.Helper()
	q := url.Values{}
	if corpID != "" {
		q.Set("corpid", corpID)
	}
	if secret != "" {
		q.Set("corpsecret", secret)
	}
	return call(t, http.MethodGet, s.URL()+"/cgi-bin/gettoken?"+q.Encode(), "")
}

func token(t *testing.T, s *Server) string {
	t.Helper()
	a := getToken(t, s, DefaultCorpID, DefaultCorpSecret)
	require.Equal(t, 0, a.errcode(), a)
	return a["access_token"].(string)
}

func call(t *testing.T, method, target, body string) answer {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, target, rd)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "WeCom answers errors with HTTP 200")
	var a answer
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&a))
	return a
}

func send(t *testing.T, s *Server, tok, body string) answer {
	t.Helper()
	return call(t, http.MethodPost, s.URL()+"/cgi-bin/message/send?access_token="+url.QueryEscape(tok), body)
}

const textBody = `{"touser":"zhangsan","msgtype":"text","agentid":1000002,"text":{"content":"hi"}}`

func TestGetToken(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		s := New(t)
		a := getToken(t, s, DefaultCorpID, DefaultCorpSecret)
		require.Equal(t, 0, a.errcode())
		require.Equal(t, "ok", a["errmsg"])
		require.NotEmpty(t, a["access_token"])
		require.Equal(t, float64(7200), a["expires_in"])
		again := getToken(t, s, DefaultCorpID, DefaultCorpSecret)
		require.Equal(t, a["access_token"], again["access_token"], "same token while it is valid")
		require.Equal(t, 2, s.TokenCalls())
	})

	t.Run("RemainingLifetime", func(t *testing.T) {
		t.Parallel()
		now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
		var mu sync.Mutex
		clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
		s := New(t, WithClock(clock), WithTokenTTL(time.Hour))
		first := getToken(t, s, DefaultCorpID, DefaultCorpSecret)
		require.Equal(t, float64(3600), first["expires_in"])
		mu.Lock()
		now = now.Add(20 * time.Minute)
		mu.Unlock()
		again := getToken(t, s, DefaultCorpID, DefaultCorpSecret)
		require.Equal(t, first["access_token"], again["access_token"])
		require.Equal(t, float64(2400), again["expires_in"])
		mu.Lock()
		now = now.Add(time.Hour)
		mu.Unlock()
		a := send(t, s, first["access_token"].(string), textBody)
		require.Equal(t, 42001, a.errcode())
		fresh := getToken(t, s, DefaultCorpID, DefaultCorpSecret)
		require.NotEqual(t, first["access_token"], fresh["access_token"])
	})

	tests := []struct {
		name           string
		corpID, secret string
		code           int
	}{
		{"MissingCorpID", "", DefaultCorpSecret, 41002},
		{"UnknownCorpID", "wwnobody", DefaultCorpSecret, 40013},
		{"MissingSecret", DefaultCorpID, "", 41004},
		{"WrongSecret", DefaultCorpID, "wrong", 40001},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := New(t)
			a := getToken(t, s, tc.corpID, tc.secret)
			require.Equal(t, tc.code, a.errcode())
			require.Contains(t, a["errmsg"], "more info at https://open.work.weixin.qq.com/devtool/query?e=")
			require.NotContains(t, a, "access_token")
		})
	}

	t.Run("FailNextToken", func(t *testing.T) {
		t.Parallel()
		s := New(t)
		s.FailNextToken(1, 60020)
		require.Equal(t, 60020, getToken(t, s, DefaultCorpID, DefaultCorpSecret).errcode())
		require.Equal(t, 0, getToken(t, s, DefaultCorpID, DefaultCorpSecret).errcode())
	})

	t.Run("FailNextTokenAfterCredentialCheck", func(t *testing.T) {
		t.Parallel()
		s := New(t)
		s.FailNextToken(1, 60020)
		require.Equal(t, 40001, getToken(t, s, DefaultCorpID, "wrong").errcode())
		require.Equal(t, 60020, getToken(t, s, DefaultCorpID, DefaultCorpSecret).errcode())
	})
}

func TestMessageSendChecks(t *testing.T) {
	t.Parallel()
	s := New(t, WithApp(DefaultCorpID, "other-secret", 1000003), WithUsers("zhangsan", "lisi"))
	tok := token(t, s)

	t.Run("TokenMissing", func(t *testing.T) {
		require.Equal(t, 41001, send(t, s, "", textBody).errcode())
	})
	t.Run("TokenUnknown", func(t *testing.T) {
		require.Equal(t, 40014, send(t, s, "forged", textBody).errcode())
	})
	t.Run("NotPost", func(t *testing.T) {
		a := call(t, http.MethodGet, s.URL()+"/cgi-bin/message/send?access_token="+tok, "")
		require.Equal(t, 43002, a.errcode())
	})

	tests := []struct {
		name string
		body string
		code int
	}{
		{"BadJSON", `{"touser":`, 40058},
		{"WrongType", `{"touser":"zhangsan","msgtype":"text","agentid":1000002,"text":"hi"}`, 40058},
		{"AgentMissing", `{"touser":"zhangsan","msgtype":"text","text":{"content":"hi"}}`, 41011},
		{"AgentUnknown", `{"touser":"zhangsan","msgtype":"text","agentid":7,"text":{"content":"hi"}}`, 40056},
		{"OtherAppsAgent", `{"touser":"zhangsan","msgtype":"text","agentid":1000003,"text":{"content":"hi"}}`, 301002},
		{"MsgTypeMissing", `{"touser":"zhangsan","agentid":1000002,"text":{"content":"hi"}}`, 40008},
		{"MsgTypeUnknown", `{"touser":"zhangsan","msgtype":"voice","agentid":1000002}`, 40008},
		{"TextEmpty", `{"touser":"zhangsan","msgtype":"text","agentid":1000002,"text":{"content":""}}`, 44004},
		{"TextMissing", `{"touser":"zhangsan","msgtype":"text","agentid":1000002,"markdown":{"content":"hi"}}`, 44004},
		{"MarkdownEmpty", `{"touser":"zhangsan","msgtype":"markdown","agentid":1000002,"markdown":{}}`, 44004},
		{"TextCardNoTitle", `{"touser":"zhangsan","msgtype":"textcard","agentid":1000002,"textcard":{"description":"d","url":"https://x"}}`, 41016},
		{"TextCardNoDescription", `{"touser":"zhangsan","msgtype":"textcard","agentid":1000002,"textcard":{"title":"t","url":"https://x"}}`, 41033},
		{"TextCardNoURL", `{"touser":"zhangsan","msgtype":"textcard","agentid":1000002,"textcard":{"title":"t","description":"d"}}`, 41010},
		{"NoReceivers", `{"msgtype":"text","agentid":1000002,"text":{"content":"hi"}}`, 82001},
		{"AllInvalid", `{"touser":"ghost","toparty":"abc","msgtype":"text","agentid":1000002,"text":{"content":"hi"}}`, 81013},
		{"TooManyUsers", `{"touser":"` + strings.Repeat("u|", maxUsers+1) + `u","msgtype":"text","agentid":1000002,"text":{"content":"hi"}}`, 40032},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := send(t, s, tok, tc.body)
			require.Equal(t, tc.code, a.errcode(), a)
			require.NotContains(t, a, "msgid")
		})
	}
	require.Empty(t, s.Sent(), "nothing was accepted")

	t.Run("AgentIDAsString", func(t *testing.T) {
		a := send(t, s, tok, `{"touser":"zhangsan","msgtype":"text","agentid":"1000002","text":{"content":"hi"}}`)
		require.Equal(t, 0, a.errcode(), a)
	})
}

func TestMessageSendAccepted(t *testing.T) {
	t.Parallel()

	t.Run("PartialInvalid", func(t *testing.T) {
		t.Parallel()
		s := New(t, WithUsers("zhangsan"), WithUnlicensedUsers("wangwu"), WithParties("2"), WithTags("5"))
		a := send(t, s, token(t, s),
			`{"touser":"ZhangSan|Ghost|wangwu","toparty":"2|9","totag":"5|x","msgtype":"text","agentid":1000002,"text":{"content":"hi"}}`)
		require.Equal(t, 0, a.errcode(), a)
		require.Equal(t, "ghost", a["invaliduser"], "userids come back lowercased")
		require.Equal(t, "wangwu", a["unlicenseduser"])
		require.Equal(t, "9", a["invalidparty"])
		require.Equal(t, "x", a["invalidtag"])
		require.NotEmpty(t, a["msgid"])
		sent := s.Sent()
		require.Len(t, sent, 1)
		require.Equal(t, a["msgid"], sent[0].MsgID)
		require.Equal(t, []string{"ZhangSan"}, sent[0].Users)
		require.Equal(t, []string{"2"}, sent[0].Parties)
		require.Equal(t, []string{"5"}, sent[0].Tags)
		require.True(t, sent[0].Answered)
	})

	t.Run("All", func(t *testing.T) {
		t.Parallel()
		s := New(t, WithUsers("zhangsan"))
		a := send(t, s, token(t, s), `{"touser":"@all","toparty":"999","msgtype":"markdown","agentid":1000002,"markdown":{"content":"**hi**"}}`)
		require.Equal(t, 0, a.errcode(), a)
		require.Equal(t, "", a["invalidparty"], "toparty is ignored with @all")
		require.Equal(t, []string{"@all"}, s.Sent()[0].Users)
	})

	t.Run("TextCard", func(t *testing.T) {
		t.Parallel()
		s := New(t)
		a := send(t, s, token(t, s), `{"touser":"a","msgtype":"textcard","agentid":1000002,"textcard":{"title":"t","description":"d","url":"https://x","btntxt":"go"}}`)
		require.Equal(t, 0, a.errcode(), a)
		m := s.Sent()[0]
		require.Equal(t, []string{"t", "d", "https://x", "go"}, []string{m.Title, m.Content, m.URL, m.BtnTxt})
	})
}

func TestFaults(t *testing.T) {
	t.Parallel()

	t.Run("FailNextAfterTokenCheck", func(t *testing.T) {
		t.Parallel()
		s := New(t)
		tok := token(t, s)
		s.FailNext(1, 45009)
		require.Equal(t, 40014, send(t, s, "forged", textBody).errcode(), "a bad token is answered first")
		require.Equal(t, 45009, send(t, s, tok, textBody).errcode())
		require.Equal(t, 0, send(t, s, tok, textBody).errcode())
		require.Equal(t, 3, s.SendCalls())
		require.Len(t, s.Sent(), 1)
	})

	t.Run("ExpireTokens", func(t *testing.T) {
		t.Parallel()
		s := New(t)
		tok := token(t, s)
		s.ExpireTokens()
		require.Equal(t, 42001, send(t, s, tok, textBody).errcode())
		fresh := token(t, s)
		require.NotEqual(t, tok, fresh)
		require.Equal(t, 0, send(t, s, fresh, textBody).errcode())
	})

	t.Run("Down", func(t *testing.T) {
		t.Parallel()
		s := New(t)
		s.Down()
		for _, target := range []string{
			s.URL() + "/cgi-bin/gettoken?corpid=x&corpsecret=y",
			s.URL() + "/cgi-bin/message/send?access_token=x",
			s.WebhookURL(DefaultRobotKey),
		} {
			resp, err := http.Post(target, "application/json", strings.NewReader(textBody))
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.Equal(t, http.StatusBadGateway, resp.StatusCode)
			require.Contains(t, string(body), "<html>")
		}
		s.Up()
		require.Equal(t, 0, getToken(t, s, DefaultCorpID, DefaultCorpSecret).errcode())
		require.Empty(t, s.Sent())
	})

	t.Run("HangRecordsAndHolds", func(t *testing.T) {
		t.Parallel()
		s := New(t)
		tok := token(t, s)
		s.Hang(1)
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL()+"/cgi-bin/message/send?access_token="+tok, strings.NewReader(textBody))
		require.NoError(t, err)
		_, err = http.DefaultClient.Do(req)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		sent := s.Sent()
		require.Len(t, sent, 1)
		require.False(t, sent[0].Answered)
		require.Equal(t, 0, send(t, s, tok, textBody).errcode(), "only n requests hang")
	})

	t.Run("CloseReleasesHang", func(t *testing.T) {
		t.Parallel()
		s := New(t)
		s.Hang(1)
		done := make(chan error, 1)
		go func() {
			resp, err := http.Post(s.WebhookURL(DefaultRobotKey), "application/json", strings.NewReader(`{"msgtype":"text","text":{"content":"x"}}`))
			if err == nil {
				resp.Body.Close()
			}
			done <- err
		}()
		require.Eventually(t, func() bool { return len(s.Sent()) == 1 }, 2*time.Second, 5*time.Millisecond)
		s.Close()
		select {
		case err := <-done:
			require.Error(t, err, "the connection is dropped without an answer")
		case <-time.After(5 * time.Second):
			t.Fatal("Close did not release the held request")
		}
	})

	t.Run("UnknownPath", func(t *testing.T) {
		t.Parallel()
		s := New(t)
		resp, err := http.Get(s.URL() + "/cgi-bin/user/get")
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusNotFound, resp.StatusCode)
	})
}

func TestWebhookSend(t *testing.T) {
	t.Parallel()
	post := func(t *testing.T, target, body string) answer {
		t.Helper()
		return call(t, http.MethodPost, target, body)
	}

	t.Run("Text", func(t *testing.T) {
		t.Parallel()
		s := New(t)
		a := post(t, s.WebhookURL(DefaultRobotKey), `{"msgtype":"text","text":{"content":"hi","mentioned_list":["@all"],"mentioned_mobile_list":["13800000000"]}}`)
		require.Equal(t, answer{"errcode": float64(0), "errmsg": "ok"}, a)
		m := s.Sent()[0]
		require.Equal(t, KindRobot, m.Kind)
		require.Equal(t, "hi", m.Content)
		require.Equal(t, []string{"@all"}, m.MentionedList)
		require.Equal(t, []string{"13800000000"}, m.MentionedMobileList)
	})

	t.Run("Markdown", func(t *testing.T) {
		t.Parallel()
		s := New(t, WithRobotKey("k2"))
		a := post(t, s.WebhookURL("k2"), `{"msgtype":"markdown","markdown":{"content":"**hi**"}}`)
		require.Equal(t, 0, a.errcode())
		require.Equal(t, "k2", s.Sent()[0].RobotKey)
	})

	tests := []struct {
		name, key, body string
		code            int
	}{
		{"NoKey", "", `{"msgtype":"text","text":{"content":"hi"}}`, 93000},
		{"UnknownKey", "removed", `{"msgtype":"text","text":{"content":"hi"}}`, 93000},
		{"BadJSON", DefaultRobotKey, `{`, 40058},
		{"UnknownType", DefaultRobotKey, `{"msgtype":"voice"}`, 40008},
		{"EmptyText", DefaultRobotKey, `{"msgtype":"text","text":{"content":""}}`, 44004},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := New(t)
			target := s.URL() + "/cgi-bin/webhook/send"
			if tc.key != "" {
				target += "?key=" + tc.key
			}
			require.Equal(t, tc.code, post(t, target, tc.body).errcode())
			require.Empty(t, s.Sent())
		})
	}

	t.Run("Throttle", func(t *testing.T) {
		t.Parallel()
		s := New(t)
		s.Throttle(2)
		body := `{"msgtype":"text","text":{"content":"hi"}}`
		require.Equal(t, 45009, post(t, s.WebhookURL(DefaultRobotKey), body).errcode())
		require.Equal(t, 45009, post(t, s.WebhookURL(DefaultRobotKey), body).errcode())
		require.Equal(t, 0, post(t, s.WebhookURL(DefaultRobotKey), body).errcode())
		require.Equal(t, 3, s.RobotCalls())
	})

	t.Run("BodyRecorded", func(t *testing.T) {
		t.Parallel()
		s := New(t)
		body := `{"msgtype":"text","text":{"content":"<b>&</b>"}}`
		post(t, s.WebhookURL(DefaultRobotKey), body)
		m := s.Sent()[0]
		require.True(t, bytes.Equal([]byte(body), m.Body))
		m.Body[0] = 'X'
		require.Equal(t, byte('{'), s.Sent()[0].Body[0], "Sent returns copies")
	})
}
