package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/api/apiclient"
	"github.com/heraldhq/herald/internal/admission"
	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/providers/zrwinfo"
	"github.com/heraldhq/herald/store"
)

func TestAdmissionCodesAreWireCodes(t *testing.T) {
	t.Parallel()
	require.Equal(t, CodeRateLimited, admission.CodeReceiverCapped)
	require.Equal(t, CodeInvalidReceiver, admission.CodeReceiverRefused)
}

// verificationOTP marks the fixture's OTP template as a verification
// template, which gets the default receiver caps.
func verificationOTP(f *fixture) {
	f.store.putTemplate(store.Template{ID: tplOTP, Name: "otp", ContentType: "text", Content: "Your code is {{code}}, valid {{ minutes }} minutes",
		Variables: []string{"code", "minutes"}, Kind: store.TemplateKindVerification})
}

func sendTo(t *testing.T, f *fixture, channel int64, receiver string) result {
	t.Helper()
	return f.call(t, http.MethodPost, "/api/v1/messages",
		`{"channel_id":`+strconv.FormatInt(channel, 10)+`,"template_params":`+otpParamsJSON+`,"receiver":"`+receiver+`"}`)
}

type batchResult struct {
	SuccessCount int                   `json:"success_count"`
	FailedCount  int                   `json:"failed_count"`
	Tasks        []apiclient.BatchTask `json:"tasks"`
	Rejected     []apiclient.Rejection `json:"rejected"`
}

func batchTo(t *testing.T, f *fixture, receivers ...string) (result, batchResult) {
	t.Helper()
	rs, err := json.Marshal(receivers)
	require.NoError(t, err)
	res := f.call(t, http.MethodPost, "/api/v1/messages/batch", `{"channel_id":1,"template_params":`+otpParamsJSON+`,"receivers":`+string(rs)+`}`)
	var br batchResult
	if res.Status == http.StatusOK {
		require.NoError(t, json.Unmarshal(res.Data, &br))
	}
	return res, br
}

func TestReceiverCaps(t *testing.T) {
	t.Parallel()

	t.Run("VerificationDefault", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		verificationOTP(f)
		res := sendTo(t, f, chSMS, testPhone)
		require.Equal(t, http.StatusOK, res.Status, string(res.Body))
		res = sendTo(t, f, chSMS, testPhone)
		requireError(t, res, http.StatusTooManyRequests, CodeRateLimited)
		require.Contains(t, res.Message, "receiver cap of 1 per minute for template otp")
		wait, err := strconv.Atoi(res.Header.Get("Retry-After"))
		require.NoError(t, err)
		require.True(t, wait >= 1 && wait <= 61, "Retry-After %d", wait)
		require.Equal(t, 1, f.store.messageCount(), "nothing stored for the refused send")

		// Another receiver still gets its code.
		res = sendTo(t, f, chSMS, testPhoneAlt)
		require.Equal(t, http.StatusOK, res.Status, string(res.Body))
	})

	t.Run("NoDefaultForOtherTemplates", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		for range 12 {
			res := sendTo(t, f, chSMS, testPhone)
			require.Equal(t, http.StatusOK, res.Status, string(res.Body))
		}
	})

	t.Run("BatchRejectsPerReceiver", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		ch := f.store.channels[chSMS]
		ch.ReceiverCaps = &store.ReceiverCaps{PerDay: 1}
		f.store.putChannel(ch)

		res, br := batchTo(t, f, testPhone, testPhoneAlt)
		require.Equal(t, http.StatusOK, res.Status, string(res.Body))
		require.Equal(t, 2, br.SuccessCount)

		res, br = batchTo(t, f, "+8613700137000", testPhone)
		require.Equal(t, http.StatusOK, res.Status, string(res.Body))
		require.Equal(t, 1, br.SuccessCount)
		require.Equal(t, 1, br.FailedCount)
		require.Equal(t, []apiclient.BatchTask{{Index: 0, TaskID: br.Tasks[0].TaskID}}, br.Tasks)
		require.Len(t, br.Rejected, 1)
		require.Equal(t, 1, br.Rejected[0].Index)
		require.Equal(t, testPhone, br.Rejected[0].Receiver)
		require.Equal(t, CodeRateLimited, br.Rejected[0].Code)
		require.Contains(t, br.Rejected[0].Message, "receiver cap of 1 per day for channel otp sms")

		// A batch with every receiver capped is refused whole with 429.
		res, _ = batchTo(t, f, testPhone, testPhoneAlt)
		requireError(t, res, http.StatusTooManyRequests, CodeRateLimited)
		require.NotEmpty(t, res.Header.Get("Retry-After"))
		require.Contains(t, string(res.Data), "receiver cap of 1 per day")

		// Operators see the refusals in the log, counted per check, with
		// the app and channel and never a receiver.
		logged := f.logs.FilterMessage("receivers refused at accept").All()
		require.Len(t, logged, 2)
		last := logged[1].ContextMap()
		require.Equal(t, f.app.ID, last["app_id"])
		require.EqualValues(t, chSMS, last["channel_id"])
		require.EqualValues(t, 2, last["receiver_cap"])
		for _, e := range f.logs.All() {
			for _, v := range e.ContextMap() {
				require.NotContains(t, fmt.Sprint(v), strings.TrimPrefix(testPhone, "+"))
			}
		}
	})

	t.Run("RedisKeysHoldNoReceiver", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		verificationOTP(f)
		require.Equal(t, http.StatusOK, sendTo(t, f, chSMS, testPhone).Status)
		keys, err := f.redis.Keys(t.Context(), "herald:rcap:*").Result()
		require.NoError(t, err)
		require.NotEmpty(t, keys)
		for _, k := range keys {
			require.NotContains(t, k, testPhoneLocal)
		}
		require.True(t, containsAny(keys, f.keys.Key(store.ChannelSMS, testPhone)), "counted under the receiver key")
	})
}

