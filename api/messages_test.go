package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"

	"github.com/heraldhq/herald/api/apiclient"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/workflows"
)

func sendBody(channelID int64, receiver, params string, extra ...string) string {
	b := fmt.Sprintf(`{"channel_id":%d,"receiver":%q,"template_params":%s`, channelID, receiver, params)
	for _, e := range extra {
		b += "," + e
	}
	return b + "}"
}

func TestSendMessage(t *testing.T) {
	t.Parallel()
	f := setup(t)

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		res := f.call(t, http.MethodPost, "/api/v1/messages", sendBody(chSMS, testPhoneLocal, otpParamsJSON, `"signature_name":"Acme"`))
		data := decodeData(t, res)
		require.Equal(t, []string{"created_at", "status", "task_id"}, keysOf(data))
		require.Equal(t, workflows.StatusPending, data["status"])
		taskID := data["task_id"].(string)
		_, err := uuid.Parse(taskID)
		require.NoError(t, err)
		_, err = time.Parse(time.RFC3339, data["created_at"].(string))
		require.NoError(t, err)

		m, err := f.store.GetMessage(context.Background(), taskID)
		require.NoError(t, err)
		require.Equal(t, testPhone, m.Receiver, "stored in E.164")
		require.Equal(t, otpRenderedText, m.Content)
		require.Equal(t, f.app.ID, m.AppID)
		require.Equal(t, store.ChannelSMS, m.MessageType)
		require.Equal(t, "Acme", m.SignatureName)
		require.Equal(t, workflows.StatusPending, m.Status)
		require.Equal(t, 3, m.MaxAttempts, "the channel's max attempts")
		require.Equal(t, map[string]string{"code": "123456", "minutes": "5"}, m.TemplateParams)
		require.NotEmpty(t, m.RequestHash)

		var started *workflows.SendInput
		for _, in := range f.engine.startsCopy() {
			if in.TaskID == taskID {
				started = &in
			}
		}
		require.NotNil(t, started, "the workflow is started")
		m, err = f.store.GetMessage(context.Background(), taskID)
		require.NoError(t, err)
		require.Equal(t, workflows.SendInput{TaskID: taskID, AppID: f.app.ID, ChannelID: chSMS, ExpiresAt: *m.ExpiresAt}, *started)
	})
	t.Run("OK_DefaultMaxAttempts", func(t *testing.T) {
		t.Parallel()
		data := decodeData(t, f.call(t, http.MethodPost, "/api/v1/messages", sendBody(chWeCom, "zhangsan", `{"text":"disk full"}`)))
		m, err := f.store.GetMessage(context.Background(), data["task_id"].(string))
		require.NoError(t, err)
		require.Equal(t, DefaultMaxAttempts, m.MaxAttempts)
		require.Equal(t, "Alert: disk full", m.Content)
	})
	t.Run("OK_NumbersAndBoolsAreStringified", func(t *testing.T) {
		t.Parallel()
		data := decodeData(t, f.call(t, http.MethodPost, "/api/v1/messages", sendBody(chSMS, testPhone, `{"code":123456,"minutes":true}`)))
		m, err := f.store.GetMessage(context.Background(), data["task_id"].(string))
		require.NoError(t, err)
		require.Equal(t, "Your code is 123456, valid true minutes", m.Content)
	})
	t.Run("OK_ChannelIDAsString", func(t *testing.T) {
		t.Parallel()
		decodeData(t, f.call(t, http.MethodPost, "/api/v1/messages", `{"channel_id":"9","receiver":"hook-1","template_params":[]}`))
	})
	t.Run("OK_EmailSubjectRendered", func(t *testing.T) {
		t.Parallel()
		data := decodeData(t, f.call(t, http.MethodPost, "/api/v1/messages", sendBody(chEmail, "User@Example.COM", `{"name":"Ann"}`)))
		m, err := f.store.GetMessage(context.Background(), data["task_id"].(string))
		require.NoError(t, err)
		require.Equal(t, "User@example.com", m.Receiver, "domain lower-cased")
		require.Equal(t, "Hello Ann", m.Subject)
		require.Equal(t, "<p>Hi Ann & welcome</p>", m.Content)
	})
	t.Run("OK_SubjectOverride", func(t *testing.T) {
		t.Parallel()
		data := decodeData(t, f.call(t, http.MethodPost, "/api/v1/messages", sendBody(chEmail, testEmail, `{"name":"Ann"}`, `"subject":"Custom"`)))
		m, err := f.store.GetMessage(context.Background(), data["task_id"].(string))
		require.NoError(t, err)
		require.Equal(t, "Custom", m.Subject)
	})

	for _, tc := range []struct {
		name         string
		body         string
		status, code int
		contains     string
	}{
		{"ErrBodyNotObject", `["x"]`, 400, CodeInvalidParams, "object"},
		{"ErrMissingChannelID", `{"receiver":"x"}`, 400, CodeMissingParam, "channel_id"},
		{"ErrMissingReceiver", `{"channel_id":1}`, 400, CodeMissingParam, "receiver"},
		{"ErrEmptyReceiver", `{"channel_id":1,"receiver":"  "}`, 400, CodeMissingParam, "receiver"},
		{"ErrChannelIDWrongType", `{"channel_id":1.5,"receiver":"x"}`, 400, CodeInvalidParams, "channel_id"},
		{"ErrChannelIDObject", `{"channel_id":{},"receiver":"x"}`, 400, CodeInvalidParams, "channel_id"},
		{"ErrReceiverWrongType", `{"channel_id":1,"receiver":13800138000}`, 400, CodeInvalidParams, "receiver"},
		{"ErrParamsWrongType", sendBody(chSMS, testPhone, `"code"`), 400, CodeInvalidParams, "template_params"},
		{"ErrParamValueObject", sendBody(chSMS, testPhone, `{"code":{"x":1},"minutes":"5"}`), 400, CodeInvalidParams, "template_params.code"},
		{"ErrParamValueNull", sendBody(chSMS, testPhone, `{"code":null,"minutes":"5"}`), 400, CodeInvalidParams, "template_params.code"},
		{"ErrSignatureWrongType", sendBody(chSMS, testPhone, otpParamsJSON, `"signature_name":1`), 400, CodeInvalidParams, "signature_name"},
		{"ErrChannelNotFound", sendBody(999, testPhone, otpParamsJSON), 404, CodeChannelNotFound, "999"},
		{"ErrChannelDisabled", sendBody(chDisabled, testPhone, otpParamsJSON), 403, CodeChannelDisabled, "disabled"},
		{"ErrTemplateMissing", sendBody(chNoTemplate, testPhone, otpParamsJSON), 404, CodeTemplateNotFound, "template"},
		{"ErrTemplateInvalid", sendBody(chBadTemplate, testPhone, `{"b":"x"}`), 503, CodeTemplateNotFound, "placeholders"},
		{"ErrNoEnabledAccount", sendBody(chNoAccount, testPhone, otpParamsJSON), 503, CodeNoProvider, "provider"},
		{"ErrPhoneNotANumber", sendBody(chSMS, "call me", otpParamsJSON), 400, CodeInvalidReceiver, "phone"},
		{"ErrPhoneInvalid", sendBody(chSMS, "12345", otpParamsJSON), 400, CodeInvalidReceiver, "phone"},
		{"ErrEmailInvalid", sendBody(chEmail, "not-an-address", `{"name":"A"}`), 400, CodeInvalidReceiver, "e-mail"},
		{"ErrEmailWithName", sendBody(chEmail, "Ann <ann@example.com>", `{"name":"A"}`), 400, CodeInvalidReceiver, "bare"},
		{"ErrEmailList", sendBody(chEmail, "a@example.com, b@example.com", `{"name":"A"}`), 400, CodeInvalidReceiver, "e-mail"},
		{"ErrUserIDWithSpace", sendBody(chWeCom, "zhang san", `{"text":"x"}`), 400, CodeInvalidReceiver, "spaces"},
		{"ErrUserIDTooLong", sendBody(chWeCom, strings.Repeat("u", 129), `{"text":"x"}`), 400, CodeInvalidReceiver, "128"},
		{"ErrUserIDControl", `{"channel_id":3,"receiver":"zhang\u0007","template_params":{"text":"x"}}`, 400, CodeInvalidReceiver, "control"},
		{"ErrParamsMissing", sendBody(chSMS, testPhone, `{"code":"1"}`), 400, CodeTemplateParams, "missing [minutes]"},
		{"ErrParamsUnknown", sendBody(chSMS, testPhone, `{"code":"1","minutes":"2","extra":"3","zz":"4"}`), 400, CodeTemplateParams, "unknown [extra, zz]"},
		{"ErrParamsAbsent", fmt.Sprintf(`{"channel_id":%d,"receiver":%q}`, chSMS, testPhone), 400, CodeTemplateParams, "missing [code, minutes]"},
		{"ErrSignatureRequired", sendBody(chDegraded, testPhone, otpParamsJSON), 400, CodeMissingParam, "signature_name"},
		{"ErrSignatureNotAllowed", sendBody(chSMS, testPhone, otpParamsJSON, `"signature_name":"Other"`), 400, CodeInvalidValue, "[Herald, Acme]"},
		{"ErrSignatureOnChannelWithout", sendBody(chWeCom, "u1", `{"text":"x"}`, `"signature_name":"Herald"`), 400, CodeInvalidValue, "no signatures"},
		{"ErrScheduledBadFormat", sendBody(chSMS, testPhone, otpParamsJSON, `"scheduled_at":"2030-01-01 10:00:00"`), 400, CodeInvalidValue, "RFC 3339"},
		{"ErrScheduledNoOffset", sendBody(chSMS, testPhone, otpParamsJSON, `"scheduled_at":"2030-01-01T10:00:00"`), 400, CodeInvalidValue, "RFC 3339"},
		{"ErrScheduledWrongType", sendBody(chSMS, testPhone, otpParamsJSON, `"scheduled_at":1700000000`), 400, CodeInvalidParams, "scheduled_at"},
		{"ErrScheduledInPast", sendBody(chSMS, testPhone, otpParamsJSON, fmt.Sprintf(`"scheduled_at":%q`, time.Now().Add(-2*time.Minute).Format(time.RFC3339))), 400, CodeInvalidValue, "past"},
		{"ErrScheduledTooFar", sendBody(chSMS, testPhone, otpParamsJSON, fmt.Sprintf(`"scheduled_at":%q`, time.Now().Add(31*24*time.Hour).Format(time.RFC3339))), 400, CodeInvalidValue, "30 days"},
		{"ErrAttachmentsOnSMS", sendBody(chSMS, testPhone, otpParamsJSON, `"attachments":[{"filename":"a.txt","content_base64":"aGk="}]`), 400, CodeInvalidValue, "email"},
		{"ErrAttachmentsWrongType", sendBody(chEmail, testEmail, `{"name":"A"}`, `"attachments":"a.txt"`), 400, CodeInvalidParams, "attachments"},
		{"ErrAttachmentNoName", sendBody(chEmail, testEmail, `{"name":"A"}`, `"attachments":[{"content_base64":"aGk="}]`), 400, CodeMissingParam, "attachments[0].filename"},
		{"ErrAttachmentPathName", sendBody(chEmail, testEmail, `{"name":"A"}`, `"attachments":[{"filename":"../etc/passwd","content_base64":"aGk="}]`), 400, CodeInvalidValue, "attachments[0].filename"},
		{"ErrAttachmentBadBase64", sendBody(chEmail, testEmail, `{"name":"A"}`, `"attachments":[{"filename":"a.txt","content_base64":"%%%"}]`), 400, CodeInvalidValue, "base64"},
		{"ErrTooManyAttachments", sendBody(chEmail, testEmail, `{"name":"A"}`, `"attachments":[`+strings.TrimSuffix(strings.Repeat(`{"filename":"a.txt","content_base64":"aGk="},`, 11), ",")+`]`), 400, CodeInvalidValue, "at most 10"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res := f.call(t, http.MethodPost, "/api/v1/messages", tc.body)
			requireError(t, res, tc.status, tc.code)
			require.Contains(t, res.Message, tc.contains)
			require.NotContains(t, string(res.Body), "store:", "no internals leak")
		})
	}
}

