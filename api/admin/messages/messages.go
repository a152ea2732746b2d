package messages

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/heraldhq/herald/internal/adminhttp"
	"github.com/heraldhq/herald/internal/redrive"
	"github.com/heraldhq/herald/internal/taskcancel"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/workflows"
)

// Engine starts and cancels send workflows and steers batch workflows
// (workflows.Client).
type Engine interface {
	StartSend(ctx context.Context, in workflows.SendInput) error
	CancelSend(ctx context.Context, taskID string) error
	// CancelBatchMember cancels a member of a batch through its batch's
	// workflow (workflows.ErrNotCancellable when too late).
	CancelBatchMember(ctx context.Context, batchID, taskID string) error
	// UpdateBatch pauses, resumes or cancels a batch and answers its
	// status (workflows.ErrWorkflowClosed when it has ended).
	UpdateBatch(ctx context.Context, batchID, update string) (string, error)
}

var _ Engine = (*workflows.Client)(nil)

// Deps are what the routes need. Store, Engine and Keys are required.
type Deps struct {
	Store  *store.DB
	Engine Engine
	// Keys keys receivers for the exact-receiver filter.
	Keys *store.ReceiverKeyer
	// TemporalUIURL is the base URL of the Temporal Web UI
	// ("http://localhost:8233"); empty leaves detail without a link.
	TemporalUIURL string
	// Namespace is the Temporal namespace of the send workflows; empty
	// means "default".
	Namespace string
	// Redrives starts and steers re-drive workflows; nil answers 503 on
	// the re-drive routes that need it.
	Redrives RedriveEngine
	// Logger defaults to a no-op logger.
	Logger *zap.Logger
	// Now defaults to time.Now; NewID to random UUIDs.
	Now   func() time.Time
	NewID func() string
}

type handlers struct {
	Deps
}