func containsAny(keys []string, part string) bool {
	for _, k := range keys {
		if strings.Contains(k, part) {
			return true
		}
	}
	return false
}

func TestSuppressionAtAccept(t *testing.T) {
	t.Parallel()
	f := setup(t)
	require.NoError(t, f.srv.admission.OptOut(t.Context(), f.app.ID, store.ChannelSMS, testPhone, "operator", store.SuppressionOperator))

	t.Run("Single", func(t *testing.T) {
		res := sendTo(t, f, chSMS, testPhoneLocal)
		requireError(t, res, http.StatusBadRequest, CodeInvalidReceiver)
		require.Equal(t, "receiver has opted out of sms from this app", res.Message)
	})
	t.Run("Batch", func(t *testing.T) {
		res, br := batchTo(t, f, testPhoneAlt, testPhone)
		require.Equal(t, http.StatusOK, res.Status, string(res.Body))
		require.Equal(t, 1, br.SuccessCount)
		require.Equal(t, []apiclient.Rejection{{Index: 1, Receiver: testPhone, Code: CodeInvalidReceiver, Message: "receiver has opted out of sms from this app"}}, br.Rejected)
	})
	t.Run("BatchReplayed", func(t *testing.T) {
		body := `{"channel_id":1,"template_params":` + otpParamsJSON + `,"receivers":["` + testPhone + `","` + testPhoneAlt + `"]}`
		first := f.call(t, http.MethodPost, "/api/v1/messages/batch", body, withIdempotencyKey("opt-out-batch"))
		require.Equal(t, http.StatusOK, first.Status, string(first.Body))
		again := f.call(t, http.MethodPost, "/api/v1/messages/batch", body, withIdempotencyKey("opt-out-batch"))
		require.Equal(t, http.StatusOK, again.Status, string(again.Body))
		require.Equal(t, "true", again.Header.Get(headerReplayed))
		var a, b batchResult
		require.NoError(t, json.Unmarshal(first.Data, &a))
		require.NoError(t, json.Unmarshal(again.Data, &b))
		require.Equal(t, a.Tasks, b.Tasks)
		require.Len(t, b.Rejected, 1)
		require.Equal(t, 0, b.Rejected[0].Index)
		require.Equal(t, CodeInvalidReceiver, b.Rejected[0].Code)
		require.Equal(t, a.FailedCount, b.FailedCount)
	})
	t.Run("VerificationBypasses", func(t *testing.T) {
		g := setup(t)
		verificationOTP(g)
		require.NoError(t, g.srv.admission.OptOut(t.Context(), g.app.ID, store.ChannelSMS, testPhone, "operator", store.SuppressionOperator))
		res := sendTo(t, g, chSMS, testPhone)
		require.Equal(t, http.StatusOK, res.Status, string(res.Body))
	})
}

