package aliyun

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	dysms "github.com/alibabacloud-go/dysmsapi-20170525/v4/client"
	util "github.com/alibabacloud-go/tea-utils/v2/service"
	"github.com/alibabacloud-go/tea/tea"
	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/providers/aliyun/aliyunfake"
	"github.com/heraldhq/herald/providers/httpsend"
)

const (
	taskID   = "7c2b36f4-6f7e-4d7c-9a53-3d3f0e4b8f11"
	receiver = "+8613711112222"
	national = "13711112222"
	template = "SMS_100001"
)

func fakeConfig(fake *aliyunfake.Server) Config {
	return Config{
		AccessKeyID:     aliyunfake.DefaultAccessKeyID,
		AccessKeySecret: aliyunfake.DefaultAccessKeySecret,
		SignName:        "Herald",
		Endpoint:        fake.Endpoint(),
		Protocol:        "http",
	}
}

// setup starts a fake and a sender pointed at it through the official SDK.
func setup(t *testing.T, opts ...aliyunfake.Option) (*aliyunfake.Server, *Sender) {
	t.Helper()
	fake := aliyunfake.New(t, opts...)
	s, err := NewSender(fakeConfig(fake))
	require.NoError(t, err)
	return fake, s
}

func message() providers.Message {
	return providers.Message{
		TaskID:       taskID,
		Attempt:      1,
		Receiver:     receiver,
		TemplateCode: template,
		Content:      "Your code is 4711, valid 5 minutes.",
		Params:       []providers.Param{{Name: "code", Value: "4711"}, {Name: "minutes", Value: "5"}},
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
		fake, s := setup(t, aliyunfake.WithTemplate(template, "Your code is ${code}, valid ${minutes} minutes."),
			aliyunfake.WithSignName("Herald"))
		res, err := s.Send(context.Background(), message())
		require.NoError(t, err)
		sent := fake.Sent()
		require.Len(t, sent, 1)
		require.Equal(t, providers.Result{ProviderMessageID: sent[0].BizID + ":" + national}, res)
		require.Equal(t, aliyunfake.SentMessage{
			Action:        "SendSms",
			BizID:         sent[0].BizID,
			PhoneNumber:   national,
			SignName:      "Herald",
			TemplateCode:  template,
			TemplateParam: map[string]string{"code": "4711", "minutes": "5"},
			OutID:         taskID,
			Content:       "【Herald】Your code is 4711, valid 5 minutes.",
			AccessKeyID:   aliyunfake.DefaultAccessKeyID,
			SignedWith:    aliyunfake.SignedV3,
			At:            sent[0].At,
			Answered:      true,
		}, sent[0])
	})

	t.Run("MessageSignatureBareNumberAndSpecialCharacters", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		msg := message()
		msg.Signature = "Other"
		msg.Receiver = national
		msg.Params = []providers.Param{{Name: "name", Value: `A & B <c> "d" 50%+*~ 好`}}
		_, err := s.Send(context.Background(), msg)
		require.NoError(t, err)
		sent := fake.Sent()
		require.Len(t, sent, 1)
		require.Equal(t, "Other", sent[0].SignName)
		require.Equal(t, national, sent[0].PhoneNumber)
		require.Equal(t, map[string]string{"name": `A & B <c> "d" 50%+*~ 好`}, sent[0].TemplateParam)
	})

	t.Run("International", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		msg := message()
		msg.Receiver = "+85291234567"
		res, err := s.Send(context.Background(), msg)
		require.NoError(t, err)
		require.Equal(t, "85291234567", fake.Sent()[0].PhoneNumber)
		require.True(t, strings.HasSuffix(res.ProviderMessageID, ":85291234567"))
	})

	t.Run("NoParamsNoTask", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		msg := message()
		msg.Params = nil
		msg.TaskID = ""
		_, err := s.Send(context.Background(), msg)
		require.NoError(t, err)
		require.Nil(t, fake.Sent()[0].TemplateParam)
		require.Empty(t, fake.Sent()[0].OutID)
	})

	t.Run("Region", func(t *testing.T) {
		t.Parallel()
		// An endpoint wins over the region's host.
		fake := aliyunfake.New(t)
		cfg := fakeConfig(fake)
		cfg.Region = "ap-southeast-1"
		s, err := NewSender(cfg)
		require.NoError(t, err)
		_, err = s.Send(context.Background(), message())
		require.NoError(t, err)
	})
}

