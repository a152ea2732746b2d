package activities

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/heraldhq/herald/providers/webhook"
)

// AlertRequest describes a failure a rule asked an operator to know about.
// It carries no receiver or content: alerts leave Herald.
type AlertRequest struct {
	TaskID       string
	AppID        string
	ChannelID    int64
	AccountID    int64
	ProviderKind string
	Rule         string
	Class        string
	Code         string
	Message      string
	Decision     string
}

// Alert posts an alert event to the configured alert webhook.
func (a *Activities) Alert(ctx context.Context, req AlertRequest) error {
	if a.cfg.AlertWebhookURL == "" {
		return nil
	}
	body, err := json.Marshal(map[string]any{
		"type":      "herald.alert",
		"timestamp": a.now().UTC().Format(time.RFC3339),
		"data": map[string]any{
			"task_id":       req.TaskID,
			"app_id":        req.AppID,
			"channel_id":    req.ChannelID,
			"account_id":    req.AccountID,
			"provider_kind": req.ProviderKind,
			"rule":          req.Rule,
			"class":         req.Class,
			"code":          req.Code,
			"message":       req.Message,
			"decision":      req.Decision,
		},
	})
	if err != nil {
		return fmt.Errorf("encode alert: %w", err)
	}
	// The account is part of the id: the same code on two accounts of one
	// message is two alerts, and receivers drop repeated ids.
	id := fmt.Sprintf("alert_%s_%d_%s", req.TaskID, req.AccountID, req.Code)
	return a.post(ctx, a.cfg.AlertWebhookURL, a.cfg.AlertWebhookSecret, id, body)
}

// NotifyRequest asks for the final status event of a task to be sent to
// its app.
type NotifyRequest struct {
	TaskID string
}

// NotifyStatus posts the task's final state to the app's status callback
// URL, signed with the app's callback secret (Standard Webhooks). Temporal
// retries it with backoff; a 410 Gone answer stops the retries.
func (a *Activities) NotifyStatus(ctx context.Context, req NotifyRequest) error {
	msg, err := a.store.GetMessage(ctx, req.TaskID)
	if err != nil {
		return fmt.Errorf("load message %s: %w", req.TaskID, err)
	}
	app, err := a.store.GetApp(ctx, msg.AppID)
	if err != nil {
		return fmt.Errorf("load app %s: %w", msg.AppID, err)
	}
	if app.StatusCallbackURL == "" {
		return nil
	}
	data := map[string]any{
		"task_id":         msg.TaskID,
		"batch_id":        msg.BatchID,
		"app_id":          msg.AppID,
		"channel_id":      msg.ChannelID,
		"message_type":    msg.MessageType,
		"status":          msg.Status,
		"callback_status": msg.CallbackStatus,
		"retry_count":     max(msg.AttemptCount-1, 0),
		"last_error":      msg.LastError,
	}
	if msg.RedrivenFrom != "" {
		// A resend names the task it resends, so a client that tracked
		// the original learns its outcome here.
		data["redriven_from"] = msg.RedrivenFrom
	}
	if msg.FinishedAt != nil {
		data["finished_at"] = msg.FinishedAt.UTC().Format(time.RFC3339)
	}
	body, err := json.Marshal(map[string]any{
		"type":      "message." + msg.Status,
		"timestamp": a.now().UTC().Format(time.RFC3339),
		"data":      data,
	})
	if err != nil {
		return fmt.Errorf("encode status event: %w", err)
	}
	// The id is stable across retries so the app can drop duplicates.
	return a.post(ctx, app.StatusCallbackURL, app.CallbackSecret, "msg_"+msg.TaskID+"_"+msg.Status, body)
}

func (a *Activities) post(ctx context.Context, url, secret, id string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("invalid webhook URL: %v", err), "webhook.invalid_url", nil)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Herald")
	if secret != "" {
		signer, err := webhook.NewSigner(secret)
		if err != nil {
			return temporal.NewNonRetryableApplicationError(fmt.Sprintf("webhook secret: %v", err), "webhook.invalid_secret", nil)
		}
		for k, v := range signer.Headers(id, a.now(), body) {
			req.Header[k] = v
		}
	} else {
		req.Header.Set("webhook-id", id)
		req.Header.Set("webhook-timestamp", fmt.Sprint(a.now().Unix()))
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return fmt.Errorf("post webhook: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode == http.StatusGone:
		return temporal.NewNonRetryableApplicationError("webhook endpoint answered 410 Gone", "webhook.gone", nil)
	default:
		return fmt.Errorf("webhook endpoint answered %d", resp.StatusCode)
	}
}
