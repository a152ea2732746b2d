package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/api/apiclient"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/workflows"
)

func TestSendBatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("OK_MixedReceivers", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		body := `{"channel_id":1,"template_params":` + otpParamsJSON + `,"receivers":[
			"` + testPhone + `", "not a phone", "` + testPhoneLocal + `", 42, "` + testPhoneAlt + `", "12345"]}`
		res := f.call(t, http.MethodPost, "/api/v1/messages/batch", body)
		data := decodeData(t, res)
		require.Equal(t, []string{"batch_id", "created_at", "failed_count", "rejected", "success_count", "tasks", "total_count"}, keysOf(data))

		var got struct {
			BatchID      string                `json:"batch_id"`
			TotalCount   int                   `json:"total_count"`
			SuccessCount int                   `json:"success_count"`
			FailedCount  int                   `json:"failed_count"`
			Tasks        []apiclient.BatchTask `json:"tasks"`
			Rejected     []apiclient.Rejection `json:"rejected"`
		}
		require.NoError(t, json.Unmarshal(res.Data, &got))
		require.Equal(t, 6, got.TotalCount)
		require.Equal(t, 2, got.SuccessCount)
		require.Equal(t, 4, got.FailedCount)
		require.Len(t, got.Tasks, 2)
		require.Equal(t, 0, got.Tasks[0].Index)
		require.Equal(t, 4, got.Tasks[1].Index)

		require.Len(t, got.Rejected, 4)
		byIndex := map[int]apiclient.Rejection{}
		for _, r := range got.Rejected {
			byIndex[r.Index] = r
		}
		require.Equal(t, CodeInvalidReceiver, byIndex[1].Code)
		require.Equal(t, "not a phone", byIndex[1].Receiver)
		require.Equal(t, CodeInvalidValue, byIndex[2].Code, "duplicate after normalisation")
		require.Contains(t, byIndex[2].Message, "receivers[0]")
		require.Equal(t, CodeInvalidParams, byIndex[3].Code, "not a string")
		require.Equal(t, CodeInvalidReceiver, byIndex[5].Code)

		b, err := f.store.GetBatch(ctx, got.BatchID)
		require.NoError(t, err)
		require.Equal(t, f.app.ID, b.AppID)
		require.Equal(t, 6, b.TotalCount)
		msgs, err := f.store.ListBatchMessages(ctx, got.BatchID)
		require.NoError(t, err)
		require.Len(t, msgs, 2)
		require.Equal(t, testPhone, msgs[0].Receiver)
		require.Equal(t, testPhoneAlt, msgs[1].Receiver)
		for _, m := range msgs {
			require.Equal(t, workflows.StatusPending, m.Status)
			require.Equal(t, otpRenderedText, m.Content)
			require.Empty(t, m.IdempotencyKey)
		}
		require.Zero(t, f.engine.startCount(), "no send workflow for a member")
		starts := f.engine.batchStartsCopy()
		require.Len(t, starts, 1, "one batch workflow per batch")
		require.Equal(t, workflows.BatchInput{BatchID: got.BatchID, AppID: f.app.ID, ChannelID: 1, Members: 2, ExpiresAt: *msgs[0].ExpiresAt}, starts[0])
		require.Equal(t, workflows.BatchWorkflowID(got.BatchID), b.WorkflowID)
		require.Equal(t, store.BatchRunning, b.Status)
		require.Equal(t, otpRenderedText, b.Content, "the shared content is stored once, on the batch")
		for i, m := range msgs {
			require.Equal(t, i+1, m.BatchSeq)
			require.Equal(t, got.Tasks[i].TaskID, m.TaskID)
		}
	})
	t.Run("OK_Client", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		res, err := f.client().SendBatch(ctx, apiclient.SendBatchRequest{
			ChannelID: chWeCom, Receivers: []string{"u1", "u2", "u3"}, TemplateParams: map[string]string{"text": "hi"},
		})
		require.NoError(t, err)
		require.Equal(t, 3, res.SuccessCount)
		require.Empty(t, res.Rejected)
		require.NotNil(t, res.Rejected, "rejected is [] not null")
		require.WithinDuration(t, time.Now(), res.CreatedAt, time.Minute)
	})
	t.Run("ErrNoValidReceiver", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		res := f.call(t, http.MethodPost, "/api/v1/messages/batch", `{"channel_id":1,"template_params":`+otpParamsJSON+`,"receivers":["x","y"]}`)
		requireError(t, res, http.StatusBadRequest, CodeInvalidReceiver)
		var data struct {
			Rejected []apiclient.Rejection `json:"rejected"`
		}
		require.NoError(t, json.Unmarshal(res.Data, &data))
		require.Len(t, data.Rejected, 2)
		require.Zero(t, f.store.batchCount())
		require.Zero(t, f.store.messageCount())
	})
	t.Run("ErrTooManyReceivers", func(t *testing.T) {
		t.Parallel()
		f := setup(t, withConfig(func(c *Config) { c.BatchMaxSize = 2 }))
		res := f.call(t, http.MethodPost, "/api/v1/messages/batch", `{"channel_id":3,"template_params":{"text":"x"},"receivers":["a","b","c"]}`)
		requireError(t, res, http.StatusBadRequest, CodeInvalidValue)
		require.Contains(t, res.Message, "1 to 2")
	})
	t.Run("ErrEmptyReceivers", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		requireError(t, f.call(t, http.MethodPost, "/api/v1/messages/batch", `{"channel_id":3,"template_params":{"text":"x"},"receivers":[]}`), http.StatusBadRequest, CodeInvalidValue)
	})
	t.Run("ErrMissingReceivers", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		requireError(t, f.call(t, http.MethodPost, "/api/v1/messages/batch", `{"channel_id":3,"template_params":{"text":"x"}}`), http.StatusBadRequest, CodeMissingParam)
	})
	t.Run("ErrReceiversNotAList", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		requireError(t, f.call(t, http.MethodPost, "/api/v1/messages/batch", `{"channel_id":3,"template_params":{"text":"x"},"receivers":"a,b"}`), http.StatusBadRequest, CodeInvalidParams)
	})
	t.Run("ErrTemplateParamsCheckedOnce", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		res := f.call(t, http.MethodPost, "/api/v1/messages/batch", `{"channel_id":3,"template_params":{},"receivers":["a"]}`)
		requireError(t, res, http.StatusBadRequest, CodeTemplateParams)
		require.Contains(t, res.Message, "missing [text]")
	})
	t.Run("OK_StartFailuresStillAccept", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		f.engine.batchStartErr = errors.New("down")
		receivers := make([]string, 40)
		for i := range receivers {
			receivers[i] = "user-" + strings.Repeat("x", i+1)
		}
		res, err := f.client().SendBatch(ctx, apiclient.SendBatchRequest{ChannelID: chWeCom, Receivers: receivers, TemplateParams: map[string]string{"text": "hi"}})
		require.NoError(t, err)
		require.Equal(t, 40, res.SuccessCount, "a lost start leaves the batch to the sweeper")
		require.Len(t, f.engine.batchStartsCopy(), 1)
		require.Zero(t, f.engine.startCount())
	})
}

