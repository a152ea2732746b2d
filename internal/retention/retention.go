// Package retention erases the personal data of messages past their app's
// retention period: the activities of workflows.RetentionWorkflow, and the
// Temporal Schedule that starts it. cmd/herald registers the activities on
// the worker and calls EnsureSchedule when the worker starts.
package retention

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.uber.org/zap"

	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/workflows"
)

// Store is what the activities read and write.
type Store interface {
	ListApps(ctx context.Context) ([]store.App, error)
	EraseMessages(ctx context.Context, f store.EraseFilter) (store.EraseResult, error)
	EraseBatchAttachments(ctx context.Context, appID string, before time.Time) (int, error)
}

var _ Store = (*store.DB)(nil)

// Activities are the retention workflow's activities.
type Activities struct {
	Store Store
	// Log defaults to a no-op logger.
	Log *zap.Logger
}

// Register registers the activities on a worker under their stable names.
func (a *Activities) Register(r interface {
	RegisterActivityWithOptions(any, activity.RegisterOptions)
}) {
	r.RegisterActivityWithOptions(a.Apps, activity.RegisterOptions{Name: workflows.RetentionAppsActivity})
	r.RegisterActivityWithOptions(a.Erase, activity.RegisterOptions{Name: workflows.RetentionEraseActivity})
}

func (a *Activities) log() *zap.Logger {
	if a.Log == nil {
		return zap.NewNop()
	}
	return a.Log
}

// Apps lists the apps that have a retention period.
func (a *Activities) Apps(ctx context.Context) ([]workflows.RetentionApp, error) {
	apps, err := a.Store.ListApps(ctx)
	if err != nil {
		return nil, fmt.Errorf("list apps for retention: %w", err)
	}
	var out []workflows.RetentionApp
	for _, app := range apps {
		if app.RetentionDays > 0 {
			out = append(out, workflows.RetentionApp{AppID: app.ID, RetentionDays: app.RetentionDays})
		}
	}
	return out, nil
}

// Erase erases the personal data of the app's final messages accepted
// before in.Before, in transactions of in.BatchSize messages, at most
// in.MaxBatches of them, heartbeating after each; once none is left, the
// attachments of the app's batches whose messages are all erased. A
// retried activity
// starts where the last committed batch left off: erased messages are no
// longer matched.
func (a *Activities) Erase(ctx context.Context, in workflows.RetentionEraseInput) (workflows.RetentionEraseResult, error) {
	var res workflows.RetentionEraseResult
	if in.BatchSize < 1 || in.BatchSize > store.MaxEraseBatch {
		return res, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("retention batch size must be 1 to %d, got %d", store.MaxEraseBatch, in.BatchSize), "InvalidInput", nil)
	}
	batches := max(in.MaxBatches, 1)
	for i := range batches {
		r, err := a.Store.EraseMessages(ctx, store.EraseFilter{AppID: in.AppID, Before: in.Before, Limit: in.BatchSize})
		if err != nil {
			return res, fmt.Errorf("erase expired messages of app %q: %w", in.AppID, err)
		}
		res.Messages += r.Messages
		res.Replies += r.Replies
		if activity.IsActivity(ctx) {
			activity.RecordHeartbeat(ctx, i)
		}
		if !r.More {
			break
		}
		res.More = i == batches-1
	}
	if !res.More {
		n, err := a.Store.EraseBatchAttachments(ctx, in.AppID, in.Before)
		if err != nil {
			return res, fmt.Errorf("erase batch attachments of app %q: %w", in.AppID, err)
		}
		res.Batches = n
	}
	if res.Messages > 0 || res.Batches > 0 {
		a.log().Info("retention erased expired messages", zap.String("app_id", in.AppID),
			zap.Int("messages", res.Messages), zap.Int("replies", res.Replies), zap.Int("batches", res.Batches), zap.Time("accepted_before", in.Before))
	}
	return res, nil
}

// EnsureSchedule creates the retention schedule, starting
// workflows.RetentionWorkflow every interval on workflows.TaskQueue, or
// brings an existing one up to date with interval and in. Every worker
// calls it on start; whichever comes first creates the schedule, the
// others update it to the same thing. A pass still running when the next
// is due makes that one skip.
func EnsureSchedule(ctx context.Context, c client.ScheduleClient, interval time.Duration, in workflows.RetentionInput) error {
	if interval < time.Second {
		return fmt.Errorf("retention interval must be at least 1s, got %s", interval)
	}
	spec := client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: interval}}}
	action := &client.ScheduleWorkflowAction{
		ID:        workflows.RetentionWorkflowID,
		Workflow:  workflows.RetentionWorkflowName,
		Args:      []any{in},
		TaskQueue: workflows.TaskQueue,
		// A pass that cannot finish is retried by the next one.
		WorkflowExecutionTimeout: 24 * time.Hour,
	}
	_, err := c.Create(ctx, client.ScheduleOptions{
		ID:      workflows.RetentionScheduleID,
		Spec:    spec,
		Action:  action,
		Overlap: enums.SCHEDULE_OVERLAP_POLICY_SKIP,
		Note:    "Erases the personal data of messages past their app's retention_days.",
	})
	if err == nil {
		return nil
	}
	if !errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		return fmt.Errorf("create retention schedule: %w", err)
	}
	h := c.GetHandle(ctx, workflows.RetentionScheduleID)
	err = h.Update(ctx, client.ScheduleUpdateOptions{
		DoUpdate: func(u client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
			s := u.Description.Schedule
			s.Spec = &spec
			s.Action = action
			if s.Policy == nil {
				s.Policy = &client.SchedulePolicies{}
			}
			s.Policy.Overlap = enums.SCHEDULE_OVERLAP_POLICY_SKIP
			return &client.ScheduleUpdate{Schedule: &s}, nil
		},
	})
	if err != nil {
		return fmt.Errorf("update retention schedule: %w", err)
	}
	return nil
}