func TestSendMessageWritesNothingOnRejection(t *testing.T) {
	t.Parallel()
	f := setup(t)
	requireError(t, f.call(t, http.MethodPost, "/api/v1/messages", sendBody(chSMS, testPhone, `{"code":"1"}`)), 400, CodeTemplateParams)
	requireError(t, f.call(t, http.MethodPost, "/api/v1/messages", sendBody(chSMS, "nope", otpParamsJSON)), 400, CodeInvalidReceiver)
	requireError(t, f.call(t, http.MethodPost, "/api/v1/messages", sendBody(chEmail, testEmail, `{"name":"A"}`, `"attachments":[{"filename":"a","content_base64":"!"}]`)), 400, CodeInvalidValue)
	require.Zero(t, f.store.messageCount())
	require.Zero(t, f.engine.startCount())
}

func TestSendMessageSchedule(t *testing.T) {
	t.Parallel()
	f := setup(t)
	t.Run("OK_FutureWithOffset", func(t *testing.T) {
		t.Parallel()
		at := time.Now().Add(2 * time.Hour).Truncate(time.Second).In(time.FixedZone("CST", 8*3600))
		res := f.call(t, http.MethodPost, "/api/v1/messages", sendBody(chSMS, testPhone, otpParamsJSON, fmt.Sprintf(`"scheduled_at":%q`, at.Format(time.RFC3339))))
		taskID := decodeData(t, res)["task_id"].(string)
		m, err := f.store.GetMessage(context.Background(), taskID)
		require.NoError(t, err)
		require.NotNil(t, m.ScheduledAt)
		require.True(t, at.Equal(*m.ScheduledAt))
		for _, in := range f.engine.startsCopy() {
			if in.TaskID == taskID {
				require.True(t, at.Equal(in.ScheduledAt), "the workflow gets the schedule")
				return
			}
		}
		t.Fatal("workflow not started")
	})
	t.Run("OK_SlightlyPastIsTolerated", func(t *testing.T) {
		t.Parallel()
		at := time.Now().Add(-10 * time.Second).UTC().Format(time.RFC3339)
		decodeData(t, f.call(t, http.MethodPost, "/api/v1/messages", sendBody(chSMS, testPhone, otpParamsJSON, fmt.Sprintf(`"scheduled_at":%q`, at))))
	})
	t.Run("OK_EmptyMeansNow", func(t *testing.T) {
		t.Parallel()
		decodeData(t, f.call(t, http.MethodPost, "/api/v1/messages", sendBody(chSMS, testPhone, otpParamsJSON, `"scheduled_at":""`)))
	})
}