func TestSendBatchIdempotency(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	c := f.client()
	req := apiclient.SendBatchRequest{ChannelID: chSMS, Receivers: []string{testPhone, "bad", testPhoneAlt}, TemplateParams: map[string]string{"code": "1", "minutes": "2"}}

	t.Run("OK_Replay", func(t *testing.T) {
		t.Parallel()
		// An engine of its own: the other subtests start sends too.
		f := setup(t)
		c := f.client()
		key := "batch-" + randHex(4)
		first, err := c.SendBatch(ctx, req, apiclient.WithIdempotencyKey(key))
		require.NoError(t, err)
		require.Len(t, f.engine.batchStartsCopy(), 1, "one batch workflow")
		again, err := c.SendBatch(ctx, req, apiclient.WithIdempotencyKey(key))
		require.NoError(t, err)
		require.Equal(t, first, again, "the same response")
		require.Len(t, f.engine.batchStartsCopy(), 1, "nothing started twice")
		require.Zero(t, f.engine.startCount())
	})
	t.Run("ErrDifferentRequest", func(t *testing.T) {
		t.Parallel()
		key := "batch-" + randHex(4)
		_, err := c.SendBatch(ctx, req, apiclient.WithIdempotencyKey(key))
		require.NoError(t, err)
		other := req
		other.Receivers = []string{testPhone}
		_, err = c.SendBatch(ctx, other, apiclient.WithIdempotencyKey(key))
		var apiErr *apiclient.APIError
		require.ErrorAs(t, err, &apiErr)
		require.Equal(t, http.StatusConflict, apiErr.HTTPStatus)
		require.Equal(t, CodeInvalidValue, apiErr.Code)
	})
	t.Run("ErrKeyOfASingleSend", func(t *testing.T) {
		t.Parallel()
		key := "shared-" + randHex(4)
		_, err := c.SendMessage(ctx, apiclient.SendMessageRequest{ChannelID: chSMS, Receiver: testPhone, TemplateParams: map[string]string{"code": "1", "minutes": "2"}}, apiclient.WithIdempotencyKey(key))
		require.NoError(t, err)
		_, err = c.SendBatch(ctx, req, apiclient.WithIdempotencyKey(key))
		var apiErr *apiclient.APIError
		require.ErrorAs(t, err, &apiErr)
		require.Equal(t, http.StatusConflict, apiErr.HTTPStatus)
	})
}
