package api

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/api/apiclient"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/workflows"
)

// sendTestBatch accepts a batch of three WeCom receivers and returns its
// response.
func sendTestBatch(t *testing.T, f *fixture) *apiclient.SendBatchResponse {
	t.Helper()
	res, err := f.client().SendBatch(context.Background(), apiclient.SendBatchRequest{
		ChannelID: chWeCom, Receivers: []string{"u1", "u2", "u3"}, TemplateParams: map[string]string{"text": "hi"},
	})
	require.NoError(t, err)
	return res
}

func decodeBatch(t *testing.T, res result) batchView {
	t.Helper()
	require.Equal(t, http.StatusOK, res.Status, res.Message)
	var v batchView
	require.NoError(t, json.Unmarshal(res.Data, &v))
	return v
}

func TestGetBatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		sent := sendTestBatch(t, f)
		require.NoError(t, f.store.UpdateMessage(ctx, sent.Tasks[0].TaskID, store.MessagePatch{Status: ptr(workflows.StatusSuccess)}))
		require.NoError(t, f.store.UpdateMessage(ctx, sent.Tasks[1].TaskID, store.MessagePatch{Status: ptr(workflows.StatusSent)}))

		v := decodeBatch(t, f.call(t, http.MethodGet, "/api/v1/batches/"+sent.BatchID, ""))
		require.Equal(t, sent.BatchID, v.BatchID)
		require.Equal(t, store.BatchRunning, v.Status)
		require.Equal(t, 3, v.TotalCount)
		require.Equal(t, 3, v.SuccessCount)
		require.Equal(t, batchCountsView{Pending: 1, Sent: 1, Success: 1}, v.Counts)
		require.Equal(t, 1, v.Finished)
		require.Nil(t, v.FinishedAt)
	})
	t.Run("OK_MemberReadable", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		sent := sendTestBatch(t, f)
		data := decodeData(t, f.call(t, http.MethodGet, "/api/v1/messages/"+sent.Tasks[2].TaskID, ""))
		require.Equal(t, "Alert: hi", data["content"], "a member reads with its batch's content")
		require.Equal(t, sent.BatchID, data["batch_id"])
		require.Equal(t, "u3", data["receiver"])
	})
	t.Run("OK_Legacy", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		id := uuid.NewString()
		require.NoError(t, f.store.CreateMessages(ctx, []*store.Message{{TaskID: uuid.NewString(), BatchID: id, AppID: f.app.ID, ChannelID: chWeCom, Status: workflows.StatusPending}},
			&store.Batch{ID: id, AppID: f.app.ID, ChannelID: chWeCom, TotalCount: 1, SuccessCount: 1}))
		v := decodeBatch(t, f.call(t, http.MethodGet, "/api/v1/batches/"+id, ""))
		require.Equal(t, BatchStatusLegacy, v.Status)
		require.Equal(t, 1, v.Counts.Pending)

		res := f.call(t, http.MethodPost, "/api/v1/batches/"+id+"/pause", "")
		requireError(t, res, http.StatusConflict, CodeInvalidValue)
		updates, _ := f.engine.batchCallsCopy()
		require.Empty(t, updates, "a legacy batch has no batch workflow")
	})
	for name, id := range map[string]func(f *fixture) string{
		"ErrUnknown":  func(*fixture) string { return uuid.NewString() },
		"ErrNotUUID":  func(*fixture) string { return "batch-1" },
		"ErrOtherApp": func(f *fixture) string { return otherAppBatch(t, f) },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			path := "/api/v1/batches/" + id(f)
			for _, r := range []struct{ method, path string }{
				{http.MethodGet, path}, {http.MethodPost, path + "/pause"}, {http.MethodPost, path + "/resume"}, {http.MethodDelete, path},
			} {
				requireError(t, f.call(t, r.method, r.path, ""), http.StatusNotFound, CodeBatchNotFound)
			}
			updates, _ := f.engine.batchCallsCopy()
			require.Empty(t, updates)
		})
	}
}

