package tencent

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	sms "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/sms/v20210111"

	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/providers/tencent/tencentfake"
)

const (
	taskID   = "7c2b36f4-6f7e-4d7c-9a53-3d3f0e4b8f11"
	receiver = "+8613711112222"
)

func fakeConfig(fake *tencentfake.Server) Config {
	return Config{
		SecretID:  tencentfake.DefaultSecretID,
		SecretKey: tencentfake.DefaultSecretKey,
		SdkAppID:  tencentfake.DefaultSdkAppID,
		SignName:  "Herald",
		Endpoint:  fake.Endpoint(),
		Scheme:    "http",
	}
}

// setup starts a fake and a sender pointed at it through the official SDK.
func setup(t *testing.T, opts ...tencentfake.Option) (*tencentfake.Server, *Sender) {
	t.Helper()
	fake := tencentfake.New(t, opts...)
	s, err := NewSender(fakeConfig(fake))
	require.NoError(t, err)
	return fake, s
}

func message() providers.Message {
	return providers.Message{
		TaskID:       taskID,
		Attempt:      1,
		Receiver:     receiver,
		TemplateCode: "1234567",
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
		fake, s := setup(t)
		res, err := s.Send(context.Background(), message())
		require.NoError(t, err)
		sent := fake.Sent()
		require.Len(t, sent, 1)
		require.Equal(t, sent[0].SerialNo, res.ProviderMessageID)
		require.Equal(t, 1, res.Fee)
		require.False(t, res.Delivered)
		require.Equal(t, tencentfake.SentMessage{
			SerialNo:       res.ProviderMessageID,
			PhoneNumber:    receiver,
			SmsSdkAppID:    tencentfake.DefaultSdkAppID,
			TemplateID:     "1234567",
			TemplateParams: []string{"4711", "5"},
			SignName:       "Herald",
			SessionContext: taskID,
			Fee:            1,
			At:             sent[0].At,
			Answered:       true,
		}, sent[0])
	})

	t.Run("MessageSignatureAndBareNumber", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		msg := message()
		msg.Signature = "Other"
		msg.Receiver = "13711112222"
		_, err := s.Send(context.Background(), msg)
		require.NoError(t, err)
		sent := fake.Sent()
		require.Len(t, sent, 1)
		require.Equal(t, "Other", sent[0].SignName)
		require.Equal(t, receiver, sent[0].PhoneNumber)
	})

	t.Run("InternationalWithoutSignature", func(t *testing.T) {
		t.Parallel()
		fake := tencentfake.New(t)
		cfg := fakeConfig(fake)
		cfg.SignName = ""
		s, err := NewSender(cfg)
		require.NoError(t, err)
		msg := message()
		msg.Receiver = "+14155550123"
		_, err = s.Send(context.Background(), msg)
		require.NoError(t, err)
		require.Empty(t, fake.Sent()[0].SignName)
	})

	t.Run("NoParams", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t, tencentfake.WithTemplate("1234567", 0))
		msg := message()
		msg.Params = nil
		_, err := s.Send(context.Background(), msg)
		require.NoError(t, err)
		require.Empty(t, fake.Sent()[0].TemplateParams)
	})
}

func TestSendLocalChecks(t *testing.T) {
	t.Parallel()
	fake := tencentfake.New(t)
	cfg := fakeConfig(fake)
	cfg.SignName = ""
	s, err := NewSender(cfg)
	require.NoError(t, err)

	tests := []struct {
		name  string
		edit  func(*providers.Message)
		class providers.Class
		code  string
	}{
		{"BadReceiver", func(m *providers.Message) { m.Receiver = "not a number" }, providers.ClassPermanent, "InvalidParameterValue.IncorrectPhoneNumber"},
		{"EmptyReceiver", func(m *providers.Message) { m.Receiver = "" }, providers.ClassPermanent, "InvalidParameterValue.IncorrectPhoneNumber"},
		{"NoTemplate", func(m *providers.Message) { m.TemplateCode = "" }, providers.ClassConfig, ""},
		{"NoSignatureForMainland", func(*providers.Message) {}, providers.ClassConfig, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			msg := message()
			tc.edit(&msg)
			_, err := s.Send(context.Background(), msg)
			pe := requireClass(t, err, tc.class, tc.code)
			require.NotContains(t, pe.Error(), "13711112222", "errors must not carry the receiver")
		})
	}
	require.Empty(t, fake.Sent())
}

func TestSendRequestErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		class providers.Class
		code  string
	}{
		{providers.ClassTransient, "InternalError.Timeout"},
		{providers.ClassTransient, "AuthFailure.SignatureExpire"},
		{providers.ClassTransient, "FailedOperation.SomethingNew"},
		{providers.ClassThrottled, "RequestLimitExceeded.IPLimitExceeded"},
		{providers.ClassThrottled, "FailedOperation.MarketingSendTimeConstraint"},
		{providers.ClassAccount, "UnauthorizedOperation.ServiceSuspendDueToArrears"},
		{providers.ClassAccount, "UnauthorizedOperation.SerivceSuspendDueToArrears"},
		{providers.ClassAccount, "LimitExceeded.AppDailyLimit"},
		{providers.ClassConfig, "FailedOperation.TemplateIncorrectOrUnapproved"},
		{providers.ClassPermanent, "InvalidParameterValue.TemplateParameterFormatError"},
		{providers.ClassPermanent, "FailedOperation.ContainSensitiveWord"},
	}
	for _, tc := range tests {
		t.Run(string(tc.class)+"/"+tc.code, func(t *testing.T) {
			t.Parallel()
			fake, s := setup(t)
			fake.FailNext(1, tc.code)
			_, err := s.Send(context.Background(), message())
			pe := requireClass(t, err, tc.class, tc.code)
			require.Contains(t, pe.Message, "(request ")
			if tc.code == "FailedOperation.MarketingSendTimeConstraint" {
				require.Positive(t, pe.RetryAfter)
				require.LessOrEqual(t, pe.RetryAfter, 24*time.Hour)
			}
			require.Empty(t, fake.Sent())
		})
	}
}

func TestSendPerNumberErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		class providers.Class
		code  string
	}{
		{providers.ClassTransient, "InternalError.SendAndRecvFail"},
		{providers.ClassThrottled, "LimitExceeded.PhoneNumberDailyLimit"},
		{providers.ClassAccount, "FailedOperation.InsufficientBalanceInSmsPackage"},
		{providers.ClassConfig, "FailedOperation.SignatureIncorrectOrUnapproved"},
		{providers.ClassPermanent, "FailedOperation.PhoneNumberInBlacklist"},
		{providers.ClassPermanent, "InvalidParameterValue.IncorrectPhoneNumber"},
	}
	for _, tc := range tests {
		t.Run(string(tc.class)+"/"+tc.code, func(t *testing.T) {
			t.Parallel()
			fake, s := setup(t)
			fake.PerNumberCode(receiver, tc.code)
			_, err := s.Send(context.Background(), message())
			pe := requireClass(t, err, tc.class, tc.code)
			if tc.code == "LimitExceeded.PhoneNumberDailyLimit" {
				require.Positive(t, pe.RetryAfter)
			}
			require.Empty(t, fake.Sent())
		})
	}
}

func TestSendCredentials(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		id, key  string
		wantCode string
	}{
		{"WrongSecretKey", tencentfake.DefaultSecretID, "wrong-key", "AuthFailure.SignatureFailure"},
		{"UnknownSecretID", "AKIDunknown", tencentfake.DefaultSecretKey, "AuthFailure.SecretIdNotFound"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fake := tencentfake.New(t)
			cfg := fakeConfig(fake)
			cfg.SecretID, cfg.SecretKey = tc.id, tc.key
			s, err := NewSender(cfg)
			require.NoError(t, err)
			_, err = s.Send(context.Background(), message())
			requireClass(t, err, providers.ClassAccount, tc.wantCode)
			require.Empty(t, fake.Sent())
		})
	}

	t.Run("UnknownApp", func(t *testing.T) {
		t.Parallel()
		fake := tencentfake.New(t)
		cfg := fakeConfig(fake)
		cfg.SdkAppID = "1400999999"
		s, err := NewSender(cfg)
		require.NoError(t, err)
		_, err = s.Send(context.Background(), message())
		requireClass(t, err, providers.ClassAccount, "InvalidParameterValue.SdkAppIdNotExist")
	})
}

