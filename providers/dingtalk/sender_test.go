package dingtalk

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/providers/dingtalk/dingtalkfake"
)

func fakeConfig(fake *dingtalkfake.Server) Config {
	return Config{
		AccessToken: dingtalkfake.DefaultAccessToken,
		Secret:      dingtalkfake.DefaultSecret,
		BaseURL:     fake.URL(),
		TimeoutMS:   2000,
	}
}

// setup starts a fake and a sender pointed at it.
func setup(t *testing.T, opts ...dingtalkfake.Option) (*dingtalkfake.Server, *Sender) {
	t.Helper()
	fake := dingtalkfake.New(t, opts...)
	s, err := NewSender(fakeConfig(fake))
	require.NoError(t, err)
	return fake, s
}

func message() providers.Message {
	return providers.Message{
		TaskID:   "0b7f4a52-3c1e-4d6a-9f0e-6a2b8c4d1e3f",
		Attempt:  1,
		Receiver: "-",
		Subject:  "Disk alert",
		Content:  "disk /var on db-1 is 91% full",
	}
}

func requireClass(t *testing.T, err error, class providers.Class, code string) *providers.Error {
	t.Helper()
	require.Error(t, err)
	var pe *providers.Error
	require.True(t, errors.As(err, &pe), "not a *providers.Error: %v", err)
	require.Equal(t, class, pe.Class, "error: %v", err)
	require.Equal(t, code, pe.Code, "error: %v", err)
	return pe
}

func TestSend(t *testing.T) {
	t.Parallel()

	t.Run("Text", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		res, err := s.Send(context.Background(), message())
		require.NoError(t, err)
		require.Equal(t, providers.Result{Delivered: true}, res)
		sent := fake.Sent()
		require.Len(t, sent, 1)
		require.Equal(t, dingtalkfake.DefaultAccessToken, sent[0].AccessToken)
		require.Equal(t, "text", sent[0].MsgType)
		require.Equal(t, "disk /var on db-1 is 91% full", sent[0].Text)
		require.Empty(t, sent[0].AtMobiles)
		require.False(t, sent[0].IsAtAll)
		require.True(t, sent[0].Answered)
	})

	t.Run("TextMentions", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		msg := message()
		msg.Receiver = "@13800000000,@13900000000"
		_, err := s.Send(context.Background(), msg)
		require.NoError(t, err)
		sent := fake.Sent()[0]
		require.Equal(t, []string{"13800000000", "13900000000"}, sent.AtMobiles)
		require.Equal(t, "disk /var on db-1 is 91% full\n@13800000000 @13900000000", sent.Text)
	})

	t.Run("AtAll", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		msg := message()
		msg.Receiver = "@all"
		_, err := s.Send(context.Background(), msg)
		require.NoError(t, err)
		sent := fake.Sent()[0]
		require.True(t, sent.IsAtAll)
		require.Equal(t, msg.Content, sent.Text)
	})

	t.Run("Markdown", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		msg := message()
		msg.ContentType = "markdown"
		msg.Receiver = "@id:ops01"
		msg.Content = "### Disk alert\n> /var is **91%** full & <growing>"
		_, err := s.Send(context.Background(), msg)
		require.NoError(t, err)
		sent := fake.Sent()[0]
		require.Equal(t, "markdown", sent.MsgType)
		require.Equal(t, "Disk alert", sent.Title)
		require.Equal(t, msg.Content+"\n\n@ops01", sent.Text)
		require.Equal(t, []string{"ops01"}, sent.AtUserIDs)
		require.Contains(t, string(sent.Body), "& <growing>", "markdown is sent as written")
	})

	t.Run("ActionCard", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		msg := message()
		msg.ContentType = "action_card"
		msg.Params = []providers.Param{{Name: "url", Value: "https://example.com/alerts/7"}, {Name: "btn_title", Value: "Open alert"}}
		_, err := s.Send(context.Background(), msg)
		require.NoError(t, err)
		sent := fake.Sent()[0]
		require.Equal(t, "actionCard", sent.MsgType)
		require.Equal(t, "Disk alert", sent.Title)
		require.Equal(t, msg.Content, sent.Text)
		require.Equal(t, "Open alert", sent.SingleTitle)
		require.Equal(t, "https://example.com/alerts/7", sent.SingleURL)
	})

	t.Run("WebhookURLConfig", func(t *testing.T) {
		t.Parallel()
		fake := dingtalkfake.New(t)
		s, err := NewSender(Config{WebhookURL: fake.WebhookURL(dingtalkfake.DefaultAccessToken), Secret: dingtalkfake.DefaultSecret})
		require.NoError(t, err)
		_, err = s.Send(context.Background(), message())
		require.NoError(t, err)
		require.Len(t, fake.Sent(), 1)
	})

	t.Run("UnsignedRobotWithKeyword", func(t *testing.T) {
		t.Parallel()
		fake := dingtalkfake.New(t, dingtalkfake.WithRobot(dingtalkfake.Robot{AccessToken: "kw", Keywords: []string{"alert"}}))
		s, err := NewSender(Config{AccessToken: "kw", BaseURL: fake.URL()})
		require.NoError(t, err)
		msg := message()
		msg.Content = "an alert"
		_, err = s.Send(context.Background(), msg)
		require.NoError(t, err)

		msg.Content = "nothing to see"
		_, err = s.Send(context.Background(), msg)
		pe := requireClass(t, err, providers.ClassConfig, "310000")
		require.Contains(t, pe.Message, "keywords not in content")
		require.Len(t, fake.Sent(), 1)
	})

	t.Run("RefusedLocally", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		msg := message()
		msg.ContentType = "html"
		_, err := s.Send(context.Background(), msg)
		requireClass(t, err, providers.ClassPermanent, CodeUnsupportedContent)
		require.Empty(t, fake.Sent())
	})
}

