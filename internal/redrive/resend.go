// Package redrive sends failed messages again: one at a time (Resend, for
// the operators' resend) and by query (the re-drive workflow's activities
// call Resend for each match). A resend is a new task linked to its
// original both ways.
package redrive

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/workflows"
)

// Engine starts send workflows (workflows.Client).
type Engine interface {
	StartSend(ctx context.Context, in workflows.SendInput) error
}

// ErrNotFinal means the message is still on its way and cannot be resent.
var ErrNotFinal = errors.New("message has not reached a final status")

// ErrResent means the message has been resent already; AlreadyResentError
// says as what.
var ErrResent = errors.New("message was resent already")

// Options describe one resend.
type Options struct {
	// NewID is the new task's id.
	NewID string
	Now   time.Time
	// Actor and ClientIP go to the audit record written with the resend.
	Actor    string
	ClientIP string
	// Action is the audit action; empty means "message.resend".
	Action string
	// ForceAccountID, when positive, sends through this account only.
	ForceAccountID int64
	Log            *zap.Logger
}

// Resend stores a new task resending orig, links the two, records an audit
// entry in the same transaction, and starts the new task's workflow. A
// failed start is only logged: the new task is durably pending and the
// sweeper starts it. It returns ErrNotFinal for a message still on its way
// and ErrResent (with the store's ErrConflict) for one resent already.
func Resend(ctx context.Context, db *store.DB, eng Engine, orig *store.Message, o Options) (*store.Message, error) {
	if !workflows.IsFinal(orig.Status) {
		return nil, fmt.Errorf("resend task %s: it is %s: %w", orig.TaskID, orig.Status, ErrNotFinal)
	}
	if orig.RedrivenTo != "" {
		return nil, fmt.Errorf("resend task %s: resent as %s: %w", orig.TaskID, orig.RedrivenTo, ErrResent)
	}
	re, err := newResend(ctx, db, orig, o)
	if err != nil {
		return nil, err
	}
	action := o.Action
	if action == "" {
		action = "message.resend"
	}
	err = db.RunInTx(ctx, func(ctx context.Context, tx *store.DB) error {
		if err := tx.ResendMessage(ctx, orig.TaskID, re); err != nil {
			return err
		}
		diff := map[string]any{"redriven_to": []any{"", re.TaskID}}
		if o.ForceAccountID > 0 {
			diff["account_id"] = []any{nil, o.ForceAccountID}
		}
		return tx.InsertAudit(ctx, &store.AuditRecord{
			Actor: o.Actor, Action: action, ObjectType: "message", ObjectID: orig.TaskID, Diff: diff, ClientIP: o.ClientIP,
		})
	})
	if errors.Is(err, store.ErrConflict) {
		return nil, fmt.Errorf("resend task %s: %w: %w", orig.TaskID, ErrResent, err)
	}
	if err != nil {
		return nil, fmt.Errorf("resend task %s: %w", orig.TaskID, err)
	}
	Start(ctx, eng, re, o.ForceAccountID, o.Log)
	return re, nil
}

// Start starts the workflow of a stored, pending message that operators
// sent (a resend or an account test), through forceAccountID only when it
// is positive. A failed start is only logged: the message is durably
// pending and the sweeper starts it. The start outlives a caller that
// hangs up.
func Start(ctx context.Context, eng Engine, m *store.Message, forceAccountID int64, log *zap.Logger) {
	in := workflows.SendInput{TaskID: m.TaskID, AppID: m.AppID, ChannelID: m.ChannelID, ForceAccountID: forceAccountID}
	if m.ExpiresAt != nil {
		in.ExpiresAt = *m.ExpiresAt
	}
	if err := eng.StartSend(context.WithoutCancel(ctx), in); err != nil && log != nil {
		log.Warn("start send workflow failed; the message stays pending for the sweeper",
			zap.String("task_id", m.TaskID), zap.Error(err))
	}
}

// newResend builds the new task: the original's message, pending again,
// with the original's time to live counted from now.
func newResend(ctx context.Context, db *store.DB, orig *store.Message, o Options) (*store.Message, error) {
	now := o.Now.UTC()
	re := &store.Message{
		TaskID:         o.NewID,
		AppID:          orig.AppID,
		ChannelID:      orig.ChannelID,
		MessageType:    orig.MessageType,
		Receiver:       orig.Receiver,
		ReceiverKey:    orig.ReceiverKey,
		Subject:        orig.Subject,
		Content:        orig.Content,
		TemplateParams: orig.TemplateParams,
		SignatureName:  orig.SignatureName,
		Attachments:    orig.Attachments,
		Status:         workflows.StatusPending,
		MaxAttempts:    orig.MaxAttempts,
		Priority:       orig.Priority,
		SMSSegments:    orig.SMSSegments,
		CreatedAt:      now,
		UpdatedAt:      now,
	}
	if orig.ExpiresAt != nil {
		exp := now.Add(orig.ExpiresAt.Sub(orig.CreatedAt))
		re.ExpiresAt = &exp
	}
	if len(re.Attachments) == 0 && orig.BatchID != "" {
		// A batch keeps its attachments once, on the batch; the resend is
		// no member of the batch and carries its own copy.
		b, err := db.GetBatch(ctx, orig.BatchID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("resend task %s: load batch: %w", orig.TaskID, err)
		}
		if b != nil {
			re.Attachments = b.Attachments
		}
	}
	return re, nil
}