func TestSendThrottled(t *testing.T) {
	t.Parallel()
	fake, s := setup(t)
	fake.Throttle(2)
	for range 2 {
		_, err := s.Send(context.Background(), message())
		requireClass(t, err, providers.ClassThrottled, "RequestLimitExceeded")
	}
	// The SDK must not have retried on its own: two refusals, then success.
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
		fake.AutoReceipt(0, tencentfake.Success)
		sentAt := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		_, err := s.Send(ctx, message())
		requireClass(t, err, providers.ClassUnknownOutcome, "ClientError.NetworkError")

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
		require.Equal(t, sent[0].SerialNo, r.ProviderMessageID)
		require.Equal(t, taskID, r.TaskID)
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
		requireClass(t, err, providers.ClassUnknownOutcome, "ClientError.NetworkError")
		require.Len(t, fake.Sent(), 1)
	})

	t.Run("UnreadableErrorPageIsUnknown", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		fake.Down()
		_, err := s.Send(context.Background(), message())
		pe := requireClass(t, err, providers.ClassUnknownOutcome, "ClientError.ParseJsonError")
		require.Contains(t, pe.Message, "HTTP 500")
		require.NotContains(t, pe.Error(), "<html>", "the body is not repeated")
	})

	t.Run("Non200WithoutErrorIsUnknown", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusBadGateway)
			_, _ = w.Write([]byte(`{"Response":{"RequestId":"x"}}`))
		}))
		t.Cleanup(srv.Close)
		cfg := Config{SecretID: "AKID1", SecretKey: "k", SdkAppID: "1400000001", SignName: "Herald",
			Endpoint: srv.Listener.Addr().String(), Scheme: "http"}
		s, err := NewSender(cfg)
		require.NoError(t, err)
		_, err = s.Send(context.Background(), message())
		pe := requireClass(t, err, providers.ClassUnknownOutcome, "ClientError.HttpStatusCodeError")
		require.Contains(t, pe.Message, "HTTP 502")
	})

	t.Run("DNSFailureIsTransient", func(t *testing.T) {
		t.Parallel()
		cfg := Config{SecretID: "AKID1", SecretKey: "k", SdkAppID: "1400000001", SignName: "Herald",
			Endpoint: "sms.herald.invalid", Scheme: "http", TimeoutSeconds: 5}
		s, err := NewSender(cfg)
		require.NoError(t, err)
		_, err = s.Send(context.Background(), message())
		requireClass(t, err, providers.ClassTransient, "ClientError.NetworkError")
	})
}

func TestCheckStatus(t *testing.T) {
	t.Parallel()

	t.Run("BySerialNo", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		res, err := s.Send(context.Background(), message())
		require.NoError(t, err)
		q := providers.StatusQuery{ProviderMessageID: res.ProviderMessageID, Receiver: receiver, SentAt: time.Now()}

		_, found, err := s.CheckStatus(context.Background(), q)
		require.NoError(t, err)
		require.False(t, found, "no report yet")

		require.NoError(t, fake.PushReceipt(res.ProviderMessageID, tencentfake.Fail))
		r, found, err := s.CheckStatus(context.Background(), q)
		require.NoError(t, err)
		require.True(t, found)
		require.Equal(t, providers.ReceiptFailed, r.Status)
		require.Equal(t, "UNDELIV", r.Code)
		require.Equal(t, res.ProviderMessageID, r.ProviderMessageID)
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
		require.NoError(t, fake.PushReceipt(second.ProviderMessageID, tencentfake.Success))
		require.NoError(t, fake.PushReceipt(first.ProviderMessageID, tencentfake.Fail))

		r, found, err := s.CheckStatus(context.Background(), providers.StatusQuery{TaskID: taskID, Receiver: receiver})
		require.NoError(t, err)
		require.True(t, found)
		require.Equal(t, second.ProviderMessageID, r.ProviderMessageID)
		require.Equal(t, providers.ReceiptDelivered, r.Status)
	})

	t.Run("OtherTaskIsNotFound", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		res, err := s.Send(context.Background(), message())
		require.NoError(t, err)
		require.NoError(t, fake.PushReceipt(res.ProviderMessageID, tencentfake.Success))
		_, found, err := s.CheckStatus(context.Background(), providers.StatusQuery{
			TaskID: "other", Receiver: receiver, SentAt: time.Now().Add(-time.Hour),
		})
		require.NoError(t, err)
		require.False(t, found)
	})

	t.Run("OldSentAtIsClampedToSevenDays", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		res, err := s.Send(context.Background(), message())
		require.NoError(t, err)
		require.NoError(t, fake.PushReceipt(res.ProviderMessageID, tencentfake.Success))
		_, found, err := s.CheckStatus(context.Background(), providers.StatusQuery{
			TaskID: taskID, Receiver: receiver, SentAt: time.Now().Add(-30 * 24 * time.Hour),
		})
		require.NoError(t, err)
		require.True(t, found)
	})

	t.Run("PullErrorIsClassified", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		fake.Throttle(1)
		_, _, err := s.CheckStatus(context.Background(), providers.StatusQuery{TaskID: taskID, Receiver: receiver})
		requireClass(t, err, providers.ClassThrottled, "RequestLimitExceeded")
	})

	t.Run("NeedsReceiverAndID", func(t *testing.T) {
		t.Parallel()
		_, s := setup(t)
		_, _, err := s.CheckStatus(context.Background(), providers.StatusQuery{TaskID: taskID})
		require.ErrorContains(t, err, "receiver")
		_, _, err = s.CheckStatus(context.Background(), providers.StatusQuery{Receiver: receiver})
		require.ErrorContains(t, err, "task id")
	})
}

