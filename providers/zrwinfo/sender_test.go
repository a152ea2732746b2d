package zrwinfo

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/providers/zrwinfo/zrwinfofake"
)

const (
	taskID   = "7c2b36f4-6f7e-4d7c-9a53-3d3f0e4b8f11"
	receiver = "+8613711112222"
	mobile   = "13711112222"
)

func fakeConfig(fake *zrwinfofake.Server) Config {
	return Config{
		AccessKey: zrwinfofake.DefaultAccessKey,
		Secret:    zrwinfofake.DefaultSecret,
		SignName:  "Herald",
		BaseURL:   fake.URL(),
	}
}

// setup starts a fake and a sender pointed at it.
func setup(t *testing.T, opts ...zrwinfofake.Option) (*zrwinfofake.Server, *Sender) {
	t.Helper()
	fake := zrwinfofake.New(t, opts...)
	s, err := NewSender(fakeConfig(fake))
	require.NoError(t, err)
	return fake, s
}

func senderWith(t *testing.T, fake *zrwinfofake.Server, edit func(*Config)) *Sender {
	t.Helper()
	cfg := fakeConfig(fake)
	edit(&cfg)
	s, err := NewSender(cfg)
	require.NoError(t, err)
	return s
}

func message() providers.Message {
	return providers.Message{
		TaskID:       taskID,
		Attempt:      1,
		Receiver:     receiver,
		TemplateCode: "44341",
		Params:       []providers.Param{{Name: "name", Value: "王先生"}, {Name: "time", Value: "9:40"}},
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

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t, zrwinfofake.WithTemplate("44341", 2), zrwinfofake.WithSign("【Herald】"))
		res, err := s.Send(context.Background(), message())
		require.NoError(t, err)
		sent := fake.Sent()
		require.Len(t, sent, 1)
		require.Equal(t, providers.Result{ProviderMessageID: sent[0].SmUUID}, res)
		require.Equal(t, zrwinfofake.SentMessage{
			SmUUID:     res.ProviderMessageID,
			Mobile:     mobile,
			TemplateID: "44341",
			Sign:       "【Herald】",
			Content:    "王先生##9:40",
			At:         sent[0].At,
			Answered:   true,
		}, sent[0])
	})

	t.Run("Signatures", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		for _, tc := range []struct{ given, sent string }{
			{"Other", "【Other】"},
			{"【Bracketed】", "【Bracketed】"},
			{"29183", "29183"},
			{"", "【Herald】"},
		} {
			msg := message()
			msg.Signature = tc.given
			_, err := s.Send(context.Background(), msg)
			require.NoError(t, err, tc.given)
			sent := fake.Sent()
			require.Equal(t, tc.sent, sent[len(sent)-1].Sign, tc.given)
		}
	})

	t.Run("ReceiverForms", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		for _, r := range []string{"13711112222", "+86 137 1111 2222", "008613711112222", "8613711112222"} {
			msg := message()
			msg.Receiver = r
			_, err := s.Send(context.Background(), msg)
			require.NoError(t, err, r)
		}
		for _, m := range fake.Sent() {
			require.Equal(t, mobile, m.Mobile)
		}
	})

	t.Run("NoParams", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t, zrwinfofake.WithTemplate("44341", 0))
		msg := message()
		msg.Params = nil
		_, err := s.Send(context.Background(), msg)
		require.NoError(t, err)
		require.Empty(t, fake.Sent()[0].Content)
	})
}