// otherAppBatch stores a batch of another app and returns its id.
func otherAppBatch(t *testing.T, f *fixture) string {
	t.Helper()
	id := uuid.NewString()
	require.NoError(t, f.store.CreateBatch(context.Background(),
		&store.Batch{ID: id, AppID: "someone-else", ChannelID: chWeCom, WorkflowID: workflows.BatchWorkflowID(id), Status: store.BatchRunning},
		&store.Message{AppID: "someone-else", ChannelID: chWeCom, Status: workflows.StatusPending},
		[]string{"u1"}))
	return id
}

func TestUpdateBatch(t *testing.T) {
	t.Parallel()

	t.Run("OK_PauseResumeCancel", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		sent := sendTestBatch(t, f)
		path := "/api/v1/batches/" + sent.BatchID
		require.Equal(t, store.BatchPaused, decodeBatch(t, f.call(t, http.MethodPost, path+"/pause", "")).Status)
		require.Equal(t, store.BatchRunning, decodeBatch(t, f.call(t, http.MethodPost, path+"/resume", "")).Status)
		v := decodeBatch(t, f.call(t, http.MethodDelete, path, ""))
		require.Equal(t, store.BatchCancelled, v.Status)
		require.Equal(t, 3, v.Counts.Pending, "the workflow cancels the members; the route only asks it to")

		updates, members := f.engine.batchCallsCopy()
		require.Equal(t, []string{
			sent.BatchID + "/" + workflows.BatchPauseUpdate,
			sent.BatchID + "/" + workflows.BatchResumeUpdate,
			sent.BatchID + "/" + workflows.BatchCancelUpdate,
		}, updates)
		require.Empty(t, members)

		// Ended: answered without asking the workflow again.
		requireError(t, f.call(t, http.MethodPost, path+"/resume", ""), http.StatusConflict, CodeInvalidValue)
		updates, _ = f.engine.batchCallsCopy()
		require.Len(t, updates, 3)
	})
	t.Run("ErrWorkflowClosed", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		sent := sendTestBatch(t, f)
		f.engine.mu.Lock()
		f.engine.updateErr = workflows.ErrWorkflowClosed
		f.engine.mu.Unlock()
		res := f.call(t, http.MethodPost, "/api/v1/batches/"+sent.BatchID+"/pause", "")
		requireError(t, res, http.StatusConflict, CodeInvalidValue)
		require.Contains(t, res.Message, "has ended")
	})
	t.Run("ErrEngineDown", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		sent := sendTestBatch(t, f)
		f.engine.mu.Lock()
		f.engine.updateErr = context.DeadlineExceeded
		f.engine.mu.Unlock()
		res := f.call(t, http.MethodDelete, "/api/v1/batches/"+sent.BatchID, "")
		require.GreaterOrEqual(t, res.Status, 500)
	})
}

func TestCancelBatchMember(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		sent := sendTestBatch(t, f)
		task := sent.Tasks[1].TaskID
		data := decodeData(t, f.call(t, http.MethodDelete, "/api/v1/messages/"+task, ""))
		require.Equal(t, workflows.StatusCancelled, data["status"])
		_, members := f.engine.batchCallsCopy()
		require.Equal(t, []string{sent.BatchID + "/" + task}, members, "through the batch's workflow")
		require.Empty(t, f.engine.cancelsCopy(), "never a send workflow's cancel")
	})
	t.Run("ErrNotCancellable", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		sent := sendTestBatch(t, f)
		task := sent.Tasks[0].TaskID
		f.engine.mu.Lock()
		f.engine.memberErr = workflows.ErrNotCancellable
		f.engine.mu.Unlock()
		// A chunk claimed the member: the workflow refuses, and the store
		// says why.
		f.store.mu.Lock()
		f.store.messages[task].Status = workflows.StatusProcessing
		f.store.mu.Unlock()
		res := f.call(t, http.MethodDelete, "/api/v1/messages/"+task, "")
		requireError(t, res, http.StatusConflict, CodeInvalidValue)
		require.Contains(t, res.Message, "processing")
	})
}
