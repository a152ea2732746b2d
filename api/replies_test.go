package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/providers/aliyun"
	"github.com/heraldhq/herald/providers/aliyun/aliyunfake"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/workflows"
)

func replyPath(kind string, account int64, token string) string {
	return fmt.Sprintf("/callbacks/%s/%d/replies?token=%s", kind, account, token)
}

func replyJSON(t *testing.T, replies ...providers.Reply) string {
	t.Helper()
	b, err := json.Marshal(replies)
	require.NoError(t, err)
	return string(b)
}

// messageTo stores a message sent through accountID to receiver, created at
// the given time, and returns its task id.
func messageTo(f *fixture, accountID int64, receiver string, created time.Time) string {
	id := uuid.NewString()
	f.store.putMessage(store.Message{
		TaskID: id, AppID: f.app.ID, ChannelID: chSMS, MessageType: store.ChannelSMS, Receiver: receiver,
		Status: workflows.StatusSuccess, CallbackStatus: workflows.CallbackDelivered, AccountID: &accountID,
		AttemptCount: 1, MaxAttempts: 3, CreatedAt: created, UpdatedAt: created,
	})
	return id
}

// requireNoPII checks that no log entry carries a receiver or reply text.
func requireNoPII(t *testing.T, f *fixture, secrets ...string) {
	t.Helper()
	for _, e := range f.logs.All() {
		line := e.Message + " " + fmt.Sprint(e.ContextMap())
		for _, s := range secrets {
			require.NotContains(t, line, s)
		}
	}
}

func TestReplyCallbackRouting(t *testing.T) {
	t.Parallel()
	f := setup(t)
	body := replyJSON(t, providers.Reply{Receiver: testPhone, Content: "yes"})
	for _, tc := range []struct {
		name   string
		path   string
		status int
		code   int
	}{
		{"ErrUnknownAccount", replyPath(providerKind, 999, callbackToken), http.StatusNotFound, CodeInvalidParams},
		{"ErrAccountNotANumber", "/callbacks/" + providerKind + "/abc/replies?token=" + callbackToken, http.StatusNotFound, CodeInvalidParams},
		{"ErrKindMismatch", replyPath("silent", accSMS, callbackToken), http.StatusNotFound, CodeInvalidParams},
		{"ErrWrongToken", replyPath(providerKind, accSMS, "guess"), http.StatusNotFound, CodeInvalidParams},
		{"ErrNoToken", fmt.Sprintf("/callbacks/%s/%d/replies", providerKind, accSMS), http.StatusNotFound, CodeInvalidParams},
		{"ErrTokenOfAnotherAccount", replyPath(providerKind, accSMS, "tok-2"), http.StatusNotFound, CodeInvalidParams},
		{"ErrProviderWithoutReplies", replyPath("silent", accSilent, "tok-6"), http.StatusNotFound, CodeInvalidParams},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			status, raw := push(t, f, tc.path, body)
			require.Equal(t, tc.status, status, raw)
			var env envelope
			require.NoError(t, json.Unmarshal([]byte(raw), &env))
			require.Equal(t, tc.code, env.Code)
		})
	}
}

