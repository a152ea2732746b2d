package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
	"github.com/nyaruka/phonenumbers"
	"go.uber.org/zap"

	"github.com/heraldhq/herald/internal/admission"
	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/store"
)

// replyCallback receives the replies receivers sent back through one
// account: POST /callbacks/{provider}/{account_id}/replies?token=... . The
// URL is checked like the receipt callback's; a provider that pushes no
// replies answers the same 404 as an unknown endpoint.
//
// Each reply is kept on the timeline of the message it answers, as an
// EventReply event. Replies that answer no known message are skipped. When
// one cannot be recorded, the push is refused so the provider sends it
// again.
func (s *Server) replyCallback(c echo.Context) error {
	acc, p, err := s.callbackTarget(c)
	if err != nil {
		return err
	}
	rp, ok := p.(providers.ReplyProvider)
	if !ok {
		return errNoCallbackEndpoint()
	}
	h := rp.ReplyHandler()
	if h == nil {
		return errNoCallbackEndpoint()
	}
	ctx := c.Request().Context()
	w := c.Response()
	replies, err := h.ParseReplies(s.limitPush(c))
	if err != nil {
		s.refuseUnparsable(w, h, "reply", acc, err)
		return nil
	}
	for i, r := range replies {
		if err := s.recordReply(ctx, acc, r); err != nil {
			// Replies recorded before this one are recognised when the
			// provider pushes them again, so a refusal duplicates nothing.
			s.log.Error("reply not recorded; asking the provider to retry", zap.String("provider", acc.Kind),
				zap.Int64("account_id", acc.ID), zap.Int("reply", i), zap.Error(err))
			h.Acknowledge(w, false)
			return nil
		}
	}
	h.Acknowledge(w, true)
	return nil
}

// replyData is the Data of an EventReply event. The reply's text is the
// event's Detail; the sender is the message's receiver and is not repeated.
type replyData struct {
	SignName   string `json:"sign_name"`
	ExtendCode string `json:"extend_code"`
	// ContentLength counts the reply's characters.
	ContentLength     int       `json:"content_length"`
	At                time.Time `json:"at"`
	ProviderMessageID string    `json:"provider_message_id,omitempty"`
}

// same reports whether two replies are one pushed twice.
func (d replyData) same(o replyData) bool {
	return d.SignName == o.SignName && d.ExtendCode == o.ExtendCode && d.ContentLength == o.ContentLength &&
		d.At.Equal(o.At) && d.ProviderMessageID == o.ProviderMessageID
}

// recordReply appends a reply to the timeline of the message it answers.
// A reply that answers no message is skipped; one already on the timeline
// is not added again. An error means the reply could not be recorded now
// and should be pushed again.
func (s *Server) recordReply(ctx context.Context, acc *store.ProviderAccount, r providers.Reply) error {
	m, err := s.repliedMessage(ctx, acc.ID, r)
	if err != nil {
		return err
	}
	at := r.At
	if at.IsZero() {
		at = s.now()
	}
	data := replyData{
		SignName:          r.SignName,
		ExtendCode:        r.ExtendCode,
		ContentLength:     utf8.RuneCountInString(r.Content),
		At:                at.UTC(),
		ProviderMessageID: r.ProviderMessageID,
	}
	if m == nil {
		// Without the message there is no app to record an opt-out for.
		s.log.Info("reply from an unknown receiver skipped", zap.String("provider", acc.Kind), zap.Int64("account_id", acc.ID),
			zap.String("extend_code", r.ExtendCode), zap.Int("content_length", data.ContentLength))
		return nil
	}
	if m.MessageType == store.ChannelSMS && admission.IsOptOutReply(r.Content) {
		// Recorded before the timeline event, so a push retried after a
		// failure below still records it; recording it twice is harmless.
		reason := "replied " + strings.TrimSpace(r.Content)
		if err := s.admission.OptOut(ctx, m.AppID, m.MessageType, m.Receiver, reason, store.SuppressionReply); err != nil {
			return fmt.Errorf("record opt-out of task %s: %w", m.TaskID, err)
		}
		s.log.Info("receiver opted out by reply", zap.String("app_id", m.AppID), zap.String("task_id", m.TaskID),
			zap.Int64("account_id", acc.ID))
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("encode reply: %w", err)
	}
	events, err := s.store.ListEvents(ctx, m.TaskID)
	if err != nil {
		return fmt.Errorf("list events of task %s: %w", m.TaskID, err)
	}
	if hasReply(events, data, r.Content) {
		return nil
	}
	accountID := acc.ID
	// A concurrent writer may take the same seq; one retry with a fresh seq
	// settles it.
	for attempt := 0; ; attempt++ {
		seq, err := s.store.NextEventSeq(ctx, m.TaskID)
		if err != nil {
			return fmt.Errorf("next event seq of task %s: %w", m.TaskID, err)
		}
		err = s.store.AddEvent(ctx, &store.MessageEvent{
			TaskID:    m.TaskID,
			Seq:       seq,
			Kind:      EventReply,
			Status:    m.Status,
			AccountID: &accountID,
			Detail:    r.Content,
			Data:      raw,
			CreatedAt: s.now().UTC(),
		})
		if err == nil {
			return nil
		}
		if !errors.Is(err, store.ErrConflict) || attempt > 0 {
			return fmt.Errorf("add reply event to task %s: %w", m.TaskID, err)
		}
	}
}

// hasReply reports whether a timeline already holds a reply.
func hasReply(events []store.MessageEvent, d replyData, content string) bool {
	for _, e := range events {
		if e.Kind != EventReply || e.Detail != content {
			continue
		}
		var o replyData
		if err := json.Unmarshal(e.Data, &o); err == nil && o.same(d) {
			return true
		}
	}
	return false
}

// repliedMessage finds the message a reply answers: the one the provider
// names, if it does, or else the latest message sent through the account
// to the reply's sender. It returns nil when there is none.
func (s *Server) repliedMessage(ctx context.Context, accountID int64, r providers.Reply) (*store.Message, error) {
	if r.ProviderMessageID != "" {
		taskID, err := s.store.FindTaskByProviderMessageID(ctx, accountID, r.ProviderMessageID)
		switch {
		case err == nil:
			m, err := s.store.GetMessage(ctx, taskID)
			if err != nil {
				return nil, fmt.Errorf("load message %s of reply: %w", taskID, err)
			}
			return m, nil
		case !errors.Is(err, store.ErrNotFound):
			return nil, fmt.Errorf("find task by provider message id: %w", err)
		}
	}
	receivers := receiverSpellings(r.Receiver)
	if len(receivers) == 0 {
		return nil, nil
	}
	m, err := s.store.FindLatestMessageTo(ctx, accountID, receivers)
	switch {
	case err == nil:
		return m, nil
	case errors.Is(err, store.ErrNotFound):
		return nil, nil
	}
	return nil, fmt.Errorf("find message replied to: %w", err)
}

// receiverSpellings lists the forms a reply's sender may have been stored
// under: as the provider wrote it, its E.164 form, and for a mainland
// China number also its national form, so "13800138000" and
// "+8613800138000" find each other.
func receiverSpellings(raw string) []string {
	s := strings.TrimSpace(raw)
	if s == "" {
		return nil
	}
	out := []string{s}
	num, err := phonenumbers.Parse(s, defaultPhoneRegion)
	if err != nil || !phonenumbers.IsPossibleNumber(num) {
		return out
	}
	add := func(v string) {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	add(phonenumbers.Format(num, phonenumbers.E164))
	if num.GetCountryCode() == 86 {
		add(phonenumbers.GetNationalSignificantNumber(num))
	}
	return out
}