func TestSendLocalChecks(t *testing.T) {
	t.Parallel()
	fake := zrwinfofake.New(t)
	s := senderWith(t, fake, func(c *Config) { c.SignName = "" })
	tests := []struct {
		name  string
		edit  func(*providers.Message)
		class providers.Class
		code  string
	}{
		{"BadReceiver", func(m *providers.Message) { m.Receiver = "not a number"; m.Signature = "X" }, providers.ClassPermanent, CodeInvalidReceiver},
		{"EmptyReceiver", func(m *providers.Message) { m.Receiver = ""; m.Signature = "X" }, providers.ClassPermanent, CodeInvalidReceiver},
		{"International", func(m *providers.Message) { m.Receiver = "+14155550123"; m.Signature = "X" }, providers.ClassPermanent, CodeInvalidReceiver},
		{"Landline", func(m *providers.Message) { m.Receiver = "+861087654321"; m.Signature = "X" }, providers.ClassPermanent, CodeInvalidReceiver},
		{"NoTemplate", func(m *providers.Message) { m.TemplateCode = " "; m.Signature = "X" }, providers.ClassConfig, CodeNoTemplate},
		{"NoSignature", func(*providers.Message) {}, providers.ClassConfig, CodeNoSignature},
		{"SeparatorInVariable", func(m *providers.Message) { m.Signature = "X"; m.Params[0].Value = "a##b" }, providers.ClassPermanent, CodeInvalidParam},
		{"AltSeparatorInVariable", func(m *providers.Message) { m.Signature = "X"; m.Params[1].Value = "$$" }, providers.ClassPermanent, CodeInvalidParam},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			msg := message()
			msg.Params = append([]providers.Param(nil), msg.Params...)
			tc.edit(&msg)
			_, err := s.Send(context.Background(), msg)
			pe := requireClass(t, err, tc.class, tc.code)
			require.NotContains(t, pe.Error(), "13711112222", "errors must not carry the receiver")
		})
	}
	require.Empty(t, fake.Sent())
}

func TestSendVendorErrors(t *testing.T) {
	t.Parallel()
	// The reference's one code keeps its class; other codes are transient
	// unless the account maps them, which is how every class is reached.
	overrides := map[string]providers.Class{
		"9101": providers.ClassAccount,
		"9102": providers.ClassPermanent,
		"9103": providers.ClassConfig,
		"9104": providers.ClassUnknownOutcome,
		"9105": providers.ClassThrottled,
	}
	tests := []struct {
		code  string
		class providers.Class
	}{
		{"9006", providers.ClassThrottled},
		{"9999", providers.ClassTransient},
		{"9101", providers.ClassAccount},
		{"9102", providers.ClassPermanent},
		{"9103", providers.ClassConfig},
		{"9104", providers.ClassUnknownOutcome},
		{"9105", providers.ClassThrottled},
	}
	for _, tc := range tests {
		t.Run(string(tc.class)+"/"+tc.code, func(t *testing.T) {
			t.Parallel()
			fake := zrwinfofake.New(t)
			s := senderWith(t, fake, func(c *Config) { c.CodeClasses = overrides })
			fake.FailNext(1, tc.code)
			_, err := s.Send(context.Background(), message())
			pe := requireClass(t, err, tc.class, tc.code)
			require.Contains(t, pe.Message, "zrwinfo answered code "+tc.code)
			require.Empty(t, fake.Sent())
		})
	}
}

func TestSendRefusedByService(t *testing.T) {
	t.Parallel()

	t.Run("UnknownTemplate", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t, zrwinfofake.WithTemplate("1", 2))
		_, err := s.Send(context.Background(), message())
		requireClass(t, err, providers.ClassTransient, zrwinfofake.CodeBadTemplate)
		require.Empty(t, fake.Sent())
	})

	t.Run("VariableCountMappedToPermanent", func(t *testing.T) {
		t.Parallel()
		fake := zrwinfofake.New(t, zrwinfofake.WithTemplate("44341", 3))
		s := senderWith(t, fake, func(c *Config) {
			c.CodeClasses = map[string]providers.Class{zrwinfofake.CodeVariableCount: providers.ClassPermanent}
		})
		_, err := s.Send(context.Background(), message())
		requireClass(t, err, providers.ClassPermanent, zrwinfofake.CodeVariableCount)
	})

	t.Run("UnapprovedSignature", func(t *testing.T) {
		t.Parallel()
		_, s := setup(t, zrwinfofake.WithSign("【Other】"))
		_, err := s.Send(context.Background(), message())
		requireClass(t, err, providers.ClassTransient, zrwinfofake.CodeBadSign)
	})
}

