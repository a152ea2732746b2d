package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/heraldhq/herald/activities"
)

// Tuning of the batch workflow.
const (
	// batchParallelChunks bounds the chunk activities one batch has in
	// flight; the bulk worker's slots bound them across batches.
	batchParallelChunks = 8
	// batchSettleEvery is how often a batch whose first pass is done
	// looks for failed receipts, receipt timeouts and retries that came
	// due: one activity per batch instead of a signal per receipt.
	batchSettleEvery = 5 * time.Second
	// batchHistoryLimit is the history length after which a run hands
	// over to the next (continue-as-new), far below Temporal's limits.
	batchHistoryLimit = 8000
	// bulkPriority is the chunks' task priority: below the default (3)
	// that single sends use, so a waiting verification code goes first.
	bulkPriority = 4
)

// Batch statuses the workflow reports, as the store keeps them
// (store.BatchRunning, ...).
const (
	BatchStatusRunning   = "running"
	BatchStatusPaused    = "paused"
	BatchStatusCancelled = "cancelled"
	BatchStatusFinished  = "finished"
)

// BatchWorkflow sends a batch's members, stored under its BatchID, in
// chunks sized to the provider's batch API, each chunk an activity that
// loads its BatchSeq range from the store. It waits for ScheduledAt, keeps
// quiet hours and pacing, lets the rule engine retry or switch failed
// members in later chunks, and ends when every member is final. It can
// be paused, resumed and cancelled (as a whole or per member) by update,
// answers BatchProgressQuery, and continues as new before its history
// grows long. It is registered as BatchWorkflowName.
func BatchWorkflow(ctx workflow.Context, in BatchInput) (BatchProgress, error) {
	b := &batchRun{in: in, nextSeq: 1, paused: in.Paused}
	if r := in.Resume; r != nil {
		b.nextSeq, b.paused, b.cancelled = r.NextSeq, r.Paused, r.Cancelled
	}
	if err := b.setup(ctx); err != nil {
		return b.progress(), err
	}
	return b.run(ctx)
}

// batchRun is the batch workflow's private state.
type batchRun struct {
	in        BatchInput
	plan      activities.BatchPlan
	nextSeq   int
	paused    bool
	cancelled bool
	// cancelDone is set once the cancellation reached the store.
	cancelDone bool
	finished   bool
	chunks     int
	inFlight   int
	// holdUntil delays new chunks: quiet hours, or an account paced
	// beyond what a chunk waits for.
	holdUntil time.Time
	// chunkErr is the last chunk that failed for good; its members are
	// picked up again by the settle passes.
	chunkErr error
}

func (b *batchRun) status() string {
	switch {
	case b.finished && b.cancelled:
		return BatchStatusCancelled
	case b.finished:
		return BatchStatusFinished
	case b.cancelled:
		return BatchStatusCancelled
	case b.paused:
		return BatchStatusPaused
	}
	return BatchStatusRunning
}

func (b *batchRun) progress() BatchProgress {
	return BatchProgress{Status: b.status(), NextSeq: b.nextSeq, Members: b.in.Members, Chunks: b.chunks}
}

