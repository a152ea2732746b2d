package main

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"

	"github.com/heraldhq/herald/api/apiclient"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/workflows"
)

// historyEvents reads a workflow's history.
func historyEvents(t *testing.T, h *harness, workflowID string) []*historypb.HistoryEvent {
	t.Helper()
	var out []*historypb.HistoryEvent
	iter := h.s.temporal.GetWorkflowHistory(context.Background(), workflowID, "", false, 0)
	for iter.HasNext() {
		ev, err := iter.Next()
		require.NoError(t, err)
		out = append(out, ev)
	}
	return out
}

// historyTypes lists the event types of a workflow's history.
func historyTypes(t *testing.T, h *harness, workflowID string) []enumspb.EventType {
	t.Helper()
	var out []enumspb.EventType
	for _, ev := range historyEvents(t, h, workflowID) {
		out = append(out, ev.EventType)
	}
	return out
}

// A delivered message's receipt reaches its workflow as an update, taken
// in a workflow task the server keeps in memory until it completes: the
// whole message costs three state transitions (start, the send's task,
// the receipt's task).
func TestReceiptArrivesAsUpdate(t *testing.T) {
	t.Parallel()
	h := sharedHarness(t)
	f := h.fixture(t)
	tpl := f.template("Code {{code}}", "code")
	ch := f.channel(store.ChannelSMS, tpl)
	f.sandboxAccount(ch, 1)
	_, c := f.app()

	res, err := c.SendMessage(context.Background(), apiclient.SendMessageRequest{
		ChannelID: ch.ID, Receiver: "+8613911113333", TemplateParams: map[string]string{"code": "2468"},
	})
	require.NoError(t, err)
	msg := waitFinal(t, c, res.TaskID)
	require.Equal(t, workflows.StatusSuccess, msg.Status, msg.LastError)
	require.Equal(t, workflows.CallbackDelivered, msg.CallbackStatus)

	types := historyTypes(t, h, res.TaskID)
	require.Contains(t, types, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED)
	require.NotContains(t, types, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED)
	d, err := h.s.temporal.DescribeWorkflowExecution(context.Background(), res.TaskID, "")
	require.NoError(t, err)
	require.LessOrEqual(t, d.WorkflowExecutionInfo.StateTransitionCount, int64(4),
		"a receipt by signal would make it five: the signal, the task's start, its completion")
}

// With no worker to take the update, the receipt goes as a signal once
// the update's wait is over (durable whether or not a worker runs), and
// later receipts go as signals at once for a while.
func TestReceiptFallsBackToSignal(t *testing.T) {
	t.Parallel()
	h := sharedHarness(t)
	ctx := t.Context()
	id := "receipt-fallback-" + randomHex8()
	// A send workflow on a queue no worker polls: it never runs, as when
	// every worker is down.
	_, err := h.s.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: "herald-no-worker-" + randomHex8()},
		workflows.SendWorkflowName, workflows.SendInput{TaskID: id})
	require.NoError(t, err)
	t.Cleanup(func() { _ = h.s.temporal.TerminateWorkflow(context.Background(), id, "", "test over") })

	engine := workflows.NewClient(h.s.temporal)
	r := workflows.Receipt{AccountID: 1, ProviderMessageID: "pm-1", Status: "delivered", At: time.Now().UTC()}
	start := time.Now()
	require.NoError(t, engine.DeliverReceipt(ctx, id, r))
	require.GreaterOrEqual(t, time.Since(start), 3*time.Second, "the update was waited for first")
	require.Contains(t, historyTypes(t, h, id), enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED)

	start = time.Now()
	require.NoError(t, engine.DeliverReceipt(ctx, id, r))
	require.Less(t, time.Since(start), 3*time.Second, "no second wait while workers are known to be away")
	signals := 0
	for _, et := range historyTypes(t, h, id) {
		if et == enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED {
			signals++
		}
	}
	require.Equal(t, 2, signals)
}