func TestAllowedCountries(t *testing.T) {
	t.Parallel()
	const hongKong = "+85291234567"

	t.Run("NarrowedByChannel", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		ch := f.store.channels[chSMS]
		ch.AllowedCountries = []string{"CN"}
		f.store.putChannel(ch)
		res := sendTo(t, f, chSMS, hongKong)
		requireError(t, res, http.StatusBadRequest, CodeInvalidReceiver)
		require.Equal(t, "receiver's country (HK) is not allowed on channel 1, which sends only to CN", res.Message)
		require.Equal(t, http.StatusOK, sendTo(t, f, chSMS, testPhone).Status)
	})
	t.Run("NoAccountReachesIt", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		const chMainland int64 = 30
		ch := f.store.channels[chSMS]
		ch.ID, ch.Name = chMainland, "mainland sms"
		f.store.putChannel(ch)
		f.store.putAccount(store.ProviderAccount{ID: 30, Name: "zrw", Kind: zrwinfo.Kind, Enabled: true}, chMainland)
		f.store.grant(f.app.ID, chMainland)
		res := sendTo(t, f, chMainland, hongKong)
		requireError(t, res, http.StatusBadRequest, CodeInvalidReceiver)
		require.Equal(t, "receiver's country (HK) is reached by no enabled provider account of channel 30", res.Message)
		require.Equal(t, http.StatusOK, sendTo(t, f, chMainland, testPhone).Status)
	})
}

func TestOptOutReply(t *testing.T) {
	t.Parallel()
	f := setup(t)
	messageTo(f, accSMS, testPhone, time.Now().Add(-time.Minute))
	messageTo(f, accSMS, testPhoneAlt, time.Now().Add(-time.Minute))

	// A reply that only mentions the word does not opt out.
	status, raw := push(t, f, replyPath(providerKind, accSMS, callbackToken), replyJSON(t, providers.Reply{Receiver: testPhoneAlt, Content: "TD please"}))
	require.Equal(t, http.StatusOK, status, raw)
	require.Equal(t, http.StatusOK, sendTo(t, f, chSMS, testPhoneAlt).Status)

	// The provider writes the sender in national form; the opt-out still
	// finds the receiver the messages went to.
	status, raw = push(t, f, replyPath(providerKind, accSMS, callbackToken), replyJSON(t, providers.Reply{Receiver: testPhoneLocal, Content: " td "}))
	require.Equal(t, http.StatusOK, status, raw)

	res := sendTo(t, f, chSMS, testPhone)
	requireError(t, res, http.StatusBadRequest, CodeInvalidReceiver)
	require.Equal(t, "receiver has opted out of sms from this app", res.Message)

	require.Len(t, f.store.suppressed, 1)
	for _, s := range f.store.suppressed {
		require.Equal(t, store.SuppressionReply, s.Source)
		require.Equal(t, "replied td", s.Reason)
		require.Equal(t, "+86138****8000", s.ReceiverMasked)
		require.Equal(t, f.keys.Key(store.ChannelSMS, testPhone), s.ReceiverKey)
	}
	requireNoPII(t, f, testPhone, testPhoneLocal)
}

func TestReceiverChecksFailClosed(t *testing.T) {
	t.Parallel()

	t.Run("RedisDown", func(t *testing.T) {
		t.Parallel()
		down := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
		t.Cleanup(func() { _ = down.Close() })
		f := setup(t, withAdmissionRedis(down))
		verificationOTP(f)
		res := sendTo(t, f, chSMS, testPhone)
		requireError(t, res, http.StatusServiceUnavailable, CodeCache)
		require.NotEmpty(t, res.Header.Get("Retry-After"))
		require.Zero(t, f.store.messageCount())

		// A channel and template without caps do not need Redis.
		res = f.call(t, http.MethodPost, "/api/v1/messages", `{"channel_id":9,"receiver":"oncall"}`)
		require.Equal(t, http.StatusOK, res.Status, string(res.Body))
	})
	t.Run("StoreDown", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		f.store.fail = func(method string) error {
			if method == "SuppressedKeys" {
				return context.DeadlineExceeded
			}
			return nil
		}
		res := sendTo(t, f, chSMS, testPhone)
		requireError(t, res, http.StatusServiceUnavailable, CodeDatabase)
		require.NotEmpty(t, res.Header.Get("Retry-After"))
		require.Zero(t, f.store.messageCount())
	})
}