func (b *batchRun) setup(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, BatchProgressQuery, func() (BatchProgress, error) { return b.progress(), nil }); err != nil {
		return fmt.Errorf("set progress query: %w", err)
	}
	open := func() error {
		if b.finished || b.cancelled {
			return fmt.Errorf("batch is %s", b.status())
		}
		return nil
	}
	ctrl := func(ctx workflow.Context, paused bool) (string, error) {
		b.paused = paused
		if err := b.writeStatus(ctx, false); err != nil {
			return "", err
		}
		return b.status(), nil
	}
	for _, u := range []struct {
		name    string
		handler func(workflow.Context) (string, error)
	}{
		{BatchPauseUpdate, func(ctx workflow.Context) (string, error) { return ctrl(ctx, true) }},
		{BatchResumeUpdate, func(ctx workflow.Context) (string, error) { return ctrl(ctx, false) }},
		{BatchCancelUpdate, func(ctx workflow.Context) (string, error) {
			// The main loop cancels the members not yet on their way;
			// the answer does not wait for that.
			b.cancelled = true
			if err := b.writeStatus(ctx, false); err != nil {
				return "", err
			}
			return b.status(), nil
		}},
	} {
		if err := workflow.SetUpdateHandlerWithOptions(ctx, u.name, u.handler, workflow.UpdateHandlerOptions{Validator: open}); err != nil {
			return fmt.Errorf("set %s update: %w", u.name, err)
		}
	}
	return workflow.SetUpdateHandlerWithOptions(ctx, BatchCancelMemberUpdate,
		func(ctx workflow.Context, taskID string) error {
			ctx = workflow.WithLocalActivityOptions(ctx, localOptions)
			err := workflow.ExecuteLocalActivity(ctx, acts.CancelBatchMembers, activities.CancelMembersRequest{BatchID: b.in.BatchID, TaskID: taskID}).Get(ctx, nil)
			var appErr *temporal.ApplicationError
			if errors.As(err, &appErr) && appErr.Type() == activities.ErrorNotCancellable {
				return temporal.NewApplicationError(fmt.Sprintf("%v: %s", ErrNotCancellable, appErr.Message()), activities.ErrorNotCancellable)
			}
			return err
		},
		workflow.UpdateHandlerOptions{Validator: func(string) error {
			if b.finished {
				return fmt.Errorf("batch is %s", b.status())
			}
			return nil
		}})
}

// writeStatus records the batch's status in the store and in the search
// attribute.
func (b *batchRun) writeStatus(ctx workflow.Context, finished bool) error {
	_ = workflow.UpsertTypedSearchAttributes(ctx, SearchStatus.ValueSet(b.status()))
	ctx = workflow.WithLocalActivityOptions(ctx, localOptions)
	err := workflow.ExecuteLocalActivity(ctx, acts.SetBatchStatus, activities.BatchStatusRequest{
		BatchID: b.in.BatchID, Status: b.status(), Finished: finished,
	}).Get(ctx, nil)
	if err != nil {
		return fmt.Errorf("record batch status: %w", err)
	}
	return nil
}

func (b *batchRun) run(ctx workflow.Context) (BatchProgress, error) {
	_ = workflow.UpsertTypedSearchAttributes(ctx, SearchStatus.ValueSet(b.status()))
	if b.in.Resume == nil {
		b.expandMembers(ctx)
		if err := b.waitForSchedule(ctx); err != nil {
			return b.progress(), err
		}
	}
	if err := b.loadPlan(ctx); err != nil {
		return b.progress(), err
	}
	if err := b.firstPass(ctx); err != nil {
		return b.progress(), err
	}
	return b.settle(ctx)
}

// expandMembers writes the batch's staged members as message rows in the
// background (activities.ExpandBatch), from the start, whether the batch
// waits for its schedule or not: chunks write the rows of their own range
// when they get there first, so nothing waits for it. Runs started before
// members were staged skip it, as their histories say.
func (b *batchRun) expandMembers(ctx workflow.Context) {
	if workflow.GetVersion(ctx, "expand-staged-members", workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return
	}
	f := workflow.ExecuteActivity(b.chunkOptions(ctx), acts.ExpandBatch, activities.ExpandRequest{BatchID: b.in.BatchID})
	workflow.Go(ctx, func(ctx workflow.Context) {
		if err := f.Get(ctx, nil); err != nil {
			workflow.GetLogger(ctx).Warn("expanding the batch's members failed; its chunks and settle passes write their rows",
				"batch_id", b.in.BatchID, "error", err)
		}
	})
}

// waitForSchedule waits on a durable timer for the batch's scheduled
// time; a cancellation ends the wait.
func (b *batchRun) waitForSchedule(ctx workflow.Context) error {
	wait := b.in.ScheduledAt.Sub(workflow.Now(ctx))
	if b.in.ScheduledAt.IsZero() || wait <= 0 {
		return nil
	}
	_, err := workflow.AwaitWithTimeout(ctx, wait, func() bool { return b.cancelled })
	return err
}