func TestSendCredentials(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		key, secret string
	}{
		{"WrongSecret", zrwinfofake.DefaultAccessKey, "wrong"},
		{"UnknownKey", "unknown", zrwinfofake.DefaultSecret},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fake := zrwinfofake.New(t)
			s := senderWith(t, fake, func(c *Config) { c.AccessKey, c.Secret = tc.key, tc.secret })
			_, err := s.Send(context.Background(), message())
			// Zrwinfo's code for bad credentials is not published: the code
			// is kept, transient until the account maps it.
			pe := requireClass(t, err, providers.ClassTransient, zrwinfofake.CodeBadCredentials)
			require.NotContains(t, pe.Error(), tc.secret)

			mapped := senderWith(t, fake, func(c *Config) {
				c.AccessKey, c.Secret = tc.key, tc.secret
				c.CodeClasses = map[string]providers.Class{zrwinfofake.CodeBadCredentials: providers.ClassAccount}
			})
			_, err = mapped.Send(context.Background(), message())
			requireClass(t, err, providers.ClassAccount, zrwinfofake.CodeBadCredentials)
			require.Empty(t, fake.Sent())
		})
	}

	t.Run("OtherAccount", func(t *testing.T) {
		t.Parallel()
		fake := zrwinfofake.New(t, zrwinfofake.WithCredential("ak2", "sk2"))
		s := senderWith(t, fake, func(c *Config) { c.AccessKey, c.Secret = "ak2", "sk2" })
		_, err := s.Send(context.Background(), message())
		require.NoError(t, err)
	})
}

func TestSendThrottled(t *testing.T) {
	t.Parallel()
	fake, s := setup(t)
	fake.Throttle(2)
	for range 2 {
		_, err := s.Send(context.Background(), message())
		requireClass(t, err, providers.ClassThrottled, CodeTooFrequent)
	}
	_, err := s.Send(context.Background(), message())
	require.NoError(t, err)
	require.Len(t, fake.Sent(), 1)
}

func TestSendTransport(t *testing.T) {
	t.Parallel()

	t.Run("HangIsUnknownThenCheckStatusFindsIt", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		fake.Hang(1)
		fake.AutoReceipt(0, zrwinfofake.Delivered)
		sentAt := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		_, err := s.Send(ctx, message())
		requireClass(t, err, providers.ClassUnknownOutcome, CodeTimeout)

		sent := fake.Sent()
		require.Len(t, sent, 1)
		require.False(t, sent[0].Answered)

		var r providers.Receipt
		require.Eventually(t, func() bool {
			var found bool
			r, found, err = s.CheckStatus(context.Background(), providers.StatusQuery{
				TaskID: taskID, Receiver: receiver, SentAt: sentAt,
			})
			require.NoError(t, err)
			return found
		}, 5*time.Second, 20*time.Millisecond)
		require.Equal(t, sent[0].SmUUID, r.ProviderMessageID)
		require.Equal(t, providers.ReceiptDelivered, r.Status)
		require.Equal(t, "DELIVRD", r.Code)
		require.Equal(t, receiver, r.Receiver)
		require.WithinDuration(t, time.Now(), r.At, time.Minute)
	})

	t.Run("ResetAfterWriteIsUnknown", func(t *testing.T) {
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
		pe := requireClass(t, err, providers.ClassTransient, "HTTP_503")
		require.NotContains(t, pe.Error(), "<html>", "the body is not repeated")
		fake.Up()
		_, err = s.Send(context.Background(), message())
		require.NoError(t, err)
		require.Len(t, fake.Sent(), 1)
	})

	t.Run("DNSFailureIsTransient", func(t *testing.T) {
		t.Parallel()
		s, err := NewSender(Config{AccessKey: "ak", Secret: "sk", SignName: "H", BaseURL: "http://sms.herald.invalid", TimeoutSeconds: 5})
		require.NoError(t, err)
		_, err = s.Send(context.Background(), message())
		requireClass(t, err, providers.ClassTransient, CodeDNS)
	})
}

