package redrive

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/activity"
	"go.uber.org/zap"

	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/workflows"
)

// Activities are the re-drive workflow's activities. They live here, not
// in package activities, because a resend starts a send workflow, and
// package workflows already depends on package activities.
type Activities struct {
	DB     *store.DB
	Engine Engine
	Log    *zap.Logger
	// Now and NewID default to time.Now and random UUIDs.
	Now   func() time.Time
	NewID func() string
}

// Register registers the activities on a worker under their stable names.
func (a *Activities) Register(r interface {
	RegisterActivityWithOptions(any, activity.RegisterOptions)
}) {
	r.RegisterActivityWithOptions(a.Page, activity.RegisterOptions{Name: workflows.RedrivePageActivity})
	r.RegisterActivityWithOptions(a.Finish, activity.RegisterOptions{Name: workflows.RedriveFinishActivity})
}

func (a *Activities) now() time.Time {
	if a.Now == nil {
		return time.Now()
	}
	return a.Now()
}

func (a *Activities) newID() string {
	if a.NewID == nil {
		return uuid.NewString()
	}
	return a.NewID()
}

// Page resends one page of the filter's matches, at most PerSecond a
// second, and adds what it did to the re-drive's row. Matches in no final
// status or resent already are skipped, so a retried page resends nothing
// twice.
func (a *Activities) Page(ctx context.Context, in workflows.RedrivePageInput) (workflows.RedrivePageResult, error) {
	var res workflows.RedrivePageResult
	ms, err := a.DB.ListMessages(ctx, StoreFilter(in.Filter))
	if err != nil {
		return res, fmt.Errorf("list redrive page: %w", err)
	}
	interval := time.Duration(0)
	if in.PerSecond > 0 {
		interval = time.Duration(float64(time.Second) / in.PerSecond)
	}
	log := a.Log
	if log == nil {
		log = zap.NewNop()
	}
	for i := range ms {
		m := &ms[i]
		res.Matched++
		if m.RedrivenTo != "" || !workflows.IsFinal(m.Status) {
			res.Skipped++
			continue
		}
		if activity.IsActivity(ctx) {
			activity.RecordHeartbeat(ctx, i)
		}
		_, err := Resend(ctx, a.DB, a.Engine, m, Options{
			NewID: a.newID(), Now: a.now(), Actor: in.Actor, ClientIP: in.ClientIP, Action: "message.redrive",
			ForceAccountID: in.ForceAccountID, Log: log,
		})
		switch {
		case errors.Is(err, ErrResent), errors.Is(err, ErrNotFinal):
			res.Skipped++
			continue
		case err != nil:
			res.Failed++
			log.Warn("redrive: resend failed", zap.String("redrive_id", in.RedriveID), zap.String("task_id", m.TaskID), zap.Error(err))
			continue
		}
		res.Resent++
		if interval > 0 {
			select {
			case <-ctx.Done():
				return res, ctx.Err()
			case <-time.After(interval):
			}
		}
	}
	if len(ms) == in.Filter.Limit && len(ms) > 0 {
		res.Next = &workflows.RedriveCursor{CreatedAt: ms[len(ms)-1].CreatedAt, TaskID: ms[len(ms)-1].TaskID}
	}
	err = a.DB.UpdateRedrive(ctx, in.RedriveID, "", store.RedriveCounts{
		Matched: res.Matched, Resent: res.Resent, Skipped: res.Skipped, Failed: res.Failed,
	})
	if err != nil {
		return res, fmt.Errorf("record redrive progress: %w", err)
	}
	return res, nil
}

// Finish records a re-drive's final status.
func (a *Activities) Finish(ctx context.Context, in workflows.RedriveFinishInput) error {
	if err := a.DB.UpdateRedrive(ctx, in.RedriveID, in.Status, store.RedriveCounts{}); err != nil {
		return fmt.Errorf("finish redrive: %w", err)
	}
	return nil
}

// StoreFilter is a re-drive's filter as the store takes it.
func StoreFilter(f workflows.RedriveFilter) store.MessageFilter {
	sf := store.MessageFilter{
		AppID: f.AppID, ChannelID: f.ChannelID, Statuses: f.Statuses, ProviderKind: f.ProviderKind,
		AccountID: f.AccountID, Since: f.Since, Until: f.Until, ReceiverKeys: f.ReceiverKeys, Limit: f.Limit,
	}
	if f.After != nil {
		sf.After = &store.MessageCursor{CreatedAt: f.After.CreatedAt, TaskID: f.After.TaskID}
	}
	return sf
}

// WorkflowFilter is a store filter as a re-drive workflow takes it.
func WorkflowFilter(f store.MessageFilter) workflows.RedriveFilter {
	wf := workflows.RedriveFilter{
		AppID: f.AppID, ChannelID: f.ChannelID, Statuses: f.Statuses, ProviderKind: f.ProviderKind,
		AccountID: f.AccountID, Since: f.Since, Until: f.Until, ReceiverKeys: f.ReceiverKeys, Limit: f.Limit,
	}
	if f.After != nil {
		wf.After = &workflows.RedriveCursor{CreatedAt: f.After.CreatedAt, TaskID: f.After.TaskID}
	}
	return wf
}