func TestSendMessageAttachments(t *testing.T) {
	t.Parallel()
	// Room for more than 3 MiB of base64 in one body.
	f := setup(t, withConfig(func(c *Config) { c.MaxBodyBytes = 8 << 20 }))
	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		content := base64.StdEncoding.EncodeToString([]byte("hello, file"))
		res := f.call(t, http.MethodPost, "/api/v1/messages", sendBody(chEmail, testEmail, `{"name":"A"}`,
			`"attachments":[{"filename":"report.txt","content_type":"text/plain","content_base64":"`+content+`"},{"filename":"raw.bin","content_base64":"aGk"}]`))
		m, err := f.store.GetMessage(context.Background(), decodeData(t, res)["task_id"].(string))
		require.NoError(t, err)
		var stored []struct {
			Filename    string `json:"filename"`
			ContentType string `json:"content_type"`
			Content     []byte `json:"content"`
		}
		require.NoError(t, json.Unmarshal(m.Attachments, &stored))
		require.Len(t, stored, 2)
		require.Equal(t, "report.txt", stored[0].Filename)
		require.Equal(t, "text/plain", stored[0].ContentType)
		require.Equal(t, "hello, file", string(stored[0].Content))
		require.Equal(t, "application/octet-stream", stored[1].ContentType)
		require.Equal(t, "hi", string(stored[1].Content))
	})
	t.Run("ErrTooLarge", func(t *testing.T) {
		t.Parallel()
		big := base64.StdEncoding.EncodeToString(make([]byte, 2<<20))
		res := f.call(t, http.MethodPost, "/api/v1/messages", sendBody(chEmail, testEmail, `{"name":"A"}`,
			`"attachments":[{"filename":"a.bin","content_base64":"`+big+`"},{"filename":"b.bin","content_base64":"`+big+`"}]`))
		requireError(t, res, http.StatusBadRequest, CodeInvalidValue)
		require.Contains(t, res.Message, "in total")
	})
}

