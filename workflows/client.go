package workflows

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
)

// Client starts and talks to send workflows for the API.
type Client struct {
	c client.Client
	// signalReceiptsUntil (unix nanoseconds) is set when a receipt's update
	// timed out: workers are busy or down, so receipts go as signals
	// until then instead of each waiting out receiptUpdateWait.
	signalReceiptsUntil atomic.Int64
}

// NewClient wraps a Temporal client.
func NewClient(c client.Client) *Client { return &Client{c: c} }

// StartOptions are the start options of a task's workflow: its id is the
// task id, a second start of a running task returns the running one, and a
// finished task is never started again.
func StartOptions(in SendInput) client.StartWorkflowOptions {
	o := onceOptions(MessageWorkflowID(in.TaskID), in.AppID, in.ChannelID)
	// Where the starter runs a worker (herald dev), the first workflow
	// task comes back with the start response: one state transition and
	// one matching round trip less per message. Elsewhere the option is
	// ignored.
	o.EnableEagerStart = true
	return o
}

// onceOptions start a workflow of an app's channel under id at most once:
// a second start of a running one returns it, a finished one is never
// started again.
func onceOptions(id, appID string, channelID int64) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                       id,
		TaskQueue:                TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			SearchApp.ValueSet(appID),
			SearchChannel.ValueSet(strconv.FormatInt(channelID, 10)),
			SearchStatus.ValueSet(StatusPending),
		),
	}
}

// startOnce starts a workflow with opts from onceOptions; one already
// running or finished is not an error.
func (c *Client) startOnce(ctx context.Context, opts client.StartWorkflowOptions, name string, in any) error {
	_, err := c.c.ExecuteWorkflow(ctx, opts, name, in)
	var already *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &already) {
		return nil
	}
	return err
}

// StartSend starts the workflow of a task. Starting a task that is already
// running or finished is not an error: it never sends twice.
func (c *Client) StartSend(ctx context.Context, in SendInput) error {
	if err := c.startOnce(ctx, StartOptions(in), SendWorkflowName, in); err != nil {
		return fmt.Errorf("start workflow of task %s: %w", in.TaskID, err)
	}
	return nil
}

// CancelSend cancels a task still waiting for its scheduled time. It
// returns ErrNotCancellable when the message is on its way or finished.
func (c *Client) CancelSend(ctx context.Context, taskID string) error {
	h, err := c.c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID:   MessageWorkflowID(taskID),
		UpdateName:   CancelUpdate,
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err == nil {
		err = h.Get(ctx, nil)
	}
	if err == nil {
		return nil
	}
	var notFound *serviceerror.NotFound
	var appErr *temporal.ApplicationError
	switch {
	case errors.As(err, &notFound), errors.As(err, &appErr):
		return fmt.Errorf("%w: %v", ErrNotCancellable, err) //nolint:errorlint // callers match ErrNotCancellable; the engine's error is kept as text only
	}
	return fmt.Errorf("cancel task %s: %w", taskID, err)
}

const (
	// receiptUpdateWait is how long DeliverReceipt waits for a worker to
	// take a receipt's update before sending it as a signal: a worker
	// takes it in milliseconds when it runs at all.
	receiptUpdateWait = 3 * time.Second
	// receiptSignalSpell is how long receipts go as signals after an
	// update timed out, before updates are tried again.
	receiptSignalSpell = 30 * time.Second
)

// DeliverReceipt delivers a receipt to a task's workflow. It returns
// ErrWorkflowClosed when the workflow has finished.
//
// The receipt goes as ReceiptUpdate, which a waiting workflow takes in a
// workflow task the server persists only when it completes (one state
// transition for the receipt, where a signal costs three). An update is
// durable only once a worker has accepted it, so DeliverReceipt returns
// only then, and when no worker takes it within receiptUpdateWait (or it
// fails: a workflow on a worker from before the update existed rejects
// it) the receipt goes as ReceiptSignal, durable at once. Both carry the
// same DeliveryID, so a workflow that gets both keeps one.
func (c *Client) DeliverReceipt(ctx context.Context, taskID string, r Receipt) error {
	if r.DeliveryID == "" {
		r.DeliveryID = uuid.NewString()
	}
	if time.Now().UnixNano() < c.signalReceiptsUntil.Load() { //nolint:forbidigo // client code, run by the API, never in a workflow
		return c.SignalReceipt(ctx, taskID, r)
	}
	uctx, cancel := context.WithTimeout(ctx, receiptUpdateWait)
	defer cancel()
	h, err := c.c.UpdateWorkflow(uctx, client.UpdateWorkflowOptions{
		WorkflowID:   MessageWorkflowID(taskID),
		UpdateID:     r.DeliveryID,
		UpdateName:   ReceiptUpdate,
		Args:         []any{r},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err == nil {
		err = h.Get(uctx, nil)
	}
	if err == nil {
		return nil
	}
	if uctx.Err() != nil && ctx.Err() == nil {
		c.signalReceiptsUntil.Store(time.Now().Add(receiptSignalSpell).UnixNano()) //nolint:forbidigo // client code, as above
	}
	return c.SignalReceipt(ctx, taskID, r)
}

// SignalReceipt delivers a receipt to a task's workflow as a signal. It
// returns ErrWorkflowClosed when the workflow has finished.
func (c *Client) SignalReceipt(ctx context.Context, taskID string, r Receipt) error {
	err := c.c.SignalWorkflow(ctx, MessageWorkflowID(taskID), "", ReceiptSignal, r)
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return ErrWorkflowClosed
	}
	if err != nil {
		return fmt.Errorf("signal receipt to task %s: %w", taskID, err)
	}
	return nil
}

// State queries a task's live state.
func (c *Client) State(ctx context.Context, taskID string) (State, error) {
	v, err := c.c.QueryWorkflow(ctx, MessageWorkflowID(taskID), "", StateQuery)
	if err != nil {
		return State{}, fmt.Errorf("query task %s: %w", taskID, err)
	}
	var st State
	if err := v.Get(&st); err != nil {
		return State{}, fmt.Errorf("decode state of task %s: %w", taskID, err)
	}
	return st, nil
}

// Check reports whether the Temporal frontend answers.
func (c *Client) Check(ctx context.Context) error {
	if _, err := c.c.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		return fmt.Errorf("temporal health: %w", err)
	}
	return nil
}