func TestReplyCallback(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	base := time.Date(2030, 5, 6, 7, 0, 0, 0, time.UTC)
	at := time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC)
	path := replyPath(providerKind, accSMS, callbackToken)

	for _, tc := range []struct {
		name, stored, replied string
	}{
		{"OK_LinksE164Receiver", testPhone, testPhoneLocal},
		{"OK_LinksNationalReceiver", testPhoneLocal, testPhone},
		{"OK_LinksSameSpelling", testPhone, testPhone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			id := messageTo(f, accSMS, tc.stored, base)
			status, raw := push(t, f, path, replyJSON(t, providers.Reply{
				Receiver: tc.replied, Content: "退订 please", SignName: "Herald", ExtendCode: "01", At: at,
			}))
			require.Equal(t, http.StatusOK, status)
			require.Equal(t, "OK", raw)
			events := f.store.eventsOf(id)
			require.Len(t, events, 1)
			ev := events[0]
			require.Equal(t, EventReply, ev.Kind)
			require.Equal(t, 1, ev.Seq)
			require.Equal(t, workflows.StatusSuccess, ev.Status, "the message's status, unchanged")
			require.Equal(t, accSMS, *ev.AccountID)
			require.Equal(t, "退订 please", ev.Detail)
			require.Empty(t, ev.Code)
			var data map[string]any
			require.NoError(t, json.Unmarshal(ev.Data, &data))
			require.Equal(t, map[string]any{
				"sign_name": "Herald", "extend_code": "01", "content_length": float64(9), "at": "2030-05-06T07:08:09Z",
			}, data)
			m, err := f.store.GetMessage(ctx, id)
			require.NoError(t, err)
			require.Equal(t, workflows.StatusSuccess, m.Status)
			require.Equal(t, workflows.CallbackDelivered, m.CallbackStatus)
			requireNoPII(t, f, testPhoneLocal, "退订")
		})
	}
	t.Run("OK_LatestMessageOfTheAccount", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		older := messageTo(f, accSMS, testPhone, base)
		latest := messageTo(f, accSMS, testPhoneLocal, base.Add(time.Minute))
		otherAccount := messageTo(f, accEmail, testPhone, base.Add(time.Hour))
		otherReceiver := messageTo(f, accSMS, testPhoneAlt, base.Add(time.Hour))
		status, raw := push(t, f, path, replyJSON(t, providers.Reply{Receiver: testPhone, Content: "ok"}))
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, "OK", raw)
		require.Len(t, f.store.eventsOf(latest), 1)
		for _, id := range []string{older, otherAccount, otherReceiver} {
			require.Empty(t, f.store.eventsOf(id))
		}
		var data map[string]any
		require.NoError(t, json.Unmarshal(f.store.eventsOf(latest)[0].Data, &data))
		require.NotEmpty(t, data["at"], "a reply without time gets the arrival time")
	})
	t.Run("OK_ProviderMessageIDWins", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		named := sentMessage(f, accSMS, "pm-1", workflows.StatusSent, "")
		later := messageTo(f, accSMS, testPhone, time.Now().Add(time.Hour))
		status, _ := push(t, f, path, replyJSON(t, providers.Reply{Receiver: testPhone, Content: "ok", ProviderMessageID: "pm-1"}))
		require.Equal(t, http.StatusOK, status)
		require.Len(t, f.store.eventsOf(named), 1)
		require.Equal(t, workflows.StatusSent, f.store.eventsOf(named)[0].Status)
		require.Empty(t, f.store.eventsOf(later))
	})
	t.Run("OK_UnknownReceiverSkipped", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		known := messageTo(f, accSMS, testPhone, base)
		status, raw := push(t, f, path, replyJSON(t,
			providers.Reply{Receiver: testPhoneAlt, Content: "who is this", ExtendCode: "7"},
			providers.Reply{Receiver: testPhone, Content: "fine"},
		))
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, "OK", raw)
		require.Len(t, f.store.eventsOf(known), 1, "the push goes on past a skipped reply")
		logged := f.logs.FilterMessageSnippet("unknown receiver").All()
		require.Len(t, logged, 1)
		require.Equal(t, accSMS, logged[0].ContextMap()["account_id"])
		requireNoPII(t, f, testPhoneAlt, "13900139000", "who is this", "fine")
	})
	t.Run("OK_RepeatedPushRecordedOnce", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		id := messageTo(f, accSMS, testPhone, base)
		body := replyJSON(t, providers.Reply{Receiver: testPhone, Content: "yes", At: at})
		for range 2 {
			status, raw := push(t, f, path, body)
			require.Equal(t, http.StatusOK, status)
			require.Equal(t, "OK", raw)
		}
		require.Len(t, f.store.eventsOf(id), 1)

		// The same text sent again later is another reply.
		status, _ := push(t, f, path, replyJSON(t, providers.Reply{Receiver: testPhone, Content: "yes", At: at.Add(time.Minute)}))
		require.Equal(t, http.StatusOK, status)
		events := f.store.eventsOf(id)
		require.Len(t, events, 2)
		require.Equal(t, 2, events[1].Seq)
	})
	t.Run("OK_RetriesSeqConflict", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		id := messageTo(f, accSMS, testPhone, base)
		f.store.mu.Lock()
		f.store.addEventErrs = []error{fmt.Errorf("seq taken: %w", store.ErrConflict)}
		f.store.mu.Unlock()
		status, raw := push(t, f, path, replyJSON(t, providers.Reply{Receiver: testPhone, Content: "yes"}))
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, "OK", raw)
		require.Len(t, f.store.eventsOf(id), 1)
	})
	t.Run("OK_ListedWithTheMessageEvents", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		id := messageTo(f, accSMS, testPhone, base)
		status, _ := push(t, f, path, replyJSON(t, providers.Reply{Receiver: testPhoneLocal, Content: "stop"}))
		require.Equal(t, http.StatusOK, status)
		events, err := f.client().MessageEvents(ctx, id)
		require.NoError(t, err)
		require.Len(t, events, 1)
		require.Equal(t, EventReply, events[0].Kind)
		require.Equal(t, "stop", events[0].Detail)
		require.Equal(t, accSMS, *events[0].AccountID)
	})
	t.Run("ErrStoreUnavailable", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		id := messageTo(f, accSMS, testPhone, base)
		f.store.mu.Lock()
		f.store.fail = func(method string) error {
			if method == "FindLatestMessageTo" {
				return errors.New("database unreachable")
			}
			return nil
		}
		f.store.mu.Unlock()
		status, raw := push(t, f, path, replyJSON(t, providers.Reply{Receiver: testPhone, Content: "yes"}))
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, "RETRY", raw, "the provider is asked to push again")
		require.Empty(t, f.store.eventsOf(id))
		require.Len(t, f.logs.FilterMessageSnippet("reply not recorded").All(), 1)
		requireNoPII(t, f, testPhoneLocal, "yes")
	})
	t.Run("ErrAddEventFails", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		messageTo(f, accSMS, testPhone, base)
		f.store.mu.Lock()
		f.store.addEventErrs = []error{errors.New("disk full")}
		f.store.mu.Unlock()
		status, raw := push(t, f, path, replyJSON(t, providers.Reply{Receiver: testPhone, Content: "yes"}))
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, "RETRY", raw)
	})
	t.Run("ErrUnparsable", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		status, raw := push(t, f, path, `{"not":"a list"`)
		require.Equal(t, http.StatusBadRequest, status)
		require.Equal(t, "RETRY", raw, "answered through the provider's acknowledgement")
	})
}

