package wechatwork

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/providers/wechatwork/wechatworkfake"
)

func appConfig(fake *wechatworkfake.Server) Config {
	return Config{
		CorpID:         wechatworkfake.DefaultCorpID,
		CorpSecret:     wechatworkfake.DefaultCorpSecret,
		AgentID:        wechatworkfake.DefaultAgentID,
		BaseURL:        fake.URL(),
		TimeoutSeconds: 5,
	}
}

// setup starts a fake and a sender pointed at it.
func setup(t *testing.T, opts ...wechatworkfake.Option) (*wechatworkfake.Server, *Sender) {
	t.Helper()
	fake := wechatworkfake.New(t, opts...)
	s, err := NewSender(appConfig(fake))
	require.NoError(t, err)
	return fake, s
}

func textMessage() providers.Message {
	return providers.Message{
		TaskID:      "0b9c3c1e-2f0c-4f43-8f1e-3c7d5a1b9e20",
		Attempt:     1,
		Receiver:    "zhangsan",
		Content:     "disk /var is 91% full",
		ContentType: "text",
	}
}

func requireClass(t *testing.T, err error, class providers.Class, code string) *providers.Error {
	t.Helper()
	require.Error(t, err)
	var pe *providers.Error
	require.True(t, errors.As(err, &pe), "want *providers.Error, got %T: %v", err, err)
	require.Equal(t, class, pe.Class, pe.Error())
	require.Equal(t, code, pe.Code, pe.Error())
	return pe
}

// body decodes a recorded request body.
func body(t *testing.T, m wechatworkfake.SentMessage) map[string]any {
	t.Helper()
	var v map[string]any
	require.NoError(t, json.Unmarshal(m.Body, &v))
	return v
}

