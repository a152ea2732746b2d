package feishu

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/providers/feishu/feishufake"
)

func fakeConfig(fake *feishufake.Server) Config {
	return Config{
		HookID:    feishufake.DefaultHookID,
		Secret:    feishufake.DefaultSecret,
		BaseURL:   fake.URL(),
		TimeoutMS: 2000,
	}
}

// setup starts a fake and a sender pointed at it.
func setup(t *testing.T, opts ...feishufake.Option) (*feishufake.Server, *Sender) {
	t.Helper()
	fake := feishufake.New(t, opts...)
	s, err := NewSender(fakeConfig(fake))
	require.NoError(t, err)
	return fake, s
}

func message() providers.Message {
	return providers.Message{
		TaskID:   "5d6e7f80-1a2b-4c3d-8e9f-0a1b2c3d4e5f",
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
		require.Equal(t, feishufake.DefaultHookID, sent[0].HookID)
		require.Equal(t, "text", sent[0].MsgType)
		require.Equal(t, "disk /var on db-1 is 91% full", sent[0].Text)
		require.Empty(t, sent[0].Mentions)
		require.True(t, sent[0].Answered)

		var body map[string]any
		require.NoError(t, json.Unmarshal(sent[0].Body, &body))
		require.IsType(t, "", body["timestamp"], "the timestamp is a string")
		require.NotEmpty(t, body["sign"])
	})

	t.Run("TextMentions", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		msg := message()
		msg.Receiver = "@all,@ou_84aad35d084aa403a838cf73ee18467"
		_, err := s.Send(context.Background(), msg)
		require.NoError(t, err)
		require.Equal(t, []string{"all", "ou_84aad35d084aa403a838cf73ee18467"}, fake.Sent()[0].Mentions)
	})

	t.Run("Post", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		msg := message()
		msg.ContentType = "post"
		msg.Receiver = "@ou_1"
		msg.Content = "line one\nline two"
		msg.Params = []providers.Param{{Name: "url", Value: "https://example.com/a/7"}}
		_, err := s.Send(context.Background(), msg)
		require.NoError(t, err)
		sent := fake.Sent()[0]
		require.Equal(t, "post", sent.MsgType)
		require.Equal(t, "Disk alert", sent.Title)
		require.Equal(t, "line one\nline two\nView details\n", sent.Text)
		require.Equal(t, []string{"ou_1"}, sent.Mentions)
	})

	t.Run("Interactive", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		msg := message()
		msg.ContentType = "interactive"
		msg.Receiver = "@all"
		msg.Content = "**db-1**: /var is 91% full"
		msg.Params = []providers.Param{{Name: "url", Value: "https://example.com/a/7"}, {Name: "btn_title", Value: "Open"}}
		_, err := s.Send(context.Background(), msg)
		require.NoError(t, err)
		sent := fake.Sent()[0]
		require.Equal(t, "interactive", sent.MsgType)
		require.Equal(t, "Disk alert", sent.Title)
		require.Equal(t, "**db-1**: /var is 91% full\n<at id=all></at>\nOpen", sent.Text)
		require.Equal(t, []string{"all"}, sent.Mentions)
		require.Contains(t, string(sent.Card), `"url":"https://example.com/a/7"`)
	})

	t.Run("WebhookURLConfig", func(t *testing.T) {
		t.Parallel()
		fake := feishufake.New(t)
		s, err := NewSender(Config{WebhookURL: fake.WebhookURL(feishufake.DefaultHookID), Secret: feishufake.DefaultSecret})
		require.NoError(t, err)
		_, err = s.Send(context.Background(), message())
		require.NoError(t, err)
		require.Len(t, fake.Sent(), 1)
	})

	t.Run("LegacyAnswer", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t, feishufake.WithLegacyAnswer())
		_, err := s.Send(context.Background(), message())
		require.NoError(t, err)
		require.Len(t, fake.Sent(), 1)
	})

	t.Run("UnsignedBotWithKeyword", func(t *testing.T) {
		t.Parallel()
		fake := feishufake.New(t, feishufake.WithBot(feishufake.Bot{HookID: "kw", Keywords: []string{"disk"}}))
		s, err := NewSender(Config{HookID: "kw", BaseURL: fake.URL()})
		require.NoError(t, err)
		_, err = s.Send(context.Background(), message())
		require.NoError(t, err)

		msg := message()
		msg.Subject, msg.Content = "", "nothing to see"
		_, err = s.Send(context.Background(), msg)
		pe := requireClass(t, err, providers.ClassConfig, "19024")
		require.Contains(t, pe.Message, "Key Words Not Found")
		require.Len(t, fake.Sent(), 1)

		var body map[string]any
		require.NoError(t, json.Unmarshal(fake.Sent()[0].Body, &body))
		require.NotContains(t, body, "sign", "no secret, no signature")
	})

	t.Run("TooLargeIsRefusedLocally", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		msg := message()
		msg.Content = strings.Repeat("x", MaxBodyBytes)
		_, err := s.Send(context.Background(), msg)
		requireClass(t, err, providers.ClassPermanent, "9499")
		require.Empty(t, fake.Sent())
	})
}

