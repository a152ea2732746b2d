package activities

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/heraldhq/herald/internal/metrics"
	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/rules"
	"github.com/heraldhq/herald/store"
)

// Event is one timeline entry written with a status change.
type Event struct {
	// Seq is assigned by the workflow, so a re-run local activity writes
	// the same entry again instead of a second one.
	Seq int
	// Status is the message's status when the event happened.
	Status    string
	Kind      string
	AccountID int64
	Code      string
	Detail    string
	// Facts, on a decision event, are the structured inputs of the
	// decision and what was decided, kept so a draft rule set can be
	// replayed against real failures; nil on other events.
	Facts *DecisionFacts `json:",omitempty"`
}

// DecisionFacts are what the rule engine decided on, and what it decided:
// rules.Input without the rules and the time, and the decision.
type DecisionFacts struct {
	Failure           rules.Failure  `json:"failure"`
	AttemptsOnAccount int            `json:"attempts_on_account"`
	TotalAttempts     int            `json:"total_attempts"`
	MaxAttempts       int            `json:"max_attempts"`
	AccountsLeft      int            `json:"accounts_left"`
	DeferredFor       time.Duration  `json:"deferred_for"`
	Decision          rules.Decision `json:"decision"`
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
	// MaybeSent, on a final update, says that an attempt's outcome was
	// unknown, so a provider may have sent the message: a failed or
	// cancelled message then keeps its quota unit (store.MessagePatch).
	MaybeSent bool
	// HeldUntil, when set, is when a message waiting for quiet hours to
	// end is released.
	HeldUntil time.Time
	// Events are appended to the timeline in order; the workflow batches
	// events that need no write of their own into the next update.
	Events []Event
}

// RecordStatus writes a status change and its timeline events in one
// transaction. Both are idempotent, so Temporal may run it again after a
// crash.
func (a *Activities) RecordStatus(ctx context.Context, u StatusUpdate) error {
	p, events := u.patch(a.now)
	if err := a.store.RecordMessage(ctx, u.TaskID, p, events); err != nil {
		return fmt.Errorf("record status of %s: %w", u.TaskID, err)
	}
	if u.Final {
		a.countFinished(ctx, u)
	}
	return nil
}

// countFinished counts a message reaching its final status, and the
// latency of the receipt that settled it when one did. Reading the message
// back costs a query per finished message, so it is skipped when nothing
// counts; a failed read only loses the sample. A local activity retried
// after its write counts twice, which the rates tolerate.
func (a *Activities) countFinished(ctx context.Context, u StatusUpdate) {
	if _, off := a.metrics.(metrics.Nop); off {
		return
	}
	msg, err := a.store.GetMessage(ctx, u.TaskID)
	if err != nil {
		a.log.Debug("finished message not counted", zap.Error(err))
		return
	}
	kind := ""
	if msg.AccountID != nil {
		if acc, err := a.store.GetAccount(ctx, *msg.AccountID); err == nil {
			kind = acc.Kind
		}
	}
	since := a.now().Sub(msg.CreatedAt)
	a.metrics.MessageFinished(msg.AppID, msg.ChannelID, kind, msg.Status, since)
	if u.CallbackStatus != "" {
		a.metrics.ReceiptLatency(kind, u.CallbackStatus, since)
	}
}

// patch splits an update into the store's patch and events.
func (u StatusUpdate) patch(now func() time.Time) (store.MessagePatch, []*store.MessageEvent) {
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
		t := now().UTC()
		p.FinishedAt = &t
		p.MaybeSent = u.MaybeSent
	}
	if !u.HeldUntil.IsZero() {
		p.HeldUntil = &u.HeldUntil
	}
	events := make([]*store.MessageEvent, 0, len(u.Events))
	for _, e := range u.Events {
		ev := &store.MessageEvent{Seq: e.Seq, Kind: e.Kind, Status: e.Status, Code: e.Code, Detail: e.Detail}
		if e.Facts != nil {
			// The facts are plain values: encoding them cannot fail.
			ev.Inputs, _ = json.Marshal(e.Facts)
		}
		if e.AccountID != 0 {
			id := e.AccountID
			ev.AccountID = &id
		}
		events = append(events, ev)
	}
	return p, events
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