func TestSend(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("Text", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		res, err := s.Send(ctx, textMessage())
		require.NoError(t, err)
		sent := fake.Sent()
		require.Len(t, sent, 1)
		require.Equal(t, providers.Result{ProviderMessageID: sent[0].MsgID, Delivered: true}, res)
		require.NotEmpty(t, res.ProviderMessageID)
		require.Equal(t, wechatworkfake.KindApp, sent[0].Kind)
		require.Equal(t, "text", sent[0].MsgType)
		require.Equal(t, "disk /var is 91% full", sent[0].Content)
		require.Equal(t, "zhangsan", sent[0].ToUser)
		require.Equal(t, wechatworkfake.DefaultAgentID, sent[0].AgentID)
		b := body(t, sent[0])
		require.Equal(t, float64(wechatworkfake.DefaultAgentID), b["agentid"], "agentid is a JSON number")
		require.NotContains(t, b, "toparty")
		require.NotContains(t, b, "totag")
		require.True(t, sent[0].Answered)
	})

	t.Run("EmptyContentTypeIsText", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		msg := textMessage()
		msg.ContentType = ""
		_, err := s.Send(ctx, msg)
		require.NoError(t, err)
		require.Equal(t, "text", fake.Sent()[0].MsgType)
	})

	t.Run("LinksAreNotEscaped", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		msg := textMessage()
		msg.Content = `see <a href="https://status.example.com/?a=1&b=2">status</a>`
		_, err := s.Send(ctx, msg)
		require.NoError(t, err)
		sent := fake.Sent()[0]
		require.Equal(t, msg.Content, sent.Content)
		require.Contains(t, string(sent.Body), `<a href=`)
		require.Contains(t, string(sent.Body), `&b=2`)
		require.NotContains(t, string(sent.Body), `\u003c`)
	})

	t.Run("Markdown", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		msg := textMessage()
		msg.ContentType = "markdown"
		msg.Content = "# Alert\n> **db-1** is down"
		_, err := s.Send(ctx, msg)
		require.NoError(t, err)
		sent := fake.Sent()[0]
		require.Equal(t, "markdown", sent.MsgType)
		require.Equal(t, msg.Content, sent.Content)
		require.NotContains(t, body(t, sent), "text")
	})

	t.Run("TextCard", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		msg := textMessage()
		msg.ContentType = "textcard"
		msg.Subject = "Leave approved"
		msg.Content = "Your leave for 3 March was approved."
		msg.Params = []providers.Param{
			{Name: "url", Value: "https://old.example.com"},
			{Name: "url", Value: "https://hr.example.com/leave/42"},
			{Name: "btntxt", Value: "查看"},
		}
		_, err := s.Send(ctx, msg)
		require.NoError(t, err)
		sent := fake.Sent()[0]
		require.Equal(t, "textcard", sent.MsgType)
		require.Equal(t, "Leave approved", sent.Title)
		require.Equal(t, "Your leave for 3 March was approved.", sent.Content)
		require.Equal(t, "https://hr.example.com/leave/42", sent.URL, "the later parameter wins")
		require.Equal(t, "查看", sent.BtnTxt)
	})

	t.Run("TextCardWithoutButtonText", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		msg := textMessage()
		msg.ContentType = "textcard"
		msg.Subject = "Build failed"
		msg.Params = []providers.Param{{Name: "url", Value: "https://ci.example.com/1"}}
		_, err := s.Send(ctx, msg)
		require.NoError(t, err)
		card := body(t, fake.Sent()[0])["textcard"].(map[string]any)
		require.NotContains(t, card, "btntxt", "WeCom's default button text applies")
	})

	t.Run("ReceiverCombination", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		msg := textMessage()
		msg.Receiver = "zhangsan|lisi; party:2|3 ;tag:5"
		_, err := s.Send(ctx, msg)
		require.NoError(t, err)
		sent := fake.Sent()[0]
		require.Equal(t, "zhangsan|lisi", sent.ToUser)
		require.Equal(t, "2|3", sent.ToParty)
		require.Equal(t, "5", sent.ToTag)
	})

	t.Run("PartyOnly", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		msg := textMessage()
		msg.Receiver = "party:7"
		_, err := s.Send(ctx, msg)
		require.NoError(t, err)
		sent := fake.Sent()[0]
		require.Empty(t, sent.ToUser)
		require.Equal(t, []string{"7"}, sent.Parties)
		require.NotContains(t, body(t, sent), "touser")
	})

	t.Run("All", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		msg := textMessage()
		msg.Receiver = "@all;party:2"
		_, err := s.Send(ctx, msg)
		require.NoError(t, err)
		sent := fake.Sent()[0]
		require.Equal(t, "@all", sent.ToUser)
		require.Empty(t, sent.ToParty, "toparty means nothing with @all")
		require.Equal(t, []string{"@all"}, sent.Users)
	})

	t.Run("PartialInvalid", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t,
			wechatworkfake.WithUsers("zhangsan", "lisi"),
			wechatworkfake.WithUnlicensedUsers("wangwu"),
			wechatworkfake.WithParties("2"),
			wechatworkfake.WithTags("5"))
		msg := textMessage()
		msg.Receiver = "zhangsan|Ghost|wangwu;party:2|9;tag:5|7"
		res, err := s.Send(ctx, msg)
		require.NoError(t, err)
		require.True(t, res.Delivered)
		require.Equal(t, []string{"ghost", "wangwu", "party:9", "tag:7"}, res.InvalidReceivers)
		sent := fake.Sent()
		require.Len(t, sent, 1)
		require.Equal(t, []string{"zhangsan"}, sent[0].Users)
		require.Equal(t, []string{"2"}, sent[0].Parties)
		require.Equal(t, []string{"5"}, sent[0].Tags)
	})

	t.Run("AllReceiversInvalid", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t, wechatworkfake.WithUsers("zhangsan"))
		msg := textMessage()
		msg.Receiver = "ghost|phantom"
		_, err := s.Send(ctx, msg)
		requireClass(t, err, providers.ClassPermanent, "81013")
		require.Empty(t, fake.Sent())
	})
}