func TestSendMessageStartFailureStillAccepts(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.engine.startErr = errors.New("temporal unavailable")
	data := decodeData(t, f.call(t, http.MethodPost, "/api/v1/messages", sendBody(chSMS, testPhone, otpParamsJSON)))
	m, err := f.store.GetMessage(context.Background(), data["task_id"].(string))
	require.NoError(t, err)
	require.Equal(t, workflows.StatusPending, m.Status, "durably accepted for the sweeper")
	require.NotEmpty(t, f.logs.FilterMessageSnippet("sweeper").All(), "the failed start is logged")
}

func TestSendMessageIdempotency(t *testing.T) {
	t.Parallel()
	f := setup(t)
	c := f.client()
	ctx := context.Background()
	req := apiclient.SendMessageRequest{ChannelID: chSMS, Receiver: testPhone, TemplateParams: map[string]string{"code": "1", "minutes": "2"}}

	t.Run("OK_SameKeySameTask", func(t *testing.T) {
		t.Parallel()
		key := "order-" + randHex(4)
		first, err := c.SendMessage(ctx, req, apiclient.WithIdempotencyKey(key))
		require.NoError(t, err)
		// Same request with different key order and spacing.
		res := f.call(t, http.MethodPost, "/api/v1/messages",
			` {"template_params": {"minutes": "2", "code": "1"}, "receiver": "`+testPhone+`", "channel_id": 1}`,
			withIdempotencyKey(key))
		data := decodeData(t, res)
		require.Equal(t, "true", res.Header.Get(headerReplayed))
		require.Equal(t, first.TaskID, data["task_id"])
		require.Equal(t, first.CreatedAt.UTC().Format(time.RFC3339), data["created_at"])
		require.Equal(t, "pending", data["status"])
		starts := 0
		for _, in := range f.engine.startsCopy() {
			if in.TaskID == first.TaskID {
				starts++
			}
		}
		require.Equal(t, 1, starts, "never a second send")
	})
	t.Run("ErrSameKeyDifferentRequest", func(t *testing.T) {
		t.Parallel()
		key := "order-" + randHex(4)
		_, err := c.SendMessage(ctx, req, apiclient.WithIdempotencyKey(key))
		require.NoError(t, err)
		other := req
		other.Receiver = testPhoneAlt
		_, err = c.SendMessage(ctx, other, apiclient.WithIdempotencyKey(key))
		var apiErr *apiclient.APIError
		require.ErrorAs(t, err, &apiErr)
		require.Equal(t, http.StatusConflict, apiErr.HTTPStatus)
		require.Equal(t, CodeInvalidValue, apiErr.Code)
		require.Contains(t, apiErr.Message, "was used with a different request")
	})
	t.Run("ErrKeyTooLong", func(t *testing.T) {
		t.Parallel()
		_, err := c.SendMessage(ctx, req, apiclient.WithIdempotencyKey(strings.Repeat("k", 256)))
		var apiErr *apiclient.APIError
		require.ErrorAs(t, err, &apiErr)
		require.Equal(t, CodeInvalidValue, apiErr.Code)
	})
	t.Run("OK_ConcurrentSameKey", func(t *testing.T) {
		t.Parallel()
		key := "race-" + randHex(4)
		const n = 8
		ids := make([]string, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := c.SendMessage(ctx, req, apiclient.WithIdempotencyKey(key))
				if err == nil {
					ids[i] = res.TaskID
				}
			}()
		}
		wg.Wait()
		for _, id := range ids {
			require.Equal(t, ids[0], id, "every caller sees the winner")
		}
		require.NotEmpty(t, ids[0])
	})
}