func TestSendLocalChecks(t *testing.T) {
	t.Parallel()
	fake := aliyunfake.New(t)
	cfg := fakeConfig(fake)
	cfg.SignName = ""
	s, err := NewSender(cfg)
	require.NoError(t, err)

	withSign := func(m *providers.Message) { m.Signature = "Herald" }
	tests := []struct {
		name  string
		edit  func(*providers.Message)
		class providers.Class
		code  string
	}{
		{"BadReceiver", func(m *providers.Message) { withSign(m); m.Receiver = "not a number" }, providers.ClassPermanent, "isv.MOBILE_NUMBER_ILLEGAL"},
		{"EmptyReceiver", func(m *providers.Message) { withSign(m); m.Receiver = "" }, providers.ClassPermanent, "isv.MOBILE_NUMBER_ILLEGAL"},
		{"NoTemplate", func(m *providers.Message) { withSign(m); m.TemplateCode = "" }, providers.ClassConfig, ""},
		{"NoSignature", func(*providers.Message) {}, providers.ClassConfig, ""},
		{"UnnamedParam", func(m *providers.Message) {
			withSign(m)
			m.Params = []providers.Param{{Value: "4711"}}
		}, providers.ClassConfig, ""},
		{"DuplicateParam", func(m *providers.Message) {
			withSign(m)
			m.Params = append(m.Params, providers.Param{Name: "code", Value: "1"})
		}, providers.ClassConfig, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			msg := message()
			tc.edit(&msg)
			_, err := s.Send(context.Background(), msg)
			pe := requireClass(t, err, tc.class, tc.code)
			require.NotContains(t, pe.Error(), national, "errors must not carry the receiver")
		})
	}
	require.Zero(t, fake.Requests("SendSms"))
}

func TestSendBusinessErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		class providers.Class
		code  string
	}{
		{providers.ClassTransient, "isp.SYSTEM_ERROR"},
		{providers.ClassTransient, "isv.SOMETHING_NEW"},
		{providers.ClassThrottled, "isv.BUSINESS_LIMIT_CONTROL"},
		{providers.ClassAccount, "isv.AMOUNT_NOT_ENOUGH"},
		{providers.ClassAccount, "isv.OUT_OF_SERVICE"},
		{providers.ClassAccount, "isv.DAY_LIMIT_CONTROL"},
		{providers.ClassAccount, "isp.RAM_PERMISSION_DENY"},
		{providers.ClassConfig, "isv.SMS_TEMPLATE_ILLEGAL"},
		{providers.ClassConfig, "isv.SMS_SIGNATURE_ILLEGAL"},
		{providers.ClassPermanent, "isv.MOBILE_NUMBER_ILLEGAL"},
		{providers.ClassPermanent, "isv.BLACK_KEY_CONTROL_LIMIT"},
		{providers.ClassPermanent, "isv.INVALID_JSON_PARAM"},
	}
	for _, tc := range tests {
		t.Run(string(tc.class)+"/"+tc.code, func(t *testing.T) {
			t.Parallel()
			fake, s := setup(t)
			fake.FailNext(1, tc.code)
			_, err := s.Send(context.Background(), message())
			pe := requireClass(t, err, tc.class, tc.code)
			require.Contains(t, pe.Message, "(request ")
			if tc.code == "isv.BUSINESS_LIMIT_CONTROL" {
				require.Equal(t, time.Minute, pe.RetryAfter)
			}
			require.Empty(t, fake.Sent())
		})
	}
}

func TestSendGatewayErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		class  providers.Class
		code   string
		status string
	}{
		{providers.ClassTransient, "InternalError", "HTTP 500"},
		{providers.ClassTransient, "ServiceUnavailable", "HTTP 503"},
		{providers.ClassThrottled, "Throttling.Api", "HTTP 400"},
		{providers.ClassAccount, "InvalidAccessKeyId.Inactive", "HTTP 400"},
		{providers.ClassAccount, "Forbidden.RAM", "HTTP 403"},
		{providers.ClassPermanent, "MissingParameter", "HTTP 400"},
	}
	for _, tc := range tests {
		t.Run(string(tc.class)+"/"+tc.code, func(t *testing.T) {
			t.Parallel()
			fake, s := setup(t)
			fake.FailNext(1, tc.code)
			_, err := s.Send(context.Background(), message())
			pe := requireClass(t, err, tc.class, tc.code)
			require.Contains(t, pe.Message, tc.status)
			require.Contains(t, pe.Message, "(request ")
			require.Empty(t, fake.Sent())
		})
	}
}