func TestSendLocalChecks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		edit func(*providers.Message)
		code string
	}{
		{"EmptyReceiver", func(m *providers.Message) { m.Receiver = " ; " }, CodeInvalidReceiver},
		{"PartyNotNumber", func(m *providers.Message) { m.Receiver = "party:sales" }, CodeInvalidReceiver},
		{"UnknownPrefix", func(m *providers.Message) { m.Receiver = "group:1" }, CodeInvalidReceiver},
		{"TooManyUsers", func(m *providers.Message) {
			ids := make([]string, MaxUsers+1)
			for i := range ids {
				ids[i] = "u" + strconv.Itoa(i)
			}
			m.Receiver = strings.Join(ids, "|")
		}, CodeInvalidReceiver},
		{"HTML", func(m *providers.Message) { m.ContentType = "html" }, CodeUnsupportedContentType},
		{"EmptyText", func(m *providers.Message) { m.Content = "  " }, CodeInvalidMessage},
		{"EmptyMarkdown", func(m *providers.Message) { m.ContentType = "markdown"; m.Content = "" }, CodeInvalidMessage},
		{"TextCardWithoutURL", func(m *providers.Message) { m.ContentType = "textcard"; m.Subject = "Title" }, CodeInvalidMessage},
		{"TextCardWithoutTitle", func(m *providers.Message) {
			m.ContentType = "textcard"
			m.Params = []providers.Param{{Name: "url", Value: "https://example.com"}}
		}, CodeInvalidMessage},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fake, s := setup(t)
			msg := textMessage()
			tc.edit(&msg)
			_, err := s.Send(context.Background(), msg)
			requireClass(t, err, providers.ClassPermanent, tc.code)
			require.Zero(t, fake.TokenCalls(), "no request for a message that cannot be sent")
			require.Zero(t, fake.SendCalls())
		})
	}
}

// clock is a settable clock for token expiry.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestTokenCache(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("OneGetTokenForManySends", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		for range 5 {
			_, err := s.Send(ctx, textMessage())
			require.NoError(t, err)
		}
		require.Equal(t, 1, fake.TokenCalls())
		require.Equal(t, 5, fake.SendCalls())
		require.Len(t, fake.Sent(), 5)
	})

	t.Run("ConcurrentFirstSendsShareOneFetch", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		sendWhileOneFetches(t, fake, s, 20)
		require.Equal(t, 1, fake.TokenCalls())
		require.Len(t, fake.Sent(), 20)
	})

	t.Run("SharedBySendersOfOneProvider", func(t *testing.T) {
		t.Parallel()
		fake := wechatworkfake.New(t)
		raw, err := json.Marshal(appConfig(fake))
		require.NoError(t, err)
		p := New()
		for id := range int64(3) {
			s, err := p.NewSender(providers.Account{ID: id + 1, Kind: Kind, Config: raw})
			require.NoError(t, err)
			_, err = s.Send(ctx, textMessage())
			require.NoError(t, err)
		}
		require.Equal(t, 1, fake.TokenCalls(), "a rebuilt sender reuses the application's token")
	})

	t.Run("SeparatePerApplication", func(t *testing.T) {
		t.Parallel()
		fake := wechatworkfake.New(t, wechatworkfake.WithApp(wechatworkfake.DefaultCorpID, "second-secret", 1000003))
		p := New()
		first := appConfig(fake)
		second := first
		second.CorpSecret, second.AgentID = "second-secret", 1000003
		for i, cfg := range []Config{first, second, first, second} {
			raw, err := json.Marshal(cfg)
			require.NoError(t, err)
			s, err := p.NewSender(providers.Account{ID: int64(i%2 + 1), Kind: Kind, Config: raw})
			require.NoError(t, err)
			_, err = s.Send(ctx, textMessage())
			require.NoError(t, err)
		}
		require.Equal(t, 2, fake.TokenCalls())
		sent := fake.Sent()
		require.Equal(t, int64(1000003), sent[1].AgentID)
	})

	t.Run("RefetchedBeforeExpiry", func(t *testing.T) {
		t.Parallel()
		fake := wechatworkfake.New(t)
		clk := &clock{now: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
		s, err := NewSender(appConfig(fake), WithClock(clk.Now))
		require.NoError(t, err)
		_, err = s.Send(ctx, textMessage())
		require.NoError(t, err)
		require.Equal(t, 1, fake.TokenCalls())

		// expires_in is 7200 s; the token is given up 5 minutes early.
		clk.Advance(7200*time.Second - tokenMargin - time.Second)
		_, err = s.Send(ctx, textMessage())
		require.NoError(t, err)
		require.Equal(t, 1, fake.TokenCalls())

		clk.Advance(2 * time.Second)
		_, err = s.Send(ctx, textMessage())
		require.NoError(t, err)
		require.Equal(t, 2, fake.TokenCalls())
	})
}