// TestReplyCallbackAliyun drives the route with Aliyun's own SmsUp push,
// parsed and acknowledged by the real Aliyun reply handler.
func TestReplyCallbackAliyun(t *testing.T) {
	t.Parallel()
	const (
		accAliyun   int64 = 70
		aliyunToken       = "tok-aliyun"
	)
	setupAliyun := func(t *testing.T) (*fixture, string) {
		t.Helper()
		f := setup(t)
		f.store.putAccount(store.ProviderAccount{ID: accAliyun, Name: "aliyun", Kind: aliyun.Kind, Enabled: true, CallbackToken: aliyunToken})
		return f, f.ts.URL + replyPath(aliyun.Kind, accAliyun, aliyunToken)
	}
	sendTime := time.Date(2030, 5, 6, 15, 8, 9, 0, time.FixedZone("CST", 8*3600))

	t.Run("OK_FromTheFake", func(t *testing.T) {
		t.Parallel()
		f, url := setupAliyun(t)
		id := messageTo(f, accAliyun, testPhone, time.Now())
		fake := aliyunfake.New(t)
		fake.SetReplyCallback(url)
		require.NoError(t, fake.PushReply(aliyunfake.Reply{
			PhoneNumber: testPhoneLocal, Content: "TD", SignName: "Herald", DestCode: "1234", SendTime: sendTime,
		}))
		pushes := fake.Pushes()
		require.Len(t, pushes, 1)
		require.Equal(t, http.StatusOK, pushes[0].StatusCode)

		events := f.store.eventsOf(id)
		require.Len(t, events, 1)
		require.Equal(t, EventReply, events[0].Kind)
		require.Equal(t, "TD", events[0].Detail)
		var data map[string]any
		require.NoError(t, json.Unmarshal(events[0].Data, &data))
		require.Equal(t, map[string]any{
			"sign_name": "Herald", "extend_code": "1234", "content_length": float64(2), "at": "2030-05-06T07:08:09Z",
		}, data)
	})
	t.Run("OK_UnknownReceiverAccepted", func(t *testing.T) {
		t.Parallel()
		f, _ := setupAliyun(t)
		status, raw := push(t, f, replyPath(aliyun.Kind, accAliyun, aliyunToken),
			`[{"phone_number":"13900139000","send_time":"2030-05-06 15:08:09","content":"hi","sign_name":"Herald","dest_code":"","sequence_id":123}]`)
		require.Equal(t, http.StatusOK, status)
		require.JSONEq(t, `{"code":0,"msg":"接收成功"}`, raw)
	})
	t.Run("ErrStoreUnavailable", func(t *testing.T) {
		t.Parallel()
		f, _ := setupAliyun(t)
		messageTo(f, accAliyun, testPhone, time.Now())
		f.store.mu.Lock()
		f.store.fail = func(method string) error {
			if method == "FindLatestMessageTo" {
				return errors.New("database unreachable")
			}
			return nil
		}
		f.store.mu.Unlock()
		status, raw := push(t, f, replyPath(aliyun.Kind, accAliyun, aliyunToken),
			`[{"phone_number":"13800138000","send_time":"2030-05-06 15:08:09","content":"TD","sign_name":"Herald","dest_code":"1234","sequence_id":"123"}]`)
		require.Equal(t, http.StatusInternalServerError, status)
		require.JSONEq(t, `{"code":1,"msg":"接收失败"}`, raw, "Aliyun pushes again after a refusal")
	})
	t.Run("ErrReceiptPushedToReplyURL", func(t *testing.T) {
		t.Parallel()
		f, _ := setupAliyun(t)
		status, raw := push(t, f, replyPath(aliyun.Kind, accAliyun, aliyunToken),
			`[{"phone_number":"13800138000","success":true,"biz_id":"932702304080415357^0","out_id":"x"}]`)
		require.Equal(t, http.StatusInternalServerError, status)
		require.JSONEq(t, `{"code":1,"msg":"接收失败"}`, raw)
	})
}