func TestSendPerNumber(t *testing.T) {
	t.Parallel()
	fake, s := setup(t)
	fake.PerNumberCode(receiver, "isv.BUSINESS_LIMIT_CONTROL")
	_, err := s.Send(context.Background(), message())
	pe := requireClass(t, err, providers.ClassThrottled, "isv.BUSINESS_LIMIT_CONTROL")
	require.Equal(t, time.Minute, pe.RetryAfter, "the fake's message names the minute window")
	require.Empty(t, fake.Sent())
}

func TestSendCredentials(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		id, secret string
		code       string
		status     string
	}{
		{"WrongSecret", aliyunfake.DefaultAccessKeyID, "wrong-secret", "SignatureDoesNotMatch", "HTTP 400"},
		{"UnknownKey", "LTAIunknown", aliyunfake.DefaultAccessKeySecret, "InvalidAccessKeyId.NotFound", "HTTP 404"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fake := aliyunfake.New(t)
			cfg := fakeConfig(fake)
			cfg.AccessKeyID, cfg.AccessKeySecret = tc.id, tc.secret
			s, err := NewSender(cfg)
			require.NoError(t, err)
			_, err = s.Send(context.Background(), message())
			pe := requireClass(t, err, providers.ClassAccount, tc.code)
			require.Contains(t, pe.Message, tc.status)
			require.NotContains(t, pe.Error(), "string to sign")
			require.NotContains(t, pe.Error(), "wrong-secret")
			require.Empty(t, fake.Sent())
		})
	}
}

func TestSendThrottled(t *testing.T) {
	t.Parallel()
	fake, s := setup(t)
	fake.Throttle(2)
	for range 2 {
		_, err := s.Send(context.Background(), message())
		pe := requireClass(t, err, providers.ClassThrottled, "Throttling.User")
		require.Equal(t, time.Second, pe.RetryAfter)
	}
	// The SDK must not have retried on its own: two refusals, then success.
	_, err := s.Send(context.Background(), message())
	require.NoError(t, err)
	require.Len(t, fake.Sent(), 1)
	require.Equal(t, 3, fake.Requests("SendSms"))
}