// sendWhileOneFetches sends n messages at once while the fake holds
// gettoken, and lets the held fetch finish only once the other n-1 senders
// wait for it: every sender needs a token, so if the fetches were not
// shared, the senders would never all be waiting and the test would fail.
func sendWhileOneFetches(t *testing.T, fake *wechatworkfake.Server, s *Sender, n int) {
	t.Helper()
	release := fake.HoldTokens()
	defer release()
	var waiting atomic.Int32
	allWaiting := make(chan struct{})
	s.tokens.mu.Lock()
	s.tokens.onWait = func() {
		if waiting.Add(1) == int32(n-1) {
			close(allWaiting)
		}
	}
	s.tokens.mu.Unlock()

	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			_, errs[i] = s.Send(context.Background(), textMessage())
		})
	}
	select {
	case <-allWaiting:
	case <-time.After(10 * time.Second):
		t.Fatalf("only %d of %d senders wait for the token fetch in flight", waiting.Load(), n-1)
	}
	release()
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, int32(n-1), waiting.Load())
}

func TestTokenRefresh(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("ExpiredTokenRefreshedOnce", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		_, err := s.Send(ctx, textMessage())
		require.NoError(t, err)
		fake.ExpireTokens()
		res, err := s.Send(ctx, textMessage())
		require.NoError(t, err)
		require.NotEmpty(t, res.ProviderMessageID)
		require.Equal(t, 2, fake.TokenCalls())
		require.Equal(t, 3, fake.SendCalls(), "one send, then a refused one and its retry")
		require.Len(t, fake.Sent(), 2)
	})

	for _, code := range []int{40014, 42001, 40001} {
		t.Run("RetriedAfter"+strconv.Itoa(code), func(t *testing.T) {
			t.Parallel()
			fake, s := setup(t)
			fake.FailNext(1, code)
			_, err := s.Send(ctx, textMessage())
			require.NoError(t, err)
			require.Equal(t, 2, fake.TokenCalls())
			require.Equal(t, 2, fake.SendCalls())
			require.Len(t, fake.Sent(), 1)
		})
	}

	t.Run("OnlyOneRetry", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		fake.FailNext(3, 42001)
		_, err := s.Send(ctx, textMessage())
		requireClass(t, err, providers.ClassTransient, "42001")
		require.Equal(t, 2, fake.SendCalls())
		require.Equal(t, 2, fake.TokenCalls())
		require.Empty(t, fake.Sent())
	})

	t.Run("RefreshRefused", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		_, err := s.Send(ctx, textMessage())
		require.NoError(t, err)
		fake.ExpireTokens()
		fake.FailNextToken(1, 60020)
		_, err = s.Send(ctx, textMessage())
		requireClass(t, err, providers.ClassAccount, "60020")
		require.Equal(t, 2, fake.SendCalls(), "no send without a token")
	})

	t.Run("ConcurrentSendsShareOneRefresh", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		_, err := s.Send(ctx, textMessage())
		require.NoError(t, err)
		fake.ExpireTokens()
		sendWhileOneFetches(t, fake, s, 20)
		require.Equal(t, 2, fake.TokenCalls(), "one fetch at the start, one refresh")
		require.Equal(t, 1+20*2, fake.SendCalls(), "every send was refused once and retried once")
		require.Len(t, fake.Sent(), 21)
	})
}

