package api

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/workflows"
)

// EventLateReceipt is the timeline kind of a receipt that arrived after its
// message's workflow had finished.
const EventLateReceipt = "late_receipt"

// callback receives a provider's delivery receipts for one account:
// POST /callbacks/{provider}/{account_id}?token=... . The token, not an app
// signature, authenticates the push. Every way of naming a wrong endpoint
// answers the same 404, so accounts cannot be probed.
func (s *Server) callback(c echo.Context) error {
	ctx := c.Request().Context()
	notFound := NewError(http.StatusNotFound, CodeInvalidParams, "no such callback endpoint")
	kind := pathParam(c, "provider")
	accountID, err := strconv.ParseInt(pathParam(c, "account_id"), 10, 64)
	if err != nil {
		return notFound
	}
	acc, err := s.store.GetAccount(ctx, accountID)
	if errors.Is(err, store.ErrNotFound) {
		return notFound
	}
	if err != nil {
		return errDatabase("load provider account", err)
	}
	if acc.Kind != kind {
		return notFound
	}
	token := c.QueryParam("token")
	if acc.CallbackToken == "" || subtle.ConstantTimeCompare([]byte(token), []byte(acc.CallbackToken)) != 1 {
		return errUnauthorized(CodeUnauthorized, "invalid callback token")
	}
	p, err := s.providers.Get(kind)
	if err != nil {
		return notFound
	}
	h := p.ReceiptHandler()
	if h == nil {
		return notFound
	}

	req := c.Request()
	w := c.Response()
	req.Body = http.MaxBytesReader(w, req.Body, s.cfg.MaxBodyBytes)
	receipts, err := h.ParseReceipts(req)
	if err != nil {
		s.log.Warn("unparsable receipt callback", zap.String("provider", kind), zap.Int64("account_id", acc.ID), zap.Error(err))
		ow := &statusOverride{ResponseWriter: w, status: http.StatusBadRequest}
		h.Acknowledge(ow, false)
		ow.finish()
		return nil
	}
	for _, r := range receipts {
		if err := s.applyReceipt(ctx, acc, r); err != nil {
			// Refuse the whole push so the provider sends it again; receipts
			// already applied are harmless to repeat.
			s.log.Error("receipt not applied; asking the provider to retry", zap.String("provider", kind),
				zap.Int64("account_id", acc.ID), zap.String("provider_message_id", r.ProviderMessageID), zap.Error(err))
			h.Acknowledge(w, false)
			return nil
		}
	}
	h.Acknowledge(w, true)
	return nil
}

// applyReceipt hands one receipt to its message's workflow, or records it
// on the message when the workflow has already finished. Receipts of
// unknown messages are skipped. An error means the receipt could not be
// applied now and should be redelivered.
func (s *Server) applyReceipt(ctx context.Context, acc *store.ProviderAccount, r providers.Receipt) error {
	switch r.Status {
	case providers.ReceiptDelivered, providers.ReceiptFailed, providers.ReceiptRejected:
	default:
		s.log.Warn("receipt with unknown status skipped", zap.Int64("account_id", acc.ID),
			zap.String("provider_message_id", r.ProviderMessageID), zap.String("status", string(r.Status)))
		return nil
	}
	taskID, err := s.resolveReceiptTask(ctx, acc.ID, r)
	if err != nil {
		return err
	}
	if taskID == "" {
		s.log.Info("receipt for an unknown message skipped", zap.Int64("account_id", acc.ID),
			zap.String("provider_message_id", r.ProviderMessageID))
		return nil
	}
	at := r.At
	if at.IsZero() {
		at = s.now()
	}
	wr := workflows.Receipt{
		AccountID:         acc.ID,
		ProviderMessageID: r.ProviderMessageID,
		Status:            string(r.Status),
		Code:              r.Code,
		Description:       r.Description,
		At:                at.UTC(),
	}
	err = s.engine.SignalReceipt(ctx, taskID, wr)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, workflows.ErrWorkflowClosed):
		return s.storeLateReceipt(ctx, taskID, wr)
	}
	return fmt.Errorf("signal receipt to task %s: %w", taskID, err)
}

// resolveReceiptTask finds the task a receipt belongs to. A task id echoed
// by the provider is trusted only when that task went through this account:
// either the provider message id maps to it, or the message row names the
// account. Otherwise the provider message id decides.
func (s *Server) resolveReceiptTask(ctx context.Context, accountID int64, r providers.Receipt) (string, error) {
	var byProviderID string
	if r.ProviderMessageID != "" {
		id, err := s.store.FindTaskByProviderMessageID(ctx, accountID, r.ProviderMessageID)
		switch {
		case err == nil:
			byProviderID = id
		case !errors.Is(err, store.ErrNotFound):
			return "", fmt.Errorf("find task by provider message id: %w", err)
		}
	}
	if r.TaskID == "" || r.TaskID == byProviderID {
		return byProviderID, nil
	}
	m, err := s.store.GetMessage(ctx, r.TaskID)
	switch {
	case err == nil:
		if m.AccountID != nil && *m.AccountID == accountID {
			return m.TaskID, nil
		}
	case !errors.Is(err, store.ErrNotFound):
		return "", fmt.Errorf("load message of receipt: %w", err)
	}
	return byProviderID, nil
}

// storeLateReceipt records a receipt on a message whose workflow is closed.
// The message's status is final and stays as it is; callback_status is set
// only if no receipt was recorded before.
func (s *Server) storeLateReceipt(ctx context.Context, taskID string, r workflows.Receipt) error {
	data, err := json.Marshal(map[string]any{
		"provider_message_id": r.ProviderMessageID,
		"status":              r.Status,
		"code":                r.Code,
		"description":         r.Description,
		"at":                  r.At,
	})
	if err != nil {
		return fmt.Errorf("encode late receipt: %w", err)
	}
	accountID := r.AccountID
	// A concurrent writer may take the same seq; one retry with a fresh seq
	// settles it.
	for attempt := 0; ; attempt++ {
		seq, err := s.store.NextEventSeq(ctx, taskID)
		if err != nil {
			return fmt.Errorf("next event seq of task %s: %w", taskID, err)
		}
		err = s.store.AddEvent(ctx, &store.MessageEvent{
			TaskID:    taskID,
			Seq:       seq,
			Kind:      EventLateReceipt,
			Status:    r.Status,
			AccountID: &accountID,
			Code:      r.Code,
			Detail:    r.Description,
			Data:      data,
			CreatedAt: s.now().UTC(),
		})
		if err == nil {
			break
		}
		if !errors.Is(err, store.ErrConflict) || attempt > 0 {
			return fmt.Errorf("add late receipt event to task %s: %w", taskID, err)
		}
	}
	m, err := s.store.GetMessage(ctx, taskID)
	if err != nil {
		return fmt.Errorf("load message %s: %w", taskID, err)
	}
	if m.CallbackStatus != "" {
		return nil
	}
	status := r.Status
	if err := s.store.UpdateMessage(ctx, taskID, store.MessagePatch{CallbackStatus: &status}); err != nil {
		return fmt.Errorf("set callback status of task %s: %w", taskID, err)
	}
	return nil
}

// statusOverride replaces a success status written through it with status,
// so a provider's negative acknowledgement of a malformed push also carries
// an error status.
type statusOverride struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusOverride) WriteHeader(code int) {
	if w.wrote {
		return
	}
	w.wrote = true
	if code < http.StatusMultipleChoices {
		code = w.status
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusOverride) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// finish sends the status when the acknowledgement wrote nothing.
func (w *statusOverride) finish() {
	if !w.wrote {
		w.WriteHeader(w.status)
	}
}
