package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Names of the retention workflow, its schedule and its activities.
const (
	RetentionWorkflowName = "herald.retention"
	// RetentionScheduleID is the Temporal Schedule that starts the
	// retention workflow; workers create it, or bring it up to date, when
	// they start.
	RetentionScheduleID = "herald-retention"
	// RetentionAppsActivity lists the apps with a retention period
	// (→ []RetentionApp); RetentionEraseActivity erases one app's expired
	// messages, a bounded number of batches (RetentionEraseInput →
	// RetentionEraseResult).
	RetentionAppsActivity  = "herald.retention.apps"
	RetentionEraseActivity = "herald.retention.erase"
)

// RetentionWorkflowID is the workflow id prefix of the schedule's runs
// (Temporal appends the scheduled time).
const RetentionWorkflowID = "herald-retention"

// DefaultRetentionBatch is RetentionInput.BatchSize when unset.
const DefaultRetentionBatch = 500

// retentionBatchesPerActivity bounds one erase activity, so it reports
// progress to the workflow (and the history) every so many batches.
const retentionBatchesPerActivity = 20

// RetentionInput starts one retention pass.
type RetentionInput struct {
	// BatchSize is how many messages one transaction erases (default
	// DefaultRetentionBatch).
	BatchSize int
}

// RetentionApp is an app with a retention period.
type RetentionApp struct {
	AppID         string
	RetentionDays int
}

// RetentionEraseInput erases the personal data of an app's final messages
// accepted before Before, at most MaxBatches transactions of BatchSize.
type RetentionEraseInput struct {
	AppID      string
	Before     time.Time
	BatchSize  int
	MaxBatches int
}

// RetentionEraseResult counts what an erase activity erased; More says
// that it stopped at MaxBatches with messages left.
type RetentionEraseResult struct {
	Messages int
	Replies  int
	// Batches counts batches whose shared attachments were erased.
	Batches int
	More    bool
}

// RetentionResult counts what a retention pass erased.
type RetentionResult struct {
	Apps     int
	Messages int
	Replies  int
	Batches  int
}

// RetentionWorkflow erases, app by app, the personal data of final
// messages older than the app's retention period. The erasing runs in
// activities, each a bounded number of short transactions; the workflow
// only loops over them, so a backlog of any size is worked through
// without a long transaction, and a pass that grows a long history
// continues as new (the next run starts again from the app list, skipping
// what is already erased).
func RetentionWorkflow(ctx workflow.Context, in RetentionInput) (RetentionResult, error) {
	var res RetentionResult
	if in.BatchSize <= 0 {
		in.BatchSize = DefaultRetentionBatch
	}
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Minute,
		HeartbeatTimeout:    time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute, MaximumAttempts: 10,
		},
	})
	var apps []RetentionApp
	if err := workflow.ExecuteActivity(ctx, RetentionAppsActivity).Get(ctx, &apps); err != nil {
		return res, err
	}
	now := workflow.Now(ctx)
	for _, app := range apps {
		if app.RetentionDays <= 0 {
			continue
		}
		res.Apps++
		erase := RetentionEraseInput{
			AppID:      app.AppID,
			Before:     now.Add(-time.Duration(app.RetentionDays) * 24 * time.Hour),
			BatchSize:  in.BatchSize,
			MaxBatches: retentionBatchesPerActivity,
		}
		for {
			var r RetentionEraseResult
			if err := workflow.ExecuteActivity(ctx, RetentionEraseActivity, erase).Get(ctx, &r); err != nil {
				return res, err
			}
			res.Messages += r.Messages
			res.Replies += r.Replies
			res.Batches += r.Batches
			if !r.More {
				break
			}
			if workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
				return res, workflow.NewContinueAsNewError(ctx, RetentionWorkflowName, in)
			}
		}
	}
	return res, nil
}