func TestSendErrorClasses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		errcode    int
		class      providers.Class
		retryAfter time.Duration
	}{
		{-1, providers.ClassTransient, 0},
		{45009, providers.ClassThrottled, time.Minute},
		{45033, providers.ClassThrottled, 0},
		{60020, providers.ClassAccount, 0},
		{48002, providers.ClassAccount, 0},
		{50003, providers.ClassAccount, 0},
		{40003, providers.ClassPermanent, 0},
		{44004, providers.ClassPermanent, 0},
		{81013, providers.ClassPermanent, 0},
		{40008, providers.ClassPermanent, 0},
		{99999, providers.ClassTransient, 0},
	}
	for _, tc := range tests {
		t.Run(string(tc.class)+"/"+strconv.Itoa(tc.errcode), func(t *testing.T) {
			t.Parallel()
			fake, s := setup(t)
			fake.FailNext(1, tc.errcode)
			_, err := s.Send(context.Background(), textMessage())
			pe := requireClass(t, err, tc.class, strconv.Itoa(tc.errcode))
			require.Equal(t, tc.retryAfter, pe.RetryAfter)
			require.Contains(t, pe.Message, "send wechatwork message")
			require.Empty(t, fake.Sent())
			require.Equal(t, 1, fake.SendCalls(), "no retry: retrying is the rule engine's call")
		})
	}
}

func TestSendCredentials(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name  string
		edit  func(*Config)
		class providers.Class
		code  string
	}{
		{"WrongSecret", func(c *Config) { c.CorpSecret = "wrong" }, providers.ClassAccount, "40001"},
		{"UnknownCorp", func(c *Config) { c.CorpID = "wwunknown" }, providers.ClassAccount, "40013"},
		{"UnknownAgent", func(c *Config) { c.AgentID = 99 }, providers.ClassAccount, "40056"},
		{"OtherApplicationsAgent", func(c *Config) { c.AgentID = 1000003 }, providers.ClassAccount, "301002"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fake := wechatworkfake.New(t, wechatworkfake.WithApp(wechatworkfake.DefaultCorpID, "second-secret", 1000003))
			cfg := appConfig(fake)
			tc.edit(&cfg)
			s, err := NewSender(cfg)
			require.NoError(t, err)
			_, err = s.Send(ctx, textMessage())
			pe := requireClass(t, err, tc.class, tc.code)
			require.NotContains(t, pe.Error(), cfg.CorpSecret)
			require.Empty(t, fake.Sent())
		})
	}

	t.Run("TokenFetchFaults", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			errcode int
			class   providers.Class
		}{{-1, providers.ClassTransient}, {45009, providers.ClassThrottled}, {60020, providers.ClassAccount}, {40091, providers.ClassAccount}} {
			fake, s := setup(t)
			fake.FailNextToken(1, tc.errcode)
			_, err := s.Send(ctx, textMessage())
			pe := requireClass(t, err, tc.class, strconv.Itoa(tc.errcode))
			require.Contains(t, pe.Message, "get wechatwork access token")
			require.Zero(t, fake.SendCalls())
			// The failure is not cached: the next send fetches again.
			_, err = s.Send(ctx, textMessage())
			require.NoError(t, err)
		}
	})
}