func TestSendSignature(t *testing.T) {
	t.Parallel()

	t.Run("WrongSecret", func(t *testing.T) {
		t.Parallel()
		fake := dingtalkfake.New(t)
		cfg := fakeConfig(fake)
		cfg.Secret = "SECwrong"
		s, err := NewSender(cfg)
		require.NoError(t, err)
		_, err = s.Send(context.Background(), message())
		pe := requireClass(t, err, providers.ClassConfig, "310000")
		require.Contains(t, pe.Message, "sign not match")
		require.Empty(t, fake.Sent())
	})

	t.Run("NoSecretForSigningRobot", func(t *testing.T) {
		t.Parallel()
		fake := dingtalkfake.New(t)
		cfg := fakeConfig(fake)
		cfg.Secret = ""
		s, err := NewSender(cfg)
		require.NoError(t, err)
		_, err = s.Send(context.Background(), message())
		requireClass(t, err, providers.ClassConfig, "310000")
	})

	for name, skew := range map[string]time.Duration{"ClockBehind": -61 * time.Minute, "ClockAhead": 61 * time.Minute} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fake := dingtalkfake.New(t)
			s, err := NewSender(fakeConfig(fake), WithClock(func() time.Time { return time.Now().Add(skew) }))
			require.NoError(t, err)
			_, err = s.Send(context.Background(), message())
			pe := requireClass(t, err, providers.ClassConfig, "310000")
			require.Contains(t, pe.Message, "invalid timestamp")
		})
	}

	t.Run("ClockWithinAnHour", func(t *testing.T) {
		t.Parallel()
		fake := dingtalkfake.New(t)
		s, err := NewSender(fakeConfig(fake), WithClock(func() time.Time { return time.Now().Add(-59 * time.Minute) }))
		require.NoError(t, err)
		_, err = s.Send(context.Background(), message())
		require.NoError(t, err)
	})

	t.Run("UnknownToken", func(t *testing.T) {
		t.Parallel()
		fake := dingtalkfake.New(t)
		cfg := fakeConfig(fake)
		cfg.AccessToken = "0000"
		s, err := NewSender(cfg)
		require.NoError(t, err)
		_, err = s.Send(context.Background(), message())
		requireClass(t, err, providers.ClassAccount, "300005")
	})
}

func TestSendErrcodes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code  int
		class providers.Class
	}{
		{-1, providers.ClassTransient},
		{130101, providers.ClassThrottled},
		{410100, providers.ClassThrottled},
		{310000, providers.ClassConfig},
		{300001, providers.ClassAccount},
		{400102, providers.ClassAccount},
		{430104, providers.ClassPermanent},
		{40035, providers.ClassPermanent},
		{999999, providers.ClassTransient},
	}
	for _, tc := range tests {
		t.Run(string(tc.class)+"/"+strconv.Itoa(tc.code), func(t *testing.T) {
			t.Parallel()
			fake, s := setup(t)
			fake.FailNext(1, tc.code)
			_, err := s.Send(context.Background(), message())
			requireClass(t, err, tc.class, strconv.Itoa(tc.code))
			require.Empty(t, fake.Sent())

			_, err = s.Send(context.Background(), message())
			require.NoError(t, err, "the failure was for one request only")
		})
	}
}

func TestSendThrottled(t *testing.T) {
	t.Parallel()

	t.Run("Injected", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		fake.Throttle(1)
		_, err := s.Send(context.Background(), message())
		pe := requireClass(t, err, providers.ClassThrottled, "130101")
		require.Equal(t, 10*time.Minute, pe.RetryAfter)
		require.Contains(t, pe.Message, "send too fast")
	})

	t.Run("OverTheRobotRate", func(t *testing.T) {
		t.Parallel()
		var mu sync.Mutex
		now := time.Now()
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
		fake := dingtalkfake.New(t, dingtalkfake.WithClock(clock), dingtalkfake.WithRateLimit(3, time.Minute, 10*time.Minute))
		s, err := NewSender(fakeConfig(fake), WithClock(clock))
		require.NoError(t, err)

		for range 3 {
			_, err := s.Send(context.Background(), message())
			require.NoError(t, err)
		}
		_, err = s.Send(context.Background(), message())
		pe := requireClass(t, err, providers.ClassThrottled, "130101")
		require.Equal(t, 10*time.Minute, pe.RetryAfter)

		advance(2 * time.Minute) // out of the window, still blocked
		_, err = s.Send(context.Background(), message())
		requireClass(t, err, providers.ClassThrottled, "130101")

		advance(pe.RetryAfter) // the hint is enough
		_, err = s.Send(context.Background(), message())
		require.NoError(t, err)
		require.Len(t, fake.Sent(), 4)
	})
}