func (b *batchRun) loadPlan(ctx workflow.Context) error {
	lctx := workflow.WithLocalActivityOptions(ctx, localOptions)
	err := workflow.ExecuteLocalActivity(lctx, acts.LoadBatchPlan, activities.BatchPlanInput{BatchID: b.in.BatchID, ChannelID: b.in.ChannelID}).Get(ctx, &b.plan)
	if err != nil {
		return fmt.Errorf("load batch plan: %w", err)
	}
	b.plan.ChunkSize = max(b.plan.ChunkSize, 1)
	if b.plan.QuietUntil.After(b.holdUntil) {
		b.holdUntil = b.plan.QuietUntil
	}
	return nil
}

// firstPass hands every range of members to a chunk, a bounded number at
// a time, waiting while paused, held (quiet hours, pacing) or at the
// parallel bound, and continuing as new when the history grows long.
func (b *batchRun) firstPass(ctx workflow.Context) error {
	for b.nextSeq <= b.in.Members && !b.cancelled {
		if err := b.awaitSlot(ctx); err != nil {
			return err
		}
		if b.cancelled {
			break
		}
		if b.longHistory(ctx) {
			return b.continueAsNew(ctx)
		}
		from := b.nextSeq
		to := min(from+b.plan.ChunkSize-1, b.in.Members)
		b.nextSeq = to + 1
		b.startChunk(ctx, from, to)
	}
	return workflow.Await(ctx, func() bool { return b.inFlight == 0 })
}

// awaitSlot waits until a chunk may start: not paused, not held, and
// under the parallel bound (or until the batch is cancelled).
func (b *batchRun) awaitSlot(ctx workflow.Context) error {
	for {
		if b.cancelled {
			return nil
		}
		if wait := b.holdUntil.Sub(workflow.Now(ctx)); wait > 0 {
			if _, err := workflow.AwaitWithTimeout(ctx, wait, func() bool { return b.cancelled }); err != nil {
				return err
			}
			if b.holdUntil.Equal(b.plan.QuietUntil) && !b.cancelled {
				// The quiet hours may have moved (settings changed).
				if err := b.loadPlan(ctx); err != nil {
					return err
				}
			}
			continue
		}
		if err := workflow.Await(ctx, func() bool {
			return b.cancelled || (!b.paused && b.inFlight < batchParallelChunks) || b.holdUntil.After(workflow.Now(ctx))
		}); err != nil {
			return err
		}
		if b.cancelled || !b.holdUntil.After(workflow.Now(ctx)) {
			return nil
		}
	}
}

// bulkHeartbeatTimeout is how soon a batch activity whose worker stopped
// heartbeating is run again elsewhere: a few of the heartbeats it sends
// while it runs (activities.BulkHeartbeatEvery).
const bulkHeartbeatTimeout = 6 * activities.BulkHeartbeatEvery

// chunkOptions run chunks on the bulk queue, below single sends'
// priority, shared fairly between apps.
func (b *batchRun) chunkOptions(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:           BatchTaskQueue,
		StartToCloseTimeout: 10 * time.Minute,
		HeartbeatTimeout:    bulkHeartbeatTimeout,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 2 * time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute, MaximumAttempts: 10},
		Priority:            temporal.Priority{PriorityKey: bulkPriority, FairnessKey: b.in.AppID},
	})
}

// startChunk runs one chunk activity over [from, to] in the background.
func (b *batchRun) startChunk(ctx workflow.Context, from, to int) {
	b.inFlight++
	b.chunks++
	req := activities.ChunkRequest{BatchID: b.in.BatchID, AppID: b.in.AppID, ChannelID: b.in.ChannelID, FromSeq: from, ToSeq: to, Limit: b.plan.ChunkSize}
	f := workflow.ExecuteActivity(b.chunkOptions(ctx), acts.SendChunk, req)
	workflow.Go(ctx, func(ctx workflow.Context) {
		defer func() { b.inFlight-- }()
		var res activities.ChunkResult
		if err := f.Get(ctx, &res); err != nil {
			// Its members stay pending or processing; a settle pass
			// finds them and runs their range again.
			workflow.GetLogger(ctx).Warn("batch chunk failed", "batch_id", b.in.BatchID, "from", from, "to", to, "error", err)
			b.chunkErr = err
			return
		}
		if res.WaitUntil.After(b.holdUntil) {
			b.holdUntil = res.WaitUntil
		}
	})
}