func TestSendMessageLosesCreateRace(t *testing.T) {
	t.Parallel()
	f := setup(t)
	key := "race-" + randHex(4)
	winner := "0d6f4c1e-3b6a-4f8e-9d2a-1c5b7e9f0a11"
	var once sync.Once
	body := sendBody(chSMS, testPhone, otpParamsJSON)
	// Another replica inserts the same key between our lookup and insert.
	f.store.beforeCreate = func(msgs []*store.Message, _ *store.Batch) {
		once.Do(func() {
			w := *msgs[0]
			w.TaskID = winner
			f.store.putMessage(w)
		})
	}
	res := f.call(t, http.MethodPost, "/api/v1/messages", body, withIdempotencyKey(key))
	data := decodeData(t, res)
	require.Equal(t, winner, data["task_id"])
	require.Zero(t, f.engine.startCount(), "the loser starts nothing")
}

func TestGetMessage(t *testing.T) {
	t.Parallel()
	f := setup(t)
	c := f.client()
	ctx := context.Background()
	sent, err := c.SendMessage(ctx, apiclient.SendMessageRequest{ChannelID: chSMS, Receiver: testPhone, TemplateParams: map[string]string{"code": "42", "minutes": "1"}})
	require.NoError(t, err)
	finished := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	require.NoError(t, f.store.UpdateMessage(ctx, sent.TaskID, store.MessagePatch{
		Status: ptr(workflows.StatusSuccess), CallbackStatus: ptr("delivered"), AttemptCount: ptr(2), FinishedAt: &finished,
	}))
	other := store.Message{TaskID: uuid.NewString(), AppID: "someone-else", ChannelID: chSMS, Status: "pending"}
	f.store.putMessage(other)

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		data := decodeData(t, f.call(t, http.MethodGet, "/api/v1/messages/"+sent.TaskID, ""))
		require.Equal(t, []string{
			"app_id", "batch_id", "callback_status", "channel_id", "content", "created_at", "expires_at", "finished_at", "id",
			"last_error", "max_retry", "message_type", "priority", "receiver", "redriven_to", "retry_count", "scheduled_at", "status",
			"task_id", "updated_at",
		}, keysOf(data))
		require.Nil(t, data["redriven_to"], "not resent")
		require.Equal(t, sent.TaskID, data["task_id"])
		require.Equal(t, f.app.ID, data["app_id"])
		require.EqualValues(t, chSMS, data["channel_id"])
		require.Equal(t, "sms", data["message_type"])
		require.Equal(t, testPhone, data["receiver"])
		require.Equal(t, "Your code is 42, valid 1 minutes", data["content"])
		require.Equal(t, "success", data["status"])
		require.Equal(t, "delivered", data["callback_status"])
		require.EqualValues(t, 1, data["retry_count"])
		require.EqualValues(t, 2, data["max_retry"])
		require.Equal(t, "2030-01-02T03:04:05Z", data["finished_at"])
		require.Nil(t, data["scheduled_at"])
	})
	t.Run("Resent", func(t *testing.T) {
		t.Parallel()
		resent := store.Message{TaskID: uuid.NewString(), AppID: f.app.ID, ChannelID: chSMS, Status: "failed", RedrivenTo: "a-new-task"}
		f.store.putMessage(resent)
		data := decodeData(t, f.call(t, http.MethodGet, "/api/v1/messages/"+resent.TaskID, ""))
		require.Equal(t, "a-new-task", data["redriven_to"])
		m, err := c.GetMessage(ctx, resent.TaskID)
		require.NoError(t, err)
		require.Equal(t, "a-new-task", *m.RedrivenTo)
	})
	t.Run("OK_Client", func(t *testing.T) {
		t.Parallel()
		m, err := c.GetMessage(ctx, sent.TaskID)
		require.NoError(t, err)
		require.Equal(t, sent.TaskID, m.TaskID)
		require.Equal(t, 1, m.RetryCount)
		require.True(t, finished.Equal(*m.FinishedAt))
	})
	for name, path := range map[string]string{
		"ErrOtherAppsTask": "/api/v1/messages/" + other.TaskID,
		"ErrUnknownTask":   "/api/v1/messages/" + uuid.NewString(),
		"ErrMalformedID":   "/api/v1/messages/not-a-uuid",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			requireError(t, f.call(t, http.MethodGet, path, ""), http.StatusNotFound, CodeTaskNotFound)
		})
	}
}