// StartRedrive starts a re-drive workflow.
func (c *Client) StartRedrive(ctx context.Context, in RedriveInput) error {
	_, err := c.c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                    RedriveWorkflowID(in.RedriveID),
		TaskQueue:             TaskQueue,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
	}, RedriveWorkflowName, in)
	if err != nil {
		return fmt.Errorf("start redrive %s: %w", in.RedriveID, err)
	}
	return nil
}

// SignalRedrive sends a re-drive one of RedrivePauseSignal,
// RedriveResumeSignal and RedriveCancelSignal. It returns
// ErrWorkflowClosed when the re-drive has finished.
func (c *Client) SignalRedrive(ctx context.Context, redriveID, signal string) error {
	err := c.c.SignalWorkflow(ctx, RedriveWorkflowID(redriveID), "", signal, nil)
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return fmt.Errorf("signal redrive %s: %w", redriveID, ErrWorkflowClosed)
	}
	if err != nil {
		return fmt.Errorf("signal redrive %s: %w", redriveID, err)
	}
	return nil
}

// RedriveProgress asks a running re-drive how far it got. It returns
// ErrWorkflowClosed when the re-drive has finished.
func (c *Client) RedriveProgress(ctx context.Context, redriveID string) (RedriveProgress, error) {
	var p RedriveProgress
	v, err := c.c.QueryWorkflow(ctx, RedriveWorkflowID(redriveID), "", RedriveProgressQuery)
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return p, fmt.Errorf("query redrive %s: %w", redriveID, ErrWorkflowClosed)
	}
	if err != nil {
		return p, fmt.Errorf("query redrive %s: %w", redriveID, err)
	}
	if err := v.Get(&p); err != nil {
		return p, fmt.Errorf("decode redrive %s progress: %w", redriveID, err)
	}
	return p, nil
}

// BatchStartOptions are the start options of a batch's workflow: its id
// is derived from the batch id, a second start of a running batch returns
// the running one, and a finished batch is never started again.
func BatchStartOptions(in BatchInput) client.StartWorkflowOptions {
	return onceOptions(BatchWorkflowID(in.BatchID), in.AppID, in.ChannelID)
}

// StartBatch starts the workflow of a batch. Starting a batch that is
// already running or finished is not an error.
func (c *Client) StartBatch(ctx context.Context, in BatchInput) error {
	if err := c.startOnce(ctx, BatchStartOptions(in), BatchWorkflowName, in); err != nil {
		return fmt.Errorf("start workflow of batch %s: %w", in.BatchID, err)
	}
	return nil
}

// UpdateBatch runs one of BatchPauseUpdate, BatchResumeUpdate and
// BatchCancelUpdate on a batch's workflow and returns the batch status it
// answers. It returns ErrWorkflowClosed when the batch has finished.
func (c *Client) UpdateBatch(ctx context.Context, batchID, update string) (string, error) {
	var status string
	err := c.updateBatch(ctx, batchID, update, &status)
	return status, err
}

// CancelBatchMember cancels one member of a batch through the batch's
// workflow. It returns ErrNotCancellable when the member is on its way or
// finished, and ErrWorkflowClosed when the batch has finished.
func (c *Client) CancelBatchMember(ctx context.Context, batchID, taskID string) error {
	err := c.updateBatch(ctx, batchID, BatchCancelMemberUpdate, nil, taskID)
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return fmt.Errorf("%w: %v", ErrNotCancellable, err) //nolint:errorlint // callers match ErrNotCancellable; the engine's error is kept as text only
	}
	return err
}

func (c *Client) updateBatch(ctx context.Context, batchID, update string, result any, args ...any) error {
	h, err := c.c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID:   BatchWorkflowID(batchID),
		UpdateName:   update,
		Args:         args,
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err == nil {
		err = h.Get(ctx, result)
	}
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return fmt.Errorf("%s batch %s: %w", update, batchID, ErrWorkflowClosed)
	}
	if err != nil {
		return fmt.Errorf("%s batch %s: %w", update, batchID, err)
	}
	return nil
}