func TestSendTransport(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("HangIsUnknownOutcome", func(t *testing.T) {
		t.Parallel()
		fake := wechatworkfake.New(t)
		cfg := appConfig(fake)
		cfg.TimeoutSeconds = 1
		s, err := NewSender(cfg)
		require.NoError(t, err)
		fake.Hang(1)
		start := time.Now()
		_, err = s.Send(ctx, textMessage())
		requireClass(t, err, providers.ClassUnknownOutcome, CodeTimeout)
		require.Less(t, time.Since(start), 4*time.Second)
		sent := fake.Sent()
		require.Len(t, sent, 1, "the fake took the message")
		require.False(t, sent[0].Answered)
	})

	t.Run("GatewayErrorOnSendIsUnknownOutcome", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		_, err := s.Send(ctx, textMessage())
		require.NoError(t, err)
		fake.Down()
		_, err = s.Send(ctx, textMessage())
		requireClass(t, err, providers.ClassUnknownOutcome, "HTTP_502")
	})

	t.Run("GatewayErrorOnTokenIsTransient", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		fake.Down()
		_, err := s.Send(ctx, textMessage())
		requireClass(t, err, providers.ClassTransient, "HTTP_502")
		fake.Up()
		_, err = s.Send(ctx, textMessage())
		require.NoError(t, err)
	})

	// A server that gives tokens but breaks or garbles message/send.
	vendor := func(t *testing.T, send http.HandlerFunc) *Sender {
		t.Helper()
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/cgi-bin/gettoken" {
				_, _ = w.Write([]byte(`{"errcode":0,"errmsg":"ok","access_token":"tok-SECRET","expires_in":7200}`))
				return
			}
			send(w, r)
		}))
		t.Cleanup(srv.Close)
		s, err := NewSender(Config{CorpID: "wwcorp", CorpSecret: "secret", AgentID: 1, BaseURL: srv.URL})
		require.NoError(t, err)
		return s
	}

	t.Run("ConnectionLostAfterWriteIsUnknownOutcome", func(t *testing.T) {
		t.Parallel()
		s := vendor(t, func(w http.ResponseWriter, r *http.Request) {
			if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
				_ = conn.Close()
			}
		})
		_, err := s.Send(ctx, textMessage())
		pe := requireClass(t, err, providers.ClassUnknownOutcome, CodeConnectionLost)
		require.NotContains(t, pe.Error(), "tok-SECRET")
		require.NotContains(t, pe.Err.Error(), "tok-SECRET")
	})

	t.Run("UnreadableAnswerIsUnknownOutcome", func(t *testing.T) {
		t.Parallel()
		s := vendor(t, func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(`<html>maintenance</html>`))
		})
		_, err := s.Send(ctx, textMessage())
		requireClass(t, err, providers.ClassUnknownOutcome, CodeBadAnswer)
	})

	t.Run("AnswerWithoutErrcodeIsUnknownOutcome", func(t *testing.T) {
		t.Parallel()
		s := vendor(t, func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(`{"msgid":"abc"}`))
		})
		_, err := s.Send(ctx, textMessage())
		requireClass(t, err, providers.ClassUnknownOutcome, CodeBadAnswer)
	})

	t.Run("LenientAnswerFields", func(t *testing.T) {
		t.Parallel()
		s := vendor(t, func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(`{"errcode":0,"errmsg":"ok","invaliduser":["a","b"],"invalidparty":9,"invalidtag":"","msgid":12345}`))
		})
		res, err := s.Send(ctx, textMessage())
		require.NoError(t, err)
		require.Equal(t, "12345", res.ProviderMessageID)
		require.Equal(t, []string{"a", "b", "party:9"}, res.InvalidReceivers)
	})

	t.Run("RedirectNotFollowed", func(t *testing.T) {
		t.Parallel()
		s := vendor(t, func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://127.0.0.1:1/elsewhere", http.StatusFound)
		})
		_, err := s.Send(ctx, textMessage())
		pe := requireClass(t, err, providers.ClassConfig, "HTTP_302")
		require.Contains(t, pe.Message, "redirect")
	})
}

