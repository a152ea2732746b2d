package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.uber.org/zap"

	"github.com/heraldhq/herald/internal/traffic"
	"github.com/heraldhq/herald/store"
)

// CodeExpired ends a message that expired before any provider accepted it.
const CodeExpired = "EXPIRED"

// ExpiredErrorType is the application error type of a send refused
// because the message has expired. Like DisabledErrorType it is no
// provider failure: nothing was sent, and the message ends at once
// (DisabledOf reports both).
const ExpiredErrorType = "message.expired"

// PriorityCritical is the stored priority of a message that ignores quiet
// hours.
const PriorityCritical = "critical"

// checkExpiry refuses the first execution of a send whose message has
// expired, the way checkEnabled refuses a disabled one, so that no wait
// before a send (pacing, a timer that fired late, a worker that was down)
// can deliver a message after its expiry. Send skips it on a retried
// execution: the first may have reached the provider, and the message is
// then no longer unsent.
func (a *Activities) checkExpiry(msg *store.Message) error {
	if msg.ExpiresAt == nil || a.now().Before(*msg.ExpiresAt) {
		return nil
	}
	detail := fmt.Sprintf("the message expired at %s before any provider accepted it; nothing was sent", msg.ExpiresAt.UTC().Format(time.RFC3339))
	return temporal.NewApplicationErrorWithOptions(detail, ExpiredErrorType, temporal.ApplicationErrorOptions{
		NonRetryable: true, Category: temporal.ApplicationErrorCategoryBenign, Details: []any{Failure{Code: CodeExpired, Message: detail}},
	})
}

// quietUntil returns when the quiet hours that now falls in end for msg,
// with their time zone, or a zero time when the message may go at once:
// no quiet hours apply (the app's replace the channel's), it is outside
// them, or the message or its channel's template is critical. It runs in
// LoadPlan, a local activity, so time zones are loaded here and the
// workflow replays the recorded instant.
func (a *Activities) quietUntil(ctx context.Context, msg *store.Message, app *store.App, ch *store.Channel) (time.Time, string, error) {
	qh := ch.QuietHours
	if app != nil && app.QuietHours != nil {
		qh = app.QuietHours
	}
	if qh == nil || msg.Priority == PriorityCritical {
		return time.Time{}, "", nil
	}
	w, err := traffic.ParseQuietHours(*qh)
	if err != nil {
		// herald apply refuses such settings; one written another way is
		// ignored rather than holding every message forever.
		a.log.Warn("ignoring invalid quiet hours", zap.Int64("channel_id", ch.ID), zap.String("app_id", msg.AppID), zapErr(err))
		return time.Time{}, "", nil
	}
	until, quiet := w.Opening(a.now())
	if !quiet {
		return time.Time{}, "", nil
	}
	if ch.TemplateID != nil {
		tpl, err := a.store.GetTemplate(ctx, *ch.TemplateID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return time.Time{}, "", fmt.Errorf("load template %d: %w", *ch.TemplateID, err)
		}
		if tpl != nil && tpl.Critical {
			return time.Time{}, "", nil
		}
	}
	return until, qh.TimeZone, nil
}