// settle runs settle passes until every member is final: each hands
// failed receipts and receipt timeouts to the rule engine, and the ranges
// with members due (retries, members a chunk left) go to chunks again.
func (b *batchRun) settle(ctx workflow.Context) (BatchProgress, error) {
	sctx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:           BatchTaskQueue,
		StartToCloseTimeout: 5 * time.Minute,
		HeartbeatTimeout:    bulkHeartbeatTimeout,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 2 * time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute},
		Priority:            temporal.Priority{PriorityKey: bulkPriority, FairnessKey: b.in.AppID},
	})
	for {
		if b.cancelled && !b.cancelDone {
			if err := b.cancelMembers(ctx); err != nil {
				return b.progress(), err
			}
		}
		var res activities.SettleResult
		if err := workflow.ExecuteActivity(sctx, acts.SettleBatch, activities.SettleRequest{BatchID: b.in.BatchID, Bucket: b.plan.ChunkSize}).Get(ctx, &res); err != nil {
			return b.progress(), fmt.Errorf("settle batch: %w", err)
		}
		if res.Final {
			return b.finish(ctx)
		}
		if b.longHistory(ctx) {
			return b.progress(), b.continueAsNew(ctx)
		}
		if len(res.WorkRanges) > 0 && !b.paused && !b.cancelled && !b.holdUntil.After(workflow.Now(ctx)) {
			if err := b.rerun(ctx, res.WorkRanges); err != nil {
				return b.progress(), err
			}
			continue
		}
		wait := batchSettleEvery
		if b.holdUntil.After(workflow.Now(ctx)) {
			wait = min(wait, b.holdUntil.Sub(workflow.Now(ctx)))
		}
		if _, err := workflow.AwaitWithTimeout(ctx, wait, func() bool { return b.cancelled && !b.cancelDone }); err != nil {
			return b.progress(), err
		}
	}
}

// rerun runs a chunk over each range, a bounded number at a time.
func (b *batchRun) rerun(ctx workflow.Context, ranges []activities.SeqRange) error {
	for _, r := range ranges {
		if err := workflow.Await(ctx, func() bool { return b.inFlight < batchParallelChunks || b.cancelled }); err != nil {
			return err
		}
		if b.cancelled || b.paused {
			break
		}
		b.startChunk(ctx, r.From, min(r.To, b.in.Members))
	}
	return workflow.Await(ctx, func() bool { return b.inFlight == 0 })
}

// cancelMembers cancels every member not yet on its way.
func (b *batchRun) cancelMembers(ctx workflow.Context) error {
	if err := workflow.Await(ctx, func() bool { return b.inFlight == 0 }); err != nil {
		return err
	}
	cctx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:           BatchTaskQueue,
		StartToCloseTimeout: 30 * time.Minute,
		HeartbeatTimeout:    bulkHeartbeatTimeout,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 2 * time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute},
	})
	if err := workflow.ExecuteActivity(cctx, acts.CancelBatchMembers, activities.CancelMembersRequest{BatchID: b.in.BatchID}).Get(ctx, nil); err != nil {
		return fmt.Errorf("cancel members: %w", err)
	}
	b.cancelDone = true
	return nil
}

// finish records the batch's final status.
func (b *batchRun) finish(ctx workflow.Context) (BatchProgress, error) {
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return b.progress(), err
	}
	b.finished = true
	if err := b.writeStatus(ctx, true); err != nil {
		return b.progress(), err
	}
	return b.progress(), nil
}

// longHistory tells whether this run should hand over to a new one.
func (b *batchRun) longHistory(ctx workflow.Context) bool {
	return workflow.GetInfo(ctx).GetCurrentHistoryLength() >= batchHistoryLimit
}

// continueAsNew waits for the chunks in flight and the update handlers,
// then continues as a new run from where this one is.
func (b *batchRun) continueAsNew(ctx workflow.Context) error {
	if err := workflow.Await(ctx, func() bool { return b.inFlight == 0 && workflow.AllHandlersFinished(ctx) }); err != nil {
		return err
	}
	in := b.in
	in.Resume = &BatchResume{NextSeq: b.nextSeq, Paused: b.paused, Cancelled: b.cancelled}
	return workflow.NewContinueAsNewError(ctx, BatchWorkflowName, in)
}