func TestProvider(t *testing.T) {
	t.Parallel()

	t.Run("App", func(t *testing.T) {
		t.Parallel()
		p := New()
		require.Equal(t, "wechatwork", p.Kind())
		require.Nil(t, p.ReceiptHandler())
		require.Equal(t, providers.Rate{Limit: 30, Per: time.Minute}, p.DefaultRate(providers.Account{}))
		require.NoError(t, p.ValidateConfig(json.RawMessage(`{"corp_id":"ww1","corp_secret":"s","agent_id":1000002}`)))
		require.ErrorContains(t, p.ValidateConfig(json.RawMessage(`{}`)), "corp_id is required")
		_, err := p.NewSender(providers.Account{ID: 9, Kind: Kind, Config: json.RawMessage(`{"corp_id":"ww1"}`)})
		require.ErrorContains(t, err, "account 9")
		require.ErrorContains(t, err, "corp_secret is required")
	})

	t.Run("Robot", func(t *testing.T) {
		t.Parallel()
		p := NewRobot()
		require.Equal(t, "wechatwork_robot", p.Kind())
		require.Nil(t, p.ReceiptHandler())
		require.Equal(t, providers.Rate{Limit: 20, Per: time.Minute}, p.DefaultRate(providers.Account{}))
		require.NoError(t, p.ValidateConfig(json.RawMessage(`{"key":"abc-123"}`)))
		require.ErrorContains(t, p.ValidateConfig(json.RawMessage(`{}`)), "key or webhook_url is required")
		_, err := p.NewSender(providers.Account{ID: 4, Kind: RobotKind, Config: json.RawMessage(`{"url":"x"}`)})
		require.ErrorContains(t, err, "account 4")
		require.ErrorContains(t, err, `unknown field "url"`)
	})

	t.Run("Registry", func(t *testing.T) {
		t.Parallel()
		reg := providers.NewRegistry(New(), NewRobot())
		require.Equal(t, []string{"wechatwork", "wechatwork_robot"}, reg.Kinds())
	})
}

// TestSendDuplicateCheck checks that an account's enable_duplicate_check
// and duplicate_check_interval reach WeCom's message/send body, which is
// what makes a resend after an unknown outcome safe.
func TestSendDuplicateCheck(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		config   func(*Config)
		check    bool
		interval int
	}{
		{"Off", func(*Config) {}, false, 0},
		{"OnWithWeComsInterval", func(c *Config) { c.EnableDuplicateCheck = true }, true, 0},
		{"OnWithInterval", func(c *Config) { c.EnableDuplicateCheck, c.DuplicateCheckInterval = true, 600 }, true, 600},
		// The interval means nothing without the check, so it is not sent.
		{"IntervalWithoutCheck", func(c *Config) { c.DuplicateCheckInterval = 600 }, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fake := wechatworkfake.New(t)
			cfg := appConfig(fake)
			tc.config(&cfg)
			s, err := NewSender(cfg)
			require.NoError(t, err)
			_, err = s.Send(context.Background(), textMessage())
			require.NoError(t, err)

			sent := fake.Sent()
			require.Len(t, sent, 1)
			require.Equal(t, tc.check, sent[0].DuplicateCheck)
			require.Equal(t, tc.interval, sent[0].DuplicateCheckInterval)
			b := body(t, sent[0])
			if !tc.check {
				require.NotContains(t, b, "enable_duplicate_check")
				require.NotContains(t, b, "duplicate_check_interval")
				return
			}
			require.Equal(t, float64(1), b["enable_duplicate_check"], "WeCom takes 0 or 1, not a boolean")
			if tc.interval == 0 {
				require.NotContains(t, b, "duplicate_check_interval", "left to WeCom's default")
			} else {
				require.Equal(t, float64(tc.interval), b["duplicate_check_interval"])
			}
		})
	}
}