func TestSendTransport(t *testing.T) {
	t.Parallel()

	t.Run("HangIsUnknown", func(t *testing.T) {
		t.Parallel()
		fake := dingtalkfake.New(t)
		cfg := fakeConfig(fake)
		cfg.TimeoutMS = 150
		s, err := NewSender(cfg)
		require.NoError(t, err)
		fake.Hang(1)
		_, err = s.Send(context.Background(), message())
		requireClass(t, err, providers.ClassUnknownOutcome, CodeTimeout)
		sent := fake.Sent()
		require.Len(t, sent, 1, "the robot posted it")
		require.False(t, sent[0].Answered)
	})

	t.Run("DropIsUnknown", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		fake.Drop(1)
		_, err := s.Send(context.Background(), message())
		requireClass(t, err, providers.ClassUnknownOutcome, CodeConnectionLost)
		require.Len(t, fake.Sent(), 1)
	})

	t.Run("DownIsTransient", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		fake.Down()
		_, err := s.Send(context.Background(), message())
		requireClass(t, err, providers.ClassTransient, "HTTP_502")
		fake.Up()
		_, err = s.Send(context.Background(), message())
		require.NoError(t, err)
	})

	answering := func(t *testing.T, h http.HandlerFunc) *Sender {
		t.Helper()
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		s, err := NewSender(Config{AccessToken: "tok", BaseURL: srv.URL})
		require.NoError(t, err)
		return s
	}

	t.Run("OKWithoutErrcodeIsUnknown", func(t *testing.T) {
		t.Parallel()
		s := answering(t, func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "<html>ok</html>")
		})
		_, err := s.Send(context.Background(), message())
		requireClass(t, err, providers.ClassUnknownOutcome, CodeBadAnswer)
	})

	t.Run("ErrcodeWithHTTPErrorIsBelieved", func(t *testing.T) {
		t.Parallel()
		s := answering(t, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = io.WriteString(w, `{"errcode":130101,"errmsg":"send too fast"}`)
		})
		_, err := s.Send(context.Background(), message())
		requireClass(t, err, providers.ClassThrottled, "130101")
	})

	t.Run("RedirectIsNotFollowed", func(t *testing.T) {
		t.Parallel()
		s := answering(t, func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "https://elsewhere.example/", http.StatusFound)
		})
		_, err := s.Send(context.Background(), message())
		requireClass(t, err, providers.ClassConfig, "HTTP_302")
	})

	t.Run("RequestShape", func(t *testing.T) {
		t.Parallel()
		var got *http.Request
		var body []byte
		s := answering(t, func(w http.ResponseWriter, r *http.Request) {
			got = r
			body, _ = io.ReadAll(r.Body)
			_, _ = io.WriteString(w, `{"errcode":0,"errmsg":"ok"}`)
		})
		_, err := s.Send(context.Background(), message())
		require.NoError(t, err)
		require.Equal(t, http.MethodPost, got.Method)
		require.Equal(t, "/robot/send", got.URL.Path)
		require.Equal(t, "tok", got.URL.Query().Get("access_token"))
		require.False(t, got.URL.Query().Has("sign"), "no secret, no signature")
		require.Equal(t, "application/json; charset=utf-8", got.Header.Get("Content-Type"))
		var m map[string]any
		require.NoError(t, json.Unmarshal(body, &m))
		require.Equal(t, "text", m["msgtype"])
	})
}

func TestProvider(t *testing.T) {
	t.Parallel()
	p := New()
	require.Equal(t, "dingtalk", p.Kind())
	require.Nil(t, p.ReceiptHandler())
	require.Equal(t, providers.Rate{Limit: 20, Per: time.Minute}, p.DefaultRate(providers.Account{}))

	fake := dingtalkfake.New(t)
	raw, err := json.Marshal(fakeConfig(fake))
	require.NoError(t, err)
	s, err := p.NewSender(providers.Account{ID: 9, Kind: Kind, Config: raw})
	require.NoError(t, err)
	_, err = s.Send(context.Background(), message())
	require.NoError(t, err)

	_, err = p.NewSender(providers.Account{ID: 9, Kind: Kind, Config: json.RawMessage(`{"secret":"SECx"}`)})
	require.ErrorContains(t, err, "account 9")
	require.NotContains(t, err.Error(), "SECx")
}
