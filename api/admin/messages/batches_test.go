package messages

import (
	"context"
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/workflows"
)

// addWorkflowBatch stores a batch-workflow batch of app with n members.
func addWorkflowBatch(t *testing.T, f *fixture, appID string, n int) (*store.Batch, []store.BatchMember) {
	t.Helper()
	id := uuid.NewString()
	b := &store.Batch{ID: id, AppID: appID, ChannelID: 1, TotalCount: n, SuccessCount: n, WorkflowID: workflows.BatchWorkflowID(id),
		Content: "Sale today"}
	receivers := make([]string, n)
	for i := range receivers {
		receivers[i] = "+8613800138" + string(rune('0'+i%10)) + "00"
	}
	require.NoError(t, f.db.CreateBatch(context.Background(), b,
		&store.Message{AppID: appID, ChannelID: 1, MessageType: store.ChannelSMS, Status: workflows.StatusPending, MaxAttempts: 3}, receivers))
	// As the batch workflow does when it starts.
	_, err := f.db.ExpandBatchMembers(context.Background(), id, 1, 0)
	require.NoError(t, err)
	members := make([]store.BatchMember, n)
	for i, r := range receivers {
		members[i] = store.BatchMember{TaskID: b.MemberTaskID(i + 1), Receiver: r}
	}
	return b, members
}

func TestBatches(t *testing.T) {
	t.Parallel()
	for _, d := range testDialects() {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			f := setup(t, d)
			ctx := context.Background()
			b, members := addWorkflowBatch(t, f, "shop", 3)
			other, _ := addWorkflowBatch(t, f, "blog", 1)
			require.NoError(t, f.db.UpdateMessage(ctx, members[0].TaskID, store.MessagePatch{Status: ptr(workflows.StatusSuccess)}))

			var page BatchPage
			require.Equal(t, http.StatusOK, f.call(t, "viewer", http.MethodGet, "/batches?app_id=shop", nil, &page))
			require.Len(t, page.Items, 1)
			require.Equal(t, b.ID, page.Items[0].ID)
			require.Equal(t, BatchCounts{Pending: 2, Success: 1}, page.Items[0].Counts, "lists carry the counts")
			require.Equal(t, 1, page.Items[0].Finished)
			require.Equal(t, http.StatusOK, f.call(t, "viewer", http.MethodGet, "/batches", nil, &page))
			require.Len(t, page.Items, 2)
			require.Equal(t, http.StatusBadRequest, f.call(t, "viewer", http.MethodGet, "/batches?status=done", nil, nil))

			var v BatchView
			require.Equal(t, http.StatusOK, f.call(t, "viewer", http.MethodGet, "/batches/"+b.ID, nil, &v))
			require.Equal(t, store.BatchRunning, v.Status)
			require.Equal(t, BatchCounts{Pending: 2, Success: 1}, v.Counts)
			require.Equal(t, 1, v.Finished)
			require.Equal(t, "http://ui.test/namespaces/herald/workflows/batch-"+b.ID, v.TemporalURL)

			require.Equal(t, http.StatusForbidden, f.call(t, "viewer", http.MethodPost, "/batches/"+b.ID+"/pause", nil, nil), "operators only")
			require.Equal(t, http.StatusOK, f.call(t, "operator", http.MethodPost, "/batches/"+b.ID+"/pause", nil, &v))
			require.Equal(t, store.BatchPaused, v.Status)
			require.Equal(t, http.StatusOK, f.call(t, "operator", http.MethodPost, "/batches/"+b.ID+"/resume", nil, &v))
			require.Equal(t, store.BatchRunning, v.Status)
			require.Equal(t, http.StatusOK, f.call(t, "operator", http.MethodPost, "/batches/"+b.ID+"/cancel", nil, &v))
			require.Equal(t, store.BatchCancelled, v.Status)
			require.Equal(t, http.StatusConflict, f.call(t, "operator", http.MethodPost, "/batches/"+b.ID+"/resume", nil, nil), "an ended batch")
			f.engine.mu.Lock()
			require.Equal(t, []string{b.ID + "/" + workflows.BatchPauseUpdate, b.ID + "/" + workflows.BatchResumeUpdate, b.ID + "/" + workflows.BatchCancelUpdate}, f.engine.updates)
			f.engine.updateErr = workflows.ErrWorkflowClosed
			f.engine.mu.Unlock()
			require.Equal(t, http.StatusConflict, f.call(t, "operator", http.MethodPost, "/batches/"+other.ID+"/pause", nil, nil), "a finished workflow")

			require.Equal(t, http.StatusNotFound, f.call(t, "viewer", http.MethodGet, "/batches/"+uuid.NewString(), nil, nil))
			require.Equal(t, http.StatusBadRequest, f.call(t, "viewer", http.MethodGet, "/batches/nope", nil, nil))

			audit, err := f.db.ListAudit(ctx, store.AuditFilter{Action: "batch.pause"})
			require.NoError(t, err)
			require.Len(t, audit, 1)
		})
	}
}

func TestBatchMember(t *testing.T) {
	t.Parallel()
	f := setup(t, store.DialectSQLite)
	b, members := addWorkflowBatch(t, f, "shop", 2)

	var d DetailResponse
	require.Equal(t, http.StatusOK, f.call(t, "admin", http.MethodGet, "/messages/"+members[1].TaskID, nil, &d))
	require.Equal(t, "Sale today", d.Content, "a member shows its batch's content")
	require.Equal(t, "http://ui.test/namespaces/herald/workflows/batch-"+b.ID, d.TemporalURL, "linked to its batch's workflow")

	require.Equal(t, http.StatusOK, f.call(t, "operator", http.MethodPost, "/messages/"+members[1].TaskID+"/cancel", nil, nil))
	f.engine.mu.Lock()
	defer f.engine.mu.Unlock()
	require.Equal(t, []string{b.ID + "/" + members[1].TaskID}, f.engine.members, "cancelled through the batch's workflow")
	require.Empty(t, f.engine.cancelled)
}