func TestSendSignature(t *testing.T) {
	t.Parallel()

	t.Run("WrongSecret", func(t *testing.T) {
		t.Parallel()
		fake := feishufake.New(t)
		cfg := fakeConfig(fake)
		cfg.Secret = "wrong"
		s, err := NewSender(cfg)
		require.NoError(t, err)
		_, err = s.Send(context.Background(), message())
		pe := requireClass(t, err, providers.ClassConfig, "19021")
		require.Contains(t, pe.Message, "sign match fail")
		require.Empty(t, fake.Sent())
	})

	t.Run("NoSecretForSigningBot", func(t *testing.T) {
		t.Parallel()
		fake := feishufake.New(t)
		cfg := fakeConfig(fake)
		cfg.Secret = ""
		s, err := NewSender(cfg)
		require.NoError(t, err)
		_, err = s.Send(context.Background(), message())
		requireClass(t, err, providers.ClassConfig, "19021")
	})

	for name, skew := range map[string]time.Duration{"ClockBehind": -61 * time.Minute, "ClockAhead": 61 * time.Minute} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fake := feishufake.New(t)
			s, err := NewSender(fakeConfig(fake), WithClock(func() time.Time { return time.Now().Add(skew) }))
			require.NoError(t, err)
			_, err = s.Send(context.Background(), message())
			requireClass(t, err, providers.ClassConfig, "19021")
		})
	}

	t.Run("UnknownHook", func(t *testing.T) {
		t.Parallel()
		fake := feishufake.New(t)
		cfg := fakeConfig(fake)
		cfg.HookID = "00000000-0000-0000-0000-000000000000"
		s, err := NewSender(cfg)
		require.NoError(t, err)
		_, err = s.Send(context.Background(), message())
		requireClass(t, err, providers.ClassAccount, "19001")
	})
}

func TestSendCodes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code  int
		class providers.Class
	}{
		{9499, providers.ClassPermanent},
		{11232, providers.ClassThrottled},
		{19021, providers.ClassConfig},
		{19022, providers.ClassConfig},
		{19024, providers.ClassConfig},
		{19001, providers.ClassAccount},
		{2200, providers.ClassTransient},
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
		pe := requireClass(t, err, providers.ClassThrottled, "11232")
		require.Contains(t, pe.Message, "frequency limited")
	})

	t.Run("OverTheBotRate", func(t *testing.T) {
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
		fake := feishufake.New(t, feishufake.WithClock(clock), feishufake.WithRateLimit(4, 2))
		s, err := NewSender(fakeConfig(fake), WithClock(clock))
		require.NoError(t, err)

		send := func() error {
			_, err := s.Send(context.Background(), message())
			return err
		}
		require.NoError(t, send())
		require.NoError(t, send())
		requireClass(t, send(), providers.ClassThrottled, "11232") // 3rd in one second
		advance(time.Second)
		require.NoError(t, send())
		require.NoError(t, send())
		advance(time.Second)
		requireClass(t, send(), providers.ClassThrottled, "11232") // 5th in one minute
		advance(time.Minute)
		require.NoError(t, send())
		require.Len(t, fake.Sent(), 5)
	})
}

func TestSendTransport(t *testing.T) {
	t.Parallel()

	t.Run("HangIsUnknown", func(t *testing.T) {
		t.Parallel()
		fake := feishufake.New(t)
		cfg := fakeConfig(fake)
		cfg.TimeoutMS = 150
		s, err := NewSender(cfg)
		require.NoError(t, err)
		fake.Hang(1)
		_, err = s.Send(context.Background(), message())
		requireClass(t, err, providers.ClassUnknownOutcome, CodeTimeout)
		sent := fake.Sent()
		require.Len(t, sent, 1, "the bot posted it")
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

	t.Run("RequestShapeAndNoRedirect", func(t *testing.T) {
		t.Parallel()
		var got *http.Request
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got = r
			_, _ = io.Copy(io.Discard, r.Body)
			http.Redirect(w, r, "https://elsewhere.example/", http.StatusFound)
		}))
		t.Cleanup(srv.Close)
		s, err := NewSender(Config{HookID: "h1", BaseURL: srv.URL})
		require.NoError(t, err)
		_, err = s.Send(context.Background(), message())
		requireClass(t, err, providers.ClassConfig, "HTTP_302")
		require.Equal(t, http.MethodPost, got.Method)
		require.Equal(t, "/open-apis/bot/v2/hook/h1", got.URL.Path)
		require.Equal(t, "application/json; charset=utf-8", got.Header.Get("Content-Type"))
	})
}

func TestProvider(t *testing.T) {
	t.Parallel()
	p := New()
	require.Equal(t, "feishu", p.Kind())
	require.Nil(t, p.ReceiptHandler())
	rate := p.DefaultRate(providers.Account{})
	require.Equal(t, providers.Rate{Limit: 5, Per: 3 * time.Second}, rate)
	require.LessOrEqual(t, float64(rate.Limit)*float64(time.Minute)/float64(rate.Per), 100.0, "100 a minute")

	fake := feishufake.New(t)
	raw, err := json.Marshal(fakeConfig(fake))
	require.NoError(t, err)
	s, err := p.NewSender(providers.Account{ID: 4, Kind: Kind, Config: raw})
	require.NoError(t, err)
	_, err = s.Send(context.Background(), message())
	require.NoError(t, err)

	_, err = p.NewSender(providers.Account{ID: 4, Kind: Kind, Config: json.RawMessage(`{"secret":"topsecret"}`)})
	require.ErrorContains(t, err, "account 4")
	require.NotContains(t, err.Error(), "topsecret")
}