// Register mounts the message routes on g, the authenticated
// /admin/api/v1 group. It panics on missing dependencies: that is a wiring
// mistake found at start-up.
func Register(g *echo.Group, deps Deps) {
	if deps.Store == nil || deps.Engine == nil || deps.Keys == nil {
		panic("messages.Register: Store, Engine and Keys are required")
	}
	if deps.Logger == nil {
		deps.Logger = zap.NewNop()
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.NewID == nil {
		deps.NewID = uuid.NewString
	}
	if deps.Namespace == "" {
		deps.Namespace = "default"
	}
	h := &handlers{deps}
	viewer, operator := adminhttp.Require(adminhttp.RoleViewer), adminhttp.Require(adminhttp.RoleOperator)
	g.GET("/messages", h.list, viewer)
	g.GET("/messages/export.csv", h.export, viewer)
	g.GET("/messages/watch", h.watch, viewer)
	// Erasing personal data cannot be undone: admins only.
	g.POST("/erasures", h.eraseReceiver, adminhttp.Require(adminhttp.RoleAdmin))
	g.POST("/messages/redrive", h.startRedrive, operator)
	g.GET("/messages/:id", h.detail, viewer)
	g.POST("/messages/:id/cancel", h.cancel, operator)
	g.POST("/messages/:id/resend", h.resend, operator)
	g.POST("/rules/dry-run", h.dryRun, operator)
	g.GET("/redrives", h.listRedrives, viewer)
	g.GET("/redrives/:id", h.getRedrive, viewer)
	g.POST("/redrives/:id/pause", h.signalRedrive(workflows.RedrivePauseSignal, "pause"), operator)
	g.POST("/redrives/:id/resume", h.signalRedrive(workflows.RedriveResumeSignal, "resume"), operator)
	g.POST("/redrives/:id/cancel", h.signalRedrive(workflows.RedriveCancelSignal, "cancel"), operator)
	g.GET("/batches", h.listBatches, viewer)
	g.GET("/batches/:id", h.getBatch, viewer)
	g.POST("/batches/:id/pause", h.updateBatch(workflows.BatchPauseUpdate, "pause"), operator)
	g.POST("/batches/:id/resume", h.updateBatch(workflows.BatchResumeUpdate, "resume"), operator)
	g.POST("/batches/:id/cancel", h.updateBatch(workflows.BatchCancelUpdate, "cancel"), operator)
}

// MessageView is one message as the admin API shows it. Receiver, subject
// and content are masked for viewers.
type MessageView struct {
	TaskID            string  `json:"task_id"`
	AppID             string  `json:"app_id"`
	ChannelID         int64   `json:"channel_id"`
	MessageType       string  `json:"message_type"`
	Receiver          string  `json:"receiver"`
	Subject           string  `json:"subject"`
	Content           string  `json:"content"`
	Status            string  `json:"status"`
	CallbackStatus    string  `json:"callback_status"`
	AccountID         *int64  `json:"account_id"`
	ProviderMessageID string  `json:"provider_message_id"`
	AttemptCount      int     `json:"attempt_count"`
	MaxAttempts       int     `json:"max_attempts"`
	LastError         string  `json:"last_error"`
	Priority          string  `json:"priority"`
	BatchID           string  `json:"batch_id"`
	RedrivenTo        string  `json:"redriven_to"`
	RedrivenFrom      string  `json:"redriven_from"`
	CreatedAt         string  `json:"created_at"`
	UpdatedAt         string  `json:"updated_at"`
	ScheduledAt       *string `json:"scheduled_at"`
	FinishedAt        *string `json:"finished_at"`
	// ErasedAt is when the message's personal data was erased (retention
	// or an erasure request); its receiver, subject and content are then
	// empty.
	ErasedAt  *string `json:"erased_at,omitempty"`
	ExpiresAt *string `json:"expires_at"`
}

func view(m *store.Message, masked bool) MessageView {
	v := MessageView{
		TaskID: m.TaskID, AppID: m.AppID, ChannelID: m.ChannelID, MessageType: m.MessageType,
		Receiver: m.Receiver, Subject: m.Subject, Content: m.Content, Status: m.Status,
		CallbackStatus: m.CallbackStatus, AccountID: m.AccountID, ProviderMessageID: m.ProviderMessageID,
		AttemptCount: m.AttemptCount, MaxAttempts: m.MaxAttempts, LastError: m.LastError,
		Priority: m.Priority, BatchID: m.BatchID, RedrivenTo: m.RedrivenTo, RedrivenFrom: m.RedrivenFrom,
		CreatedAt: formatTime(m.CreatedAt), UpdatedAt: formatTime(m.UpdatedAt),
		ScheduledAt: formatTimePtr(m.ScheduledAt), FinishedAt: formatTimePtr(m.FinishedAt), ErasedAt: formatTimePtr(m.ErasedAt), ExpiresAt: formatTimePtr(m.ExpiresAt),
	}
	if masked {
		v.Receiver = store.MaskReceiver(m.MessageType, m.Receiver)
		v.Subject = adminhttp.MaskedContent(m.Subject)
		v.Content = adminhttp.MaskedContent(m.Content)
	}
	return v
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func formatTimePtr(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := formatTime(*t)
	return &s
}

func masks(c echo.Context) bool {
	p, _ := adminhttp.PrincipalFrom(c)
	return p.MasksPersonalData()
}

// storeFilter parses the request's query into a store filter.
func (h *handlers) storeFilter(q url.Values) (store.MessageFilter, error) {
	f, err := ParseFilter(q, h.Now())
	if err != nil {
		return store.MessageFilter{}, err
	}
	sf := f.MessageFilter
	sf.ReceiverKeys = ReceiverKeys(h.Keys, f.Receiver)
	return sf, nil
}

// ListResponse is a page of messages.
type ListResponse struct {
	Items      []MessageView `json:"items"`
	NextCursor string        `json:"next_cursor"`
}

func (h *handlers) list(c echo.Context) error {
	f, err := h.storeFilter(c.QueryParams())
	if err != nil {
		return err
	}
	limit := f.Limit
	if limit <= 0 {
		limit = store.DefaultMessagePage
	}
	// One more than the page tells whether there is a next one.
	f.Limit = limit + 1
	ms, err := h.Store.ListMessages(c.Request().Context(), f)
	if err != nil {
		return adminhttp.Internal("list messages", err)
	}
	resp := ListResponse{Items: make([]MessageView, 0, min(len(ms), limit))}
	if len(ms) > limit {
		ms = ms[:limit]
		resp.NextCursor = EncodeCursor(ms[len(ms)-1].Cursor())
	}
	masked := masks(c)
	for i := range ms {
		resp.Items = append(resp.Items, view(&ms[i], masked))
	}
	return c.JSON(http.StatusOK, resp)
}

// EventView is one timeline entry.
type EventView struct {
	Seq       int    `json:"seq"`
	Kind      string `json:"kind"`
	Status    string `json:"status"`
	AccountID *int64 `json:"account_id"`
	Code      string `json:"code"`
	Detail    string `json:"detail"`
	CreatedAt string `json:"created_at"`
}

// DetailResponse is a message with its timeline.
type DetailResponse struct {
	MessageView
	Timeline []EventView `json:"timeline"`
	// TemporalURL opens the task's workflow in the Temporal UI; empty when
	// no UI is configured.
	TemporalURL string `json:"temporal_url"`
}

func (h *handlers) load(c echo.Context) (*store.Message, error) {
	id := c.Param("id")
	if _, err := uuid.Parse(id); err != nil {
		return nil, adminhttp.Invalid("id", "id must be a task id (a UUID)")
	}
	m, err := h.Store.GetMessage(c.Request().Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, adminhttp.NotFound("message", id)
	}
	if err != nil {
		return nil, adminhttp.Internal("load message", err)
	}
	return m, nil
}

func (h *handlers) detail(c echo.Context) error {
	m, err := h.load(c)
	if err != nil {
		return err
	}
	events, err := h.Store.ListEvents(c.Request().Context(), m.TaskID)
	if err != nil {
		return adminhttp.Internal("list events", err)
	}
	masked := masks(c)
	resp := DetailResponse{MessageView: view(m, masked), Timeline: make([]EventView, 0, len(events)), TemporalURL: h.temporalURL(m)}
	for _, e := range events {
		detail := e.Detail
		if masked && e.Kind == "reply" {
			// A reply's detail is what the receiver wrote.
			detail = adminhttp.MaskedContent(detail)
		}
		resp.Timeline = append(resp.Timeline, EventView{
			Seq: e.Seq, Kind: e.Kind, Status: e.Status, AccountID: e.AccountID,
			Code: e.Code, Detail: detail, CreatedAt: formatTime(e.CreatedAt),
		})
	}
	return c.JSON(http.StatusOK, resp)
}

// temporalURL links to the workflow that sends m in the Temporal Web UI:
// its own, or for a member of a batch-workflow batch, its batch's (whose
// timeline for this member is the stored one).
func (h *handlers) temporalURL(m *store.Message) string {
	if m.BatchSeq > 0 {
		return h.workflowURL(workflows.BatchWorkflowID(m.BatchID))
	}
	return h.workflowURL(workflows.MessageWorkflowID(m.TaskID))
}

// ActionResponse answers cancel and resend.
type ActionResponse struct {
	TaskID string `json:"task_id"`
	Status string `json:"status"`
	// ResentAs is the new task of a resend.
	ResentAs string `json:"resent_as,omitempty"`
}

func (h *handlers) cancel(c echo.Context) error {
	m, err := h.load(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	before := m.Status
	err = taskcancel.Cancel(ctx, h.Store, h.Engine, m)
	var nc *taskcancel.NotCancellableError
	switch {
	case errors.As(err, &nc):
		return adminhttp.Conflict(nc.Error())
	case errors.Is(err, taskcancel.ErrNotStarted):
		return adminhttp.Conflict(fmt.Sprintf("task %s cannot be cancelled right now because its delivery has not started yet; try again shortly", m.TaskID))
	case err != nil:
		return adminhttp.Internal("cancel message", err)
	}
	if before != workflows.StatusCancelled {
		// The workflow writes the status; the audit says who asked.
		rec := adminhttp.AuditFor(c, "message.cancel", "message", m.TaskID, map[string]any{"status": []any{before, workflows.StatusCancelled}})
		if err := h.Store.InsertAudit(ctx, rec); err != nil {
			return adminhttp.Internal("record audit", err)
		}
	}
	return c.JSON(http.StatusOK, ActionResponse{TaskID: m.TaskID, Status: workflows.StatusCancelled})
}

func (h *handlers) resend(c echo.Context) error {
	m, err := h.load(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	p, _ := adminhttp.PrincipalFrom(c)
	re, err := redrive.Resend(ctx, h.Store, h.Engine, m, redrive.Options{
		NewID: h.NewID(), Now: h.Now(), Actor: p.Actor(), ClientIP: c.RealIP(), Log: h.Logger,
	})
	switch {
	case errors.Is(err, redrive.ErrNotFinal):
		return adminhttp.Conflict(fmt.Sprintf("task %s is %s; only a message in a final status can be resent (cancel it first)", m.TaskID, m.Status))
	case errors.Is(err, redrive.ErrResent):
		return adminhttp.Conflict(fmt.Sprintf("task %s was resent already; follow its redriven_to task", m.TaskID))
	case err != nil:
		return adminhttp.Internal("resend message", err)
	}
	return c.JSON(http.StatusOK, ActionResponse{TaskID: m.TaskID, Status: m.Status, ResentAs: re.TaskID})
}
