package activities

import (
	"context"
	"encoding/json"
	"fmt"

	"go.uber.org/zap"

	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/store"
)

// Event is one timeline entry written with a status change.
type Event struct {
	// Seq is assigned by the workflow, so a re-run local activity writes
	// the same entry again instead of a second one.
	Seq    int
	Kind   string
	Code   string
	Detail string
}

// StatusUpdate changes a message's stored state and appends to its
// timeline. Empty fields are left as they are.
type StatusUpdate struct {
	TaskID            string
	Status            string
	CallbackStatus    string
	AccountID         int64
	ProviderMessageID string
	Attempts          int
	LastError         string
	Final             bool
	Event             Event
}

// RecordStatus writes a status change and its timeline event. Both writes
// are idempotent, so Temporal may run it again after a crash.
func (a *Activities) RecordStatus(ctx context.Context, u StatusUpdate) error {
	var p store.MessagePatch
	if u.Status != "" {
		p.Status = &u.Status
	}
	if u.CallbackStatus != "" {
		p.CallbackStatus = &u.CallbackStatus
	}
	if u.AccountID != 0 {
		p.AccountID = &u.AccountID
	}
	if u.ProviderMessageID != "" {
		p.ProviderMessageID = &u.ProviderMessageID
	}
	if u.Attempts != 0 {
		p.AttemptCount = &u.Attempts
	}
	if u.LastError != "" {
		p.LastError = &u.LastError
	}
	if u.Final {
		now := a.now().UTC()
		p.FinishedAt = &now
	}
	if err := a.store.UpdateMessage(ctx, u.TaskID, p); err != nil {
		return fmt.Errorf("update message %s: %w", u.TaskID, err)
	}
	if u.Event.Kind == "" {
		return nil
	}
	ev := &store.MessageEvent{
		TaskID: u.TaskID,
		Seq:    u.Event.Seq,
		Kind:   u.Event.Kind,
		Status: u.Status,
		Code:   u.Event.Code,
		Detail: u.Event.Detail,
	}
	if u.AccountID != 0 {
		id := u.AccountID
		ev.AccountID = &id
	}
	if err := a.store.AddEvent(ctx, ev); err != nil {
		return fmt.Errorf("add %s event to %s: %w", u.Event.Kind, u.TaskID, err)
	}
	return nil
}

type storedAttachment struct {
	Filename    string `json:"filename"`
	ContentType string `json:"content_type"`
	Content     []byte `json:"content"`
}

func decodeAttachments(raw json.RawMessage) ([]providers.Attachment, error) {
	var stored []storedAttachment
	if err := json.Unmarshal(raw, &stored); err != nil {
		return nil, err
	}
	out := make([]providers.Attachment, 0, len(stored))
	for _, s := range stored {
		out = append(out, providers.Attachment{Filename: s.Filename, ContentType: s.ContentType, Content: s.Content})
	}
	return out, nil
}

func zapAccount(id int64) zap.Field { return zap.Int64("account_id", id) }

func zapErr(err error) zap.Field { return zap.Error(err) }