func TestSendTransport(t *testing.T) {
	t.Parallel()

	t.Run("HangIsUnknownThenCheckStatusFindsIt", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		fake.Hang(1)
		fake.AutoReceipt(0, aliyunfake.Delivered)
		sentAt := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		_, err := s.Send(ctx, message())
		requireClass(t, err, providers.ClassUnknownOutcome, httpsend.CodeTimeout)

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
		require.Equal(t, taskID, r.TaskID)
		require.Empty(t, r.ProviderMessageID, "QuerySendDetails has no BizId to give")
		require.Equal(t, providers.ReceiptDelivered, r.Status)
		require.Equal(t, "DELIVERED", r.Code)
		require.Equal(t, receiver, r.Receiver)
		require.WithinDuration(t, time.Now(), r.At, time.Minute)
	})

	t.Run("ResetAfterWriteIsUnknown", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		fake.Drop(1)
		_, err := s.Send(context.Background(), message())
		requireClass(t, err, providers.ClassUnknownOutcome, httpsend.CodeConnectionLost)
		require.Len(t, fake.Sent(), 1)
	})

	t.Run("UnreadableErrorPageIsUnknown", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		fake.Down()
		_, err := s.Send(context.Background(), message())
		pe := requireClass(t, err, providers.ClassUnknownOutcome, CodeBadAnswer)
		require.Contains(t, pe.Message, "unreadable answer")
		require.NotContains(t, pe.Error(), "<html>", "the body is not repeated")
	})

	t.Run("Non200WithoutCodeIsUnknown", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadGateway)
			_, _ = w.Write([]byte(`{"RequestId":"x"}`))
		}))
		t.Cleanup(srv.Close)
		cfg := Config{AccessKeyID: "LTAI1", AccessKeySecret: "k", SignName: "Herald",
			Endpoint: srv.Listener.Addr().String(), Protocol: "http"}
		s, err := NewSender(cfg)
		require.NoError(t, err)
		_, err = s.Send(context.Background(), message())
		pe := requireClass(t, err, providers.ClassUnknownOutcome, "HTTP_502")
		require.Contains(t, pe.Message, "HTTP 502")
	})

	t.Run("OKWithoutCodeIsUnknown", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"RequestId":"x"}`))
		}))
		t.Cleanup(srv.Close)
		cfg := Config{AccessKeyID: "LTAI1", AccessKeySecret: "k", SignName: "Herald",
			Endpoint: srv.Listener.Addr().String(), Protocol: "http"}
		s, err := NewSender(cfg)
		require.NoError(t, err)
		_, err = s.Send(context.Background(), message())
		requireClass(t, err, providers.ClassUnknownOutcome, CodeBadAnswer)
	})

	t.Run("DNSFailureIsTransient", func(t *testing.T) {
		t.Parallel()
		cfg := Config{AccessKeyID: "LTAI1", AccessKeySecret: "k", SignName: "Herald",
			Endpoint: "dysmsapi.herald.invalid", Protocol: "http", TimeoutSeconds: 5}
		s, err := NewSender(cfg)
		require.NoError(t, err)
		_, err = s.Send(context.Background(), message())
		requireClass(t, err, providers.ClassTransient, httpsend.CodeDNS)
	})
}

func batch(receivers ...string) []providers.Message {
	msgs := make([]providers.Message, len(receivers))
	for i, r := range receivers {
		msgs[i] = message()
		msgs[i].TaskID = "task-" + string(rune('a'+i))
		msgs[i].Receiver = r
		msgs[i].Params = []providers.Param{{Name: "code", Value: string(rune('0' + i))}}
	}
	return msgs
}

func TestSendBatch(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		msgs := batch(receiver, "13711113333", "+85291234567")
		msgs[1].Signature = "Other"
		msgs[2].Params = nil
		require.Equal(t, 100, s.MaxBatch())
		outs, err := s.SendBatch(context.Background(), msgs)
		require.NoError(t, err)
		require.Len(t, outs, 3)
		sent := fake.Sent()
		require.Len(t, sent, 3)
		require.Equal(t, 1, fake.Requests("SendBatchSms"))
		require.Zero(t, fake.Requests("SendSms"))
		for i, want := range []string{national, "13711113333", "85291234567"} {
			require.NoError(t, outs[i].Err)
			require.Equal(t, sent[0].BizID+":"+want, outs[i].Result.ProviderMessageID)
			require.Equal(t, want, sent[i].PhoneNumber)
			require.Equal(t, "SendBatchSms", sent[i].Action)
		}
		require.Equal(t, []string{"Herald", "Other", "Herald"}, []string{sent[0].SignName, sent[1].SignName, sent[2].SignName})
		require.Equal(t, map[string]string{"code": "1"}, sent[1].TemplateParam)
		require.Empty(t, sent[2].TemplateParam)
	})

	t.Run("ReceiptsMapBack", func(t *testing.T) {
		t.Parallel()
		p := New()
		var mu sync.Mutex
		var got []providers.Receipt
		cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := p.ReceiptHandler()
			rs, err := h.ParseReceipts(r)
			if err == nil {
				mu.Lock()
				got = append(got, rs...)
				mu.Unlock()
			}
			h.Acknowledge(w, err == nil)
		}))
		t.Cleanup(cb.Close)
		fake, s := setup(t)
		fake.SetCallback(cb.URL)
		fake.AutoReceipt(0, aliyunfake.Delivered)
		outs, err := s.SendBatch(context.Background(), batch(receiver, "+8613711113333"))
		require.NoError(t, err)
		require.Eventually(t, func() bool { return len(fake.Pushes()) == 2 }, 5*time.Second, 10*time.Millisecond)
		mu.Lock()
		defer mu.Unlock()
		ids := map[string]bool{}
		for _, r := range got {
			ids[r.ProviderMessageID] = true
		}
		require.Equal(t, map[string]bool{outs[0].Result.ProviderMessageID: true, outs[1].Result.ProviderMessageID: true}, ids)
	})

	t.Run("OneBadNumberFallsBackToSingles", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		fake.PerNumberCode("13711113333", "isv.MOBILE_NUMBER_ILLEGAL")
		outs, err := s.SendBatch(context.Background(), batch(receiver, "13711113333", "13711114444"))
		require.NoError(t, err)
		require.NoError(t, outs[0].Err)
		requireClass(t, outs[1].Err, providers.ClassPermanent, "isv.MOBILE_NUMBER_ILLEGAL")
		require.NoError(t, outs[2].Err)
		require.Equal(t, 1, fake.Requests("SendBatchSms"))
		require.Equal(t, 3, fake.Requests("SendSms"))
		sent := fake.Sent()
		require.Len(t, sent, 2)
		require.Equal(t, "task-a", sent[0].OutID, "single sends carry their task id")
		require.Equal(t, sent[0].BizID+":"+national, outs[0].Result.ProviderMessageID)
	})

	t.Run("AccountErrorFailsTheBatch", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		fake.FailNext(1, "isv.AMOUNT_NOT_ENOUGH")
		_, err := s.SendBatch(context.Background(), batch(receiver, "13711113333"))
		requireClass(t, err, providers.ClassAccount, "isv.AMOUNT_NOT_ENOUGH")
		require.Zero(t, fake.Requests("SendSms"))
	})

	t.Run("TransportErrorFailsTheBatch", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		fake.Drop(1)
		_, err := s.SendBatch(context.Background(), batch(receiver, "13711113333"))
		requireClass(t, err, providers.ClassUnknownOutcome, httpsend.CodeConnectionLost)
		require.Len(t, fake.Sent(), 2)
	})

	t.Run("DuplicateNumberSentAlone", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		outs, err := s.SendBatch(context.Background(), batch(receiver, "13711113333", national))
		require.NoError(t, err)
		require.Equal(t, 1, fake.Requests("SendBatchSms"))
		require.Equal(t, 1, fake.Requests("SendSms"))
		require.NotEqual(t, outs[0].Result.ProviderMessageID, outs[2].Result.ProviderMessageID)
		for _, o := range outs {
			require.NoError(t, o.Err)
		}
	})

	t.Run("OneMessageUsesSendSms", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		outs, err := s.SendBatch(context.Background(), batch(receiver, "bad"))
		require.NoError(t, err)
		require.NoError(t, outs[0].Err)
		requireClass(t, outs[1].Err, providers.ClassPermanent, "isv.MOBILE_NUMBER_ILLEGAL")
		require.Zero(t, fake.Requests("SendBatchSms"))
		require.Equal(t, 1, fake.Requests("SendSms"))
		require.Equal(t, "task-a", fake.Sent()[0].OutID)
	})

	t.Run("MixedTemplates", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		msgs := batch(receiver, "13711113333")
		msgs[1].TemplateCode = "SMS_2"
		_, err := s.SendBatch(context.Background(), msgs)
		requireClass(t, err, providers.ClassPermanent, "")
		require.Zero(t, fake.Requests("SendBatchSms"))
	})

	t.Run("TooMany", func(t *testing.T) {
		t.Parallel()
		_, s := setup(t)
		msgs := make([]providers.Message, 101)
		_, err := s.SendBatch(context.Background(), msgs)
		requireClass(t, err, providers.ClassPermanent, "isv.MOBILE_COUNT_OVER_LIMIT")
	})

	t.Run("Empty", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		outs, err := s.SendBatch(context.Background(), nil)
		require.NoError(t, err)
		require.Empty(t, outs)
		require.Zero(t, fake.Requests("SendBatchSms"))
	})

	t.Run("CanceledDuringSingles", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		outs, err := s.SendBatch(ctx, batch(receiver))
		require.NoError(t, err)
		requireClass(t, outs[0].Err, providers.ClassTransient, httpsend.CodeCancelled)
		require.Zero(t, fake.Requests("SendSms"))
	})
}

func TestCheckStatus(t *testing.T) {
	t.Parallel()

	t.Run("ByProviderMessageIDOfABatch", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		outs, err := s.SendBatch(context.Background(), batch(receiver, "13711113333"))
		require.NoError(t, err)
		id := outs[1].Result.ProviderMessageID
		// No receiver: the number comes from the id.
		q := providers.StatusQuery{ProviderMessageID: id, SentAt: time.Now()}

		r, found, err := s.CheckStatus(context.Background(), q)
		require.NoError(t, err)
		require.True(t, found, "taken, waiting for the receipt")
		require.Equal(t, providers.ReceiptPending, r.Status)

		biz, _ := splitMessageID(id)
		require.NoError(t, fake.PushReceipt(biz, "13711113333", aliyunfake.Failed))
		r, found, err = s.CheckStatus(context.Background(), q)
		require.NoError(t, err)
		require.True(t, found)
		require.Equal(t, id, r.ProviderMessageID)
		require.Equal(t, providers.ReceiptFailed, r.Status)
		require.Equal(t, "UNDELIV", r.Code)
		require.Equal(t, "+8613711113333", r.Receiver)
	})

	t.Run("BatchSendWhoseAnswerWasLost", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		before := time.Now().Add(-time.Minute)
		msgs := batch(receiver, "13711113333")
		_, err := s.SendBatch(context.Background(), msgs)
		require.NoError(t, err)

		// Without the provider's id, only the number and time can find a
		// send that went out in a batch request: it carries no OutId.
		q := providers.StatusQuery{TaskID: msgs[1].TaskID, Receiver: "+8613711113333", SentAt: before}
		_, found, err := s.CheckStatus(context.Background(), q)
		require.NoError(t, err)
		require.False(t, found, "a query that does not say the send was batched matches by OutId only")

		q.Batched = true
		r, found, err := s.CheckStatus(context.Background(), q)
		require.NoError(t, err)
		require.True(t, found)
		require.Equal(t, providers.ReceiptPending, r.Status)

		biz := fake.Sent()[1].BizID
		require.NoError(t, fake.PushReceipt(biz, "13711113333", aliyunfake.Delivered))
		r, found, err = s.CheckStatus(context.Background(), q)
		require.NoError(t, err)
		require.True(t, found)
		require.Equal(t, providers.ReceiptDelivered, r.Status)

		// A batch record from before the member was claimed is another send.
		q.SentAt = time.Now().Add(time.Minute)
		_, found, err = s.CheckStatus(context.Background(), q)
		require.NoError(t, err)
		require.False(t, found)
	})

	t.Run("DeliveredAttemptWins", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		first, err := s.Send(context.Background(), message())
		require.NoError(t, err)
		msg := message()
		msg.Attempt = 2
		second, err := s.Send(context.Background(), msg)
		require.NoError(t, err)
		b1, _ := splitMessageID(first.ProviderMessageID)
		b2, _ := splitMessageID(second.ProviderMessageID)
		require.NoError(t, fake.PushReceipt(b2, receiver, aliyunfake.Delivered))
		require.NoError(t, fake.PushReceipt(b1, receiver, aliyunfake.Failed))

		r, found, err := s.CheckStatus(context.Background(), providers.StatusQuery{TaskID: taskID, Receiver: receiver})
		require.NoError(t, err)
		require.True(t, found)
		require.Equal(t, providers.ReceiptDelivered, r.Status)
		require.Equal(t, taskID, r.TaskID)
	})

	t.Run("OtherTaskIsNotFound", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		res, err := s.Send(context.Background(), message())
		require.NoError(t, err)
		biz, _ := splitMessageID(res.ProviderMessageID)
		require.NoError(t, fake.PushReceipt(biz, receiver, aliyunfake.Delivered))
		_, found, err := s.CheckStatus(context.Background(), providers.StatusQuery{
			TaskID: "other", Receiver: receiver, SentAt: time.Now(),
		})
		require.NoError(t, err)
		require.False(t, found)
	})

	t.Run("OlderThanThirtyDaysIsNotFound", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		_, found, err := s.CheckStatus(context.Background(), providers.StatusQuery{
			TaskID: taskID, Receiver: receiver, SentAt: time.Now().Add(-40 * 24 * time.Hour),
		})
		require.NoError(t, err)
		require.False(t, found)
		require.Zero(t, fake.Requests("QuerySendDetails"))
	})

	t.Run("QueryErrorIsClassified", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		fake.Throttle(1)
		_, _, err := s.CheckStatus(context.Background(), providers.StatusQuery{TaskID: taskID, Receiver: receiver})
		requireClass(t, err, providers.ClassThrottled, "Throttling.User")
		fake.FailNext(1, "isv.INVALID_PARAMETERS")
		_, _, err = s.CheckStatus(context.Background(), providers.StatusQuery{TaskID: taskID, Receiver: receiver})
		requireClass(t, err, providers.ClassPermanent, "isv.INVALID_PARAMETERS")
	})

	t.Run("NeedsReceiverAndID", func(t *testing.T) {
		t.Parallel()
		_, s := setup(t)
		_, _, err := s.CheckStatus(context.Background(), providers.StatusQuery{TaskID: taskID})
		require.ErrorContains(t, err, "receiver")
		_, _, err = s.CheckStatus(context.Background(), providers.StatusQuery{Receiver: receiver})
		require.ErrorContains(t, err, "task id")
		_, _, err = s.CheckStatus(context.Background(), providers.StatusQuery{TaskID: taskID, Receiver: "nope"})
		require.ErrorContains(t, err, "receiver")
	})
}

func TestSendDates(t *testing.T) {
	t.Parallel()
	cst := chinaTime()
	now := time.Date(2025, 3, 2, 9, 0, 0, 0, cst)
	s := newSenderWithAPI(Config{}, nil, func() time.Time { return now })
	tests := []struct {
		name   string
		sentAt time.Time
		want   []string
	}{
		{"Unknown", time.Time{}, []string{"20250302", "20250301"}},
		{"Morning", time.Date(2025, 3, 2, 8, 0, 0, 0, cst), []string{"20250302"}},
		{"JustBeforeMidnight", time.Date(2025, 3, 1, 23, 59, 0, 0, cst), []string{"20250301", "20250302"}},
		{"JustAfterMidnightUTC", time.Date(2025, 3, 1, 16, 1, 0, 0, time.UTC), []string{"20250301", "20250302"}},
		{"TooOld", now.AddDate(0, 0, -31), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, s.sendDates(tc.sentAt))
		})
	}
	t.Run("SentJustBeforeMidnight", func(t *testing.T) {
		t.Parallel()
		// A minute before midnight in China, the slack after the send
		// must not ask for tomorrow, which Aliyun refuses.
		late := time.Date(2025, 3, 1, 23, 59, 30, 0, cst)
		s := newSenderWithAPI(Config{}, nil, func() time.Time { return late })
		require.Equal(t, []string{"20250301"}, s.sendDates(late.Add(-10*time.Second)))
	})
}

// TestReceiptRoundTrip has the fake push its real SmsReport format to a
// server using the provider's receipt handler.
func TestReceiptRoundTrip(t *testing.T) {
	t.Parallel()
	p := New()
	var mu sync.Mutex
	var got []providers.Receipt
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := p.ReceiptHandler()
		rs, err := h.ParseReceipts(r)
		if err == nil {
			mu.Lock()
			got = append(got, rs...)
			mu.Unlock()
		}
		h.Acknowledge(w, err == nil)
	}))
	t.Cleanup(cb.Close)

	fake := aliyunfake.New(t)
	fake.SetCallback(cb.URL)
	fake.AutoReceipt(10*time.Millisecond, aliyunfake.Delivered)
	raw, err := json.Marshal(fakeConfig(fake))
	require.NoError(t, err)
	sender, err := p.NewSender(providers.Account{ID: 7, Kind: Kind, Config: raw})
	require.NoError(t, err)
	_, isChecker := sender.(providers.StatusChecker)
	require.True(t, isChecker)
	_, isBatch := sender.(providers.BatchSender)
	require.True(t, isBatch)

	res, err := sender.Send(context.Background(), message())
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(fake.Pushes()) == 1 }, 5*time.Second, 10*time.Millisecond)
	mu.Lock()
	require.Len(t, got, 1)
	r := got[0]
	mu.Unlock()
	require.Equal(t, res.ProviderMessageID, r.ProviderMessageID)
	require.Equal(t, taskID, r.TaskID)
	require.Equal(t, providers.ReceiptDelivered, r.Status)
	require.Equal(t, "DELIVERED", r.Code)
	require.Equal(t, receiver, r.Receiver)
	require.WithinDuration(t, time.Now(), r.At, time.Minute)

	pushes := fake.Pushes()
	require.NoError(t, pushes[0].Err)
	require.Equal(t, http.StatusOK, pushes[0].StatusCode)
}

func TestReplyRoundTrip(t *testing.T) {
	t.Parallel()
	p := New()
	got := make(chan []providers.Reply, 1)
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := p.ReplyHandler()
		rs, err := h.ParseReplies(r)
		if err == nil {
			got <- rs
		}
		h.Acknowledge(w, err == nil)
	}))
	t.Cleanup(cb.Close)
	fake := aliyunfake.New(t)
	fake.SetReplyCallback(cb.URL)
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	require.NoError(t, fake.PushReply(aliyunfake.Reply{
		PhoneNumber: national, Content: "TD", SignName: "Herald", DestCode: "1234", SendTime: at,
	}))
	require.Equal(t, []providers.Reply{{
		Receiver: receiver, Content: "TD", SignName: "Herald", ExtendCode: "1234", At: at,
	}}, <-got)
	require.NoError(t, fake.Pushes()[0].Err)
}

func TestProvider(t *testing.T) {
	t.Parallel()
	p := New()
	require.Equal(t, "aliyun", p.Kind())
	require.NoError(t, p.ValidateConfig(json.RawMessage(`{"access_key_id":"a","access_key_secret":"b"}`)))
	require.ErrorContains(t, p.ValidateConfig(json.RawMessage(`{"access_key_id":"a"}`)), "access_key_secret is required")
	_, err := p.NewSender(providers.Account{ID: 3, Kind: Kind, Config: json.RawMessage(`{"access_key_id":""}`)})
	require.ErrorContains(t, err, "account 3")
	require.ErrorContains(t, err, "access_key_id is required")
	require.NotNil(t, p.ReceiptHandler())
	require.NotNil(t, p.ReplyHandler())
}

// stubAPI answers every call with fixed values, for answers the fake never
// gives.
type stubAPI struct {
	send  *dysms.SendSmsResponse
	query *dysms.QuerySendDetailsResponse
	err   error
}

func (s stubAPI) SendSmsWithOptions(*dysms.SendSmsRequest, *util.RuntimeOptions) (*dysms.SendSmsResponse, error) {
	return s.send, s.err
}

func (s stubAPI) SendBatchSmsWithOptions(*dysms.SendBatchSmsRequest, *util.RuntimeOptions) (*dysms.SendBatchSmsResponse, error) {
	return nil, s.err
}

func (s stubAPI) QuerySendDetailsWithOptions(*dysms.QuerySendDetailsRequest, *util.RuntimeOptions) (*dysms.QuerySendDetailsResponse, error) {
	return s.query, s.err
}

func TestOddAnswers(t *testing.T) {
	t.Parallel()
	cfg := Config{AccessKeyID: "LTAI1", AccessKeySecret: "k", SignName: "Herald"}

	t.Run("NilBodyIsUnknown", func(t *testing.T) {
		t.Parallel()
		s := newSenderWithAPI(cfg, stubAPI{send: &dysms.SendSmsResponse{}}, time.Now)
		_, err := s.Send(context.Background(), message())
		requireClass(t, err, providers.ClassUnknownOutcome, CodeBadAnswer)
	})

	t.Run("LowercaseOKWithoutBizId", func(t *testing.T) {
		t.Parallel()
		s := newSenderWithAPI(cfg, stubAPI{send: &dysms.SendSmsResponse{Body: &dysms.SendSmsResponseBody{Code: tea.String("ok")}}}, time.Now)
		res, err := s.Send(context.Background(), message())
		require.NoError(t, err)
		require.Equal(t, providers.Result{}, res)
	})

	t.Run("SDKRefusalIsTransient", func(t *testing.T) {
		t.Parallel()
		sdkErr := tea.NewSDKError(map[string]any{"code": "InvalidCredentials", "message": "no credentials"})
		s := newSenderWithAPI(cfg, stubAPI{err: sdkErr}, time.Now)
		_, err := s.Send(context.Background(), message())
		requireClass(t, err, providers.ClassTransient, "InvalidCredentials")
	})

	t.Run("SignatureEchoIsCut", func(t *testing.T) {
		t.Parallel()
		// A v1 signature mismatch quotes the string to sign, numbers and all.
		sdkErr := tea.NewSDKError(map[string]any{
			"code":    "SignatureDoesNotMatch",
			"message": "code: 400, mismatch",
			"data": map[string]any{
				"Code":       "SignatureDoesNotMatch",
				"Message":    "Specified signature is not matched with our calculation. server string to sign is:POST&%2F&PhoneNumbers%3D13711112222",
				"RequestId":  "REQ-9",
				"statusCode": 400,
			},
		})
		s := newSenderWithAPI(cfg, stubAPI{err: sdkErr}, time.Now)
		_, err := s.Send(context.Background(), message())
		pe := requireClass(t, err, providers.ClassAccount, "SignatureDoesNotMatch")
		require.NotContains(t, pe.Error(), national)
		require.NotContains(t, pe.Err.Error(), national)
		require.Contains(t, pe.Message, "Specified signature is not matched with our calculation (request REQ-9)")
	})

	t.Run("WaitingRecordIsPending", func(t *testing.T) {
		t.Parallel()
		q := &dysms.QuerySendDetailsResponse{Body: &dysms.QuerySendDetailsResponseBody{
			Code: tea.String("OK"), TotalCount: tea.String("2"),
			SmsSendDetailDTOs: &dysms.QuerySendDetailsResponseBodySmsSendDetailDTOs{
				SmsSendDetailDTO: []*dysms.QuerySendDetailsResponseBodySmsSendDetailDTOsSmsSendDetailDTO{
					{OutId: tea.String(taskID), SendStatus: tea.Int64(1), PhoneNum: tea.String(national)},
					nil,
				},
			},
		}}
		s := newSenderWithAPI(cfg, stubAPI{query: q}, time.Now)
		r, found, err := s.CheckStatus(context.Background(), providers.StatusQuery{TaskID: taskID, Receiver: receiver, SentAt: time.Now()})
		require.NoError(t, err)
		require.True(t, found, "Aliyun took the message: it must not be sent again")
		require.Equal(t, providers.ReceiptPending, r.Status)
		require.Equal(t, taskID, r.TaskID)
	})
}