func TestMessageEvents(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	sent, err := f.client().SendMessage(ctx, apiclient.SendMessageRequest{ChannelID: chSMS, Receiver: testPhone, TemplateParams: map[string]string{"code": "1", "minutes": "1"}})
	require.NoError(t, err)
	acc := accSMS
	require.NoError(t, f.store.AddEvent(ctx, &store.MessageEvent{TaskID: sent.TaskID, Seq: 2, Kind: "sent", Status: "sent", AccountID: &acc, Code: "Ok", Detail: "accepted", CreatedAt: time.Now()}))
	require.NoError(t, f.store.AddEvent(ctx, &store.MessageEvent{TaskID: sent.TaskID, Seq: 1, Kind: "accepted", Status: "pending", CreatedAt: time.Now()}))

	data := decodeData(t, f.call(t, http.MethodGet, "/api/v1/messages/"+sent.TaskID+"/events", ""))
	require.Equal(t, []string{"items"}, keysOf(data))
	items := data["items"].([]any)
	require.Len(t, items, 2)
	first, second := items[0].(map[string]any), items[1].(map[string]any)
	require.Equal(t, []string{"account_id", "code", "created_at", "detail", "kind", "seq", "status"}, keysOf(first))
	require.EqualValues(t, 1, first["seq"])
	require.Nil(t, first["account_id"])
	require.EqualValues(t, accSMS, second["account_id"])

	events, err := f.client().MessageEvents(ctx, sent.TaskID)
	require.NoError(t, err)
	require.Len(t, events, 2)

	t.Run("OK_EmptyTimelineIsAList", func(t *testing.T) {
		sent2, err := f.client().SendMessage(ctx, apiclient.SendMessageRequest{ChannelID: chSMS, Receiver: testPhone, TemplateParams: map[string]string{"code": "1", "minutes": "1"}})
		require.NoError(t, err)
		res := f.call(t, http.MethodGet, "/api/v1/messages/"+sent2.TaskID+"/events", "")
		require.JSONEq(t, `{"items":[]}`, string(res.Data))
	})
}