// TestReceiptRoundTrip has the fake push its real receipt format to a
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

	fake := tencentfake.New(t)
	fake.SetCallback(cb.URL)
	fake.AutoReceipt(10*time.Millisecond, tencentfake.Success)
	raw, err := json.Marshal(fakeConfig(fake))
	require.NoError(t, err)
	sender, err := p.NewSender(providers.Account{ID: 7, Kind: Kind, Config: raw})
	require.NoError(t, err)
	_, isChecker := sender.(providers.StatusChecker)
	require.True(t, isChecker)

	res, err := sender.Send(context.Background(), message())
	require.NoError(t, err)
	// The fake records the push once it has read the answer, which is after
	// the handler took the receipt.
	require.Eventually(t, func() bool { return len(fake.Pushes()) == 1 }, 5*time.Second, 10*time.Millisecond)
	mu.Lock()
	require.Len(t, got, 1)
	r := got[0]
	mu.Unlock()
	require.Equal(t, res.ProviderMessageID, r.ProviderMessageID)
	require.Equal(t, taskID, r.TaskID)
	require.Equal(t, providers.ReceiptDelivered, r.Status)
	require.Equal(t, receiver, r.Receiver)
	require.WithinDuration(t, time.Now(), r.At, time.Minute)

	pushes := fake.Pushes()
	require.Len(t, pushes, 1)
	require.NoError(t, pushes[0].Err)
	require.Equal(t, http.StatusOK, pushes[0].StatusCode)
}

func TestProviderNewSenderRejectsBadConfig(t *testing.T) {
	t.Parallel()
	_, err := New().NewSender(providers.Account{ID: 3, Kind: Kind, Config: json.RawMessage(`{"secret_id":""}`)})
	require.ErrorContains(t, err, "account 3")
	require.ErrorContains(t, err, "secret_id is required")
}

// stubAPI answers every call with fixed values, for answers the fake never
// gives.
type stubAPI struct {
	send *sms.SendSmsResponse
	pull *sms.PullSmsSendStatusByPhoneNumberResponse
}

func (s stubAPI) SendSmsWithContext(context.Context, *sms.SendSmsRequest) (*sms.SendSmsResponse, error) {
	return s.send, nil
}

func (s stubAPI) PullSmsSendStatusByPhoneNumberWithContext(context.Context, *sms.PullSmsSendStatusByPhoneNumberRequest) (*sms.PullSmsSendStatusByPhoneNumberResponse, error) {
	return s.pull, nil
}

func TestOddAnswers(t *testing.T) {
	t.Parallel()
	cfg := Config{SecretID: "AKID1", SecretKey: "k", SdkAppID: "1400000001", SignName: "Herald"}

	t.Run("NoSendStatusIsUnknown", func(t *testing.T) {
		t.Parallel()
		resp := sms.NewSendSmsResponse()
		resp.Response = &sms.SendSmsResponseParams{RequestId: common.StringPtr("r")}
		s := newSenderWithAPI(cfg, stubAPI{send: resp}, time.Now)
		_, err := s.Send(context.Background(), message())
		requireClass(t, err, providers.ClassUnknownOutcome, "")
	})

	t.Run("LowercaseOk", func(t *testing.T) {
		t.Parallel()
		resp := sms.NewSendSmsResponse()
		resp.Response = &sms.SendSmsResponseParams{SendStatusSet: []*sms.SendStatus{{
			SerialNo: common.StringPtr("2433:1"), Code: common.StringPtr("OK"), Fee: common.Uint64Ptr(2),
		}}}
		s := newSenderWithAPI(cfg, stubAPI{send: resp}, time.Now)
		res, err := s.Send(context.Background(), message())
		require.NoError(t, err)
		require.Equal(t, providers.Result{ProviderMessageID: "2433:1", Fee: 2}, res)
	})

	t.Run("PendingReportsAreSkipped", func(t *testing.T) {
		t.Parallel()
		resp := sms.NewPullSmsSendStatusByPhoneNumberResponse()
		resp.Response = &sms.PullSmsSendStatusByPhoneNumberResponseParams{PullSmsSendStatusSet: []*sms.PullSmsSendStatus{
			{SerialNo: common.StringPtr("2433:1"), ReportStatus: common.StringPtr("PENDING"), SessionContext: common.StringPtr(taskID)},
			nil,
		}}
		s := newSenderWithAPI(cfg, stubAPI{pull: resp}, time.Now)
		_, found, err := s.CheckStatus(context.Background(), providers.StatusQuery{ProviderMessageID: "2433:1", TaskID: taskID, Receiver: receiver})
		require.NoError(t, err)
		require.False(t, found)
	})
}
