package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Names of the re-drive workflow, its signals, query and activities.
const (
	RedriveWorkflowName = "herald.redrive"
	// RedrivePauseSignal, RedriveResumeSignal and RedriveCancelSignal
	// carry no payload.
	RedrivePauseSignal  = "redrive-pause"
	RedriveResumeSignal = "redrive-resume"
	RedriveCancelSignal = "redrive-cancel"
	// RedriveProgressQuery returns the live RedriveProgress.
	RedriveProgressQuery = "redrive-progress"
	// RedrivePageActivity resends one page of matches (RedrivePageInput →
	// RedrivePageResult); RedriveFinishActivity records the end status.
	RedrivePageActivity   = "herald.redrive.page"
	RedriveFinishActivity = "herald.redrive.finish"
)

// Re-drive statuses, as the store keeps them (store.Redrive*).
const (
	RedriveRunning   = "running"
	RedrivePaused    = "paused"
	RedriveCancelled = "cancelled"
	RedriveDone      = "done"
)

// RedriveFilter selects the messages of a re-drive: store.MessageFilter's
// fields, kept here because workflows reach the store only through
// activities.
type RedriveFilter struct {
	AppID        string
	ChannelID    int64
	Statuses     []string
	ProviderKind string
	AccountID    int64
	Since, Until time.Time
	ReceiverKeys []string
	After        *RedriveCursor
	Limit        int
}

// RedriveCursor is a position in the newest-first message order.
type RedriveCursor struct {
	CreatedAt time.Time
	TaskID    string
}

// RedriveWorkflowID is the workflow id of a re-drive.
func RedriveWorkflowID(redriveID string) string { return "redrive-" + redriveID }

// Defaults of RedriveInput.
const (
	DefaultRedrivePage = 50
	DefaultRedriveRate = 10.0
	// redrivePagesPerRun bounds one run's history; the workflow continues
	// as new after that many pages.
	redrivePagesPerRun = 100
)

// RedriveInput starts a re-drive.
type RedriveInput struct {
	RedriveID string
	// Filter selects the messages; its Until is fixed at the start so
	// resends, which are new messages, are never matched themselves.
	Filter RedriveFilter
	// ForceAccountID, when positive, sends every resend through this
	// account.
	ForceAccountID int64
	// PageSize is how many matches one activity resends (default 50);
	// PerSecond bounds resends per second (default 10).
	PageSize  int
	PerSecond float64
	// Actor is who asked, and ClientIP from where, for the audit records
	// of the resends.
	Actor    string
	ClientIP string
	// Progress carries the counts over a continue-as-new.
	Progress RedriveProgress
}

// RedriveProgress is how far a re-drive got.
type RedriveProgress struct {
	// Status is one of RedriveRunning, RedrivePaused,
	// RedriveCancelled, RedriveDone.
	Status  string
	Matched int
	Resent  int
	Skipped int
	Failed  int
}

// RedrivePageInput asks for one page of matches to be resent.
type RedrivePageInput struct {
	RedriveID      string
	Filter         RedriveFilter
	ForceAccountID int64
	PerSecond      float64
	Actor          string
	ClientIP       string
}

// RedrivePageResult is what one page did. Next is nil after the last page.
type RedrivePageResult struct {
	Matched, Resent, Skipped, Failed int
	Next                             *RedriveCursor
}

// RedriveFinishInput records a re-drive's end.
type RedriveFinishInput struct {
	RedriveID string
	Status    string
}

// RedriveWorkflow resends the messages matching a filter page by page at a
// bounded rate, skipping those resent already. It can be paused, resumed
// and cancelled by signal, and answers RedriveProgressQuery.
func RedriveWorkflow(ctx workflow.Context, in RedriveInput) (RedriveProgress, error) {
	if in.PageSize <= 0 {
		in.PageSize = DefaultRedrivePage
	}
	if in.PerSecond <= 0 {
		in.PerSecond = DefaultRedriveRate
	}
	p := in.Progress
	if p.Status == "" {
		p.Status = RedriveRunning
	}
	if err := workflow.SetQueryHandler(ctx, RedriveProgressQuery, func() (RedriveProgress, error) { return p, nil }); err != nil {
		return p, fmt.Errorf("set progress query: %w", err)
	}
	cancelled := false
	pause := workflow.GetSignalChannel(ctx, RedrivePauseSignal)
	resume := workflow.GetSignalChannel(ctx, RedriveResumeSignal)
	cancel := workflow.GetSignalChannel(ctx, RedriveCancelSignal)
	drain := func() {
		for {
			sel := workflow.NewSelector(ctx)
			sel.AddReceive(pause, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil); p.Status = RedrivePaused })
			sel.AddReceive(resume, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil); p.Status = RedriveRunning })
			sel.AddReceive(cancel, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil); cancelled = true })
			sel.AddDefault(func() {})
			if !sel.HasPending() {
				return
			}
			sel.Select(ctx)
		}
	}
	actCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		// A page paces its sends, so its time grows with the page size.
		StartToCloseTimeout: time.Minute + time.Duration(float64(in.PageSize)/in.PerSecond*float64(time.Second))*2,
		HeartbeatTimeout:    30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{MaximumInterval: time.Minute},
	})
	finish := func(status string) (RedriveProgress, error) {
		p.Status = status
		err := workflow.ExecuteActivity(actCtx, RedriveFinishActivity, RedriveFinishInput{RedriveID: in.RedriveID, Status: status}).Get(ctx, nil)
		if err != nil {
			return p, fmt.Errorf("finish redrive: %w", err)
		}
		return p, nil
	}
	for pages := 0; ; pages++ {
		drain()
		for p.Status == RedrivePaused && !cancelled {
			// Wait for the next signal, then read them all.
			sel := workflow.NewSelector(ctx)
			sel.AddReceive(resume, func(workflow.ReceiveChannel, bool) {})
			sel.AddReceive(cancel, func(workflow.ReceiveChannel, bool) {})
			sel.AddReceive(pause, func(workflow.ReceiveChannel, bool) {})
			sel.Select(ctx)
			drain()
		}
		if cancelled {
			return finish(RedriveCancelled)
		}
		if pages == redrivePagesPerRun {
			in.Progress = p
			return p, workflow.NewContinueAsNewError(ctx, RedriveWorkflowName, in)
		}
		f := in.Filter
		f.Limit = in.PageSize
		var res RedrivePageResult
		err := workflow.ExecuteActivity(actCtx, RedrivePageActivity, RedrivePageInput{
			RedriveID: in.RedriveID, Filter: f, ForceAccountID: in.ForceAccountID, PerSecond: in.PerSecond, Actor: in.Actor,
			ClientIP: in.ClientIP,
		}).Get(ctx, &res)
		if err != nil {
			return p, fmt.Errorf("redrive page: %w", err)
		}
		p.Matched += res.Matched
		p.Resent += res.Resent
		p.Skipped += res.Skipped
		p.Failed += res.Failed
		if res.Next == nil {
			return finish(RedriveDone)
		}
		in.Filter.After = res.Next
	}
}

// CodeForcedAccountUnavailable ends a resend whose forced account is not
// an enabled member of its channel's pool: nothing was sent.
const CodeForcedAccountUnavailable = "FORCED_ACCOUNT_UNAVAILABLE"