func TestCancelMessage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	send := func(t *testing.T, f *fixture) string {
		res, err := f.client().SendMessage(ctx, apiclient.SendMessageRequest{ChannelID: chSMS, Receiver: testPhone, TemplateParams: map[string]string{"code": "1", "minutes": "1"}})
		require.NoError(t, err)
		return res.TaskID
	}

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		id := send(t, f)
		res, err := f.client().CancelMessage(ctx, id)
		require.NoError(t, err)
		require.Equal(t, &apiclient.CancelResponse{TaskID: id, Status: "cancelled"}, res)
		require.Equal(t, []string{id}, f.engine.cancelsCopy())
	})
	t.Run("ErrAlreadySent", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		id := send(t, f)
		require.NoError(t, f.store.UpdateMessage(ctx, id, store.MessagePatch{Status: ptr(workflows.StatusSent)}))
		res := f.call(t, http.MethodDelete, "/api/v1/messages/"+id, "")
		requireError(t, res, http.StatusConflict, CodeInvalidValue)
		require.Contains(t, res.Message, "is sent")
		require.Empty(t, f.engine.cancelsCopy())
	})
	t.Run("ErrEngineSaysTooLate", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		id := send(t, f)
		// A worker picks the message up just before the cancel arrives.
		f.engine.onCancel = func(taskID string) {
			require.NoError(t, f.store.UpdateMessage(ctx, taskID, store.MessagePatch{Status: ptr(workflows.StatusProcessing)}))
		}
		f.engine.cancelErr = fmt.Errorf("cancel: %w", workflows.ErrNotCancellable)
		res := f.call(t, http.MethodDelete, "/api/v1/messages/"+id, "")
		requireError(t, res, http.StatusConflict, CodeInvalidValue)
		require.Contains(t, res.Message, "is processing")
	})
	t.Run("ErrNoWorkflowYet", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		id := send(t, f)
		f.engine.cancelErr = fmt.Errorf("workflow not found: %w", workflows.ErrNotCancellable)
		res := f.call(t, http.MethodDelete, "/api/v1/messages/"+id, "")
		requireError(t, res, http.StatusConflict, CodeInvalidValue)
		require.Contains(t, res.Message, "try again")
	})
	t.Run("OK_AlreadyCancelled", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		id := send(t, f)
		require.NoError(t, f.store.UpdateMessage(ctx, id, store.MessagePatch{Status: ptr(workflows.StatusCancelled)}))
		res, err := f.client().CancelMessage(ctx, id)
		require.NoError(t, err)
		require.Equal(t, "cancelled", res.Status)
		require.Empty(t, f.engine.cancelsCopy())
	})
	t.Run("ErrEngineDown", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		id := send(t, f)
		f.engine.cancelErr = serviceerror.NewUnavailable("connection refused")
		res := f.call(t, http.MethodDelete, "/api/v1/messages/"+id, "")
		requireError(t, res, http.StatusServiceUnavailable, CodeEngine)
		require.NotContains(t, res.Message, "refused")
	})
	t.Run("ErrUnknownTask", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		requireError(t, f.call(t, http.MethodDelete, "/api/v1/messages/"+uuid.NewString(), ""), http.StatusNotFound, CodeTaskNotFound)
	})
}