// stub answers every request with a fixed status and body.
func stub(t *testing.T, status int, body string) *Sender {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if status >= 300 && status < 400 {
			w.Header().Set("Location", "https://elsewhere.example/")
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	s, err := NewSender(Config{AccessKey: "ak", Secret: "sk", SignName: "H", BaseURL: srv.URL})
	require.NoError(t, err)
	return s
}

func TestOddAnswers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
		body   string
		class  providers.Class
		code   string
	}{
		{"ServerErrorIsUnknown", http.StatusInternalServerError, "<html>oops</html>", providers.ClassUnknownOutcome, "HTTP_500"},
		{"BadGatewayIsUnknown", http.StatusBadGateway, `{"code":"0"}`, providers.ClassUnknownOutcome, "HTTP_502"},
		{"RedirectIsConfig", http.StatusFound, "", providers.ClassConfig, "HTTP_302"},
		{"NotFoundIsConfig", http.StatusNotFound, "", providers.ClassConfig, "HTTP_404"},
		{"HTMLWith200IsUnknown", http.StatusOK, "<html>maintenance</html>", providers.ClassUnknownOutcome, CodeBadAnswer},
		{"NoCodeIsUnknown", http.StatusOK, `{"msg":"SUCCESS","smUuid":"x"}`, providers.ClassUnknownOutcome, CodeBadAnswer},
		{"SuccessWithoutIDIsUnknown", http.StatusOK, `{"code":"0","msg":"SUCCESS"}`, providers.ClassUnknownOutcome, CodeBadAnswer},
		{"NumericCode", http.StatusOK, `{"code":9006,"msg":"超频"}`, providers.ClassThrottled, "9006"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := stub(t, tc.status, tc.body)
			_, err := s.Send(context.Background(), message())
			pe := requireClass(t, err, tc.class, tc.code)
			require.NotContains(t, pe.Error(), "<html>")
		})
	}

	t.Run("NumericSuccess", func(t *testing.T) {
		t.Parallel()
		s := stub(t, http.StatusOK, `{"code":0,"msg":"SUCCESS","smUuid":"10000_1_0_13711112222_1_abcdefg_1"}`)
		res, err := s.Send(context.Background(), message())
		require.NoError(t, err)
		require.Equal(t, "10000_1_0_13711112222_1_abcdefg_1", res.ProviderMessageID)
	})
}

// TestWireRequest checks the request itself: a form POST with the
// documented parameter names and nothing else.
func TestWireRequest(t *testing.T) {
	t.Parallel()
	var got url.Values
	var contentType, method, path string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		method, path, contentType = r.Method, r.URL.Path, r.Header.Get("Content-Type")
		_ = r.ParseForm()
		got = r.PostForm
		_, _ = w.Write([]byte(`{"code":"0","msg":"SUCCESS","smUuid":"u1"}`))
	}))
	t.Cleanup(srv.Close)
	s, err := NewSender(Config{AccessKey: "ak", Secret: "sk", SignName: "Herald", BaseURL: srv.URL + "/"})
	require.NoError(t, err)
	_, err = s.Send(context.Background(), message())
	require.NoError(t, err)
	require.Equal(t, http.MethodPost, method)
	require.Equal(t, "/api/v2/single_send", path)
	require.Equal(t, "application/x-www-form-urlencoded;charset=utf-8", contentType)
	require.Equal(t, url.Values{
		"accesskey":  {"ak"},
		"secret":     {"sk"},
		"sign":       {"【Herald】"},
		"templateId": {"44341"},
		"mobile":     {mobile},
		"content":    {"王先生##9:40"},
	}, got)
}

func TestProviderSender(t *testing.T) {
	t.Parallel()
	fake := zrwinfofake.New(t)
	raw, err := json.Marshal(fakeConfig(fake))
	require.NoError(t, err)
	sender, err := New().NewSender(providers.Account{ID: 7, Kind: Kind, Config: raw})
	require.NoError(t, err)
	_, isChecker := sender.(providers.StatusChecker)
	require.True(t, isChecker)
	batch, isBatch := sender.(providers.BatchSender)
	require.True(t, isBatch)
	require.Equal(t, DefaultBatchSize, batch.MaxBatch())
	_, err = sender.Send(context.Background(), message())
	require.NoError(t, err)
}
