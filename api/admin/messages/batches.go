package messages

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/heraldhq/herald/internal/adminhttp"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/workflows"
)

// BatchStatusLegacy is the status shown for a batch accepted before
// batches ran as one workflow: each of its messages runs on its own.
const BatchStatusLegacy = "legacy"

// BatchCounts counts a batch's members by status.
type BatchCounts struct {
	Pending    int `json:"pending"`
	Processing int `json:"processing"`
	Sent       int `json:"sent"`
	Success    int `json:"success"`
	Failed     int `json:"failed"`
	Cancelled  int `json:"cancelled"`
}

// BatchView is one batch as the admin API shows it, with its members
// counted by status.
type BatchView struct {
	ID           string      `json:"id"`
	AppID        string      `json:"app_id"`
	ChannelID    int64       `json:"channel_id"`
	MessageType  string      `json:"message_type"`
	Status       string      `json:"status"`
	TotalCount   int         `json:"total_count"`
	SuccessCount int         `json:"success_count"`
	FailedCount  int         `json:"failed_count"`
	Counts       BatchCounts `json:"counts"`
	// Finished counts the members in a final status.
	Finished    int     `json:"finished"`
	ScheduledAt *string `json:"scheduled_at"`
	CreatedAt   string  `json:"created_at"`
	UpdatedAt   *string `json:"updated_at"`
	FinishedAt  *string `json:"finished_at"`
	// TemporalURL opens the batch's workflow in the Temporal UI; empty
	// without a UI or for a legacy batch.
	TemporalURL string `json:"temporal_url"`
}

// BatchPage is a page of batches.
type BatchPage struct {
	Items      []BatchView `json:"items"`
	NextCursor string      `json:"next_cursor"`
}

func (h *handlers) batchView(b *store.Batch, counts store.BatchCounts) BatchView {
	v := BatchView{
		ID: b.ID, AppID: b.AppID, ChannelID: b.ChannelID, MessageType: b.MessageType, Status: b.Status,
		TotalCount: b.TotalCount, SuccessCount: b.SuccessCount, FailedCount: b.FailedCount,
		ScheduledAt: formatTimePtr(b.ScheduledAt), CreatedAt: formatTime(b.CreatedAt),
		UpdatedAt: formatTimePtr(b.UpdatedAt), FinishedAt: formatTimePtr(b.FinishedAt),
	}
	if b.WorkflowID == "" {
		v.Status = BatchStatusLegacy
	} else {
		v.TemporalURL = h.workflowURL(b.WorkflowID)
	}
	v.Counts = BatchCounts{
		Pending: counts[workflows.StatusPending], Processing: counts[workflows.StatusProcessing],
		Sent: counts[workflows.StatusSent], Success: counts[workflows.StatusSuccess],
		Failed: counts[workflows.StatusFailed], Cancelled: counts[workflows.StatusCancelled],
	}
	v.Finished = v.Counts.Success + v.Counts.Failed + v.Counts.Cancelled
	return v
}

// encodeBatchCursor and decodeBatchCursor make a list position opaque.
func encodeBatchCursor(b *store.Batch) string {
	return EncodeCursor(store.MessageCursor{CreatedAt: b.CreatedAt, TaskID: b.ID})
}

func (h *handlers) listBatches(c echo.Context) error {
	q := c.QueryParams()
	f := store.BatchFilter{AppID: q.Get("app_id"), Status: q.Get("status"), Limit: store.DefaultMessagePage}
	switch f.Status {
	case "", store.BatchRunning, store.BatchPaused, store.BatchCancelled, store.BatchFinished:
	default:
		return adminhttp.Invalid("status", "status must be running, paused, cancelled or finished")
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > store.MaxMessagePage {
			return adminhttp.Invalid("limit", fmt.Sprintf("limit must be a whole number from 1 to %d", store.MaxMessagePage))
		}
		f.Limit = n
	}
	if s := q.Get("cursor"); s != "" {
		cur, err := decodeCursor(s)
		if err != nil {
			return adminhttp.Invalid("cursor", "cursor is not one this API returned; start again without it")
		}
		f.Before = &store.BatchCursor{CreatedAt: cur.CreatedAt, ID: cur.TaskID}
	}
	limit := f.Limit
	f.Limit = limit + 1
	bs, err := h.Store.ListBatches(c.Request().Context(), f)
	if err != nil {
		return adminhttp.Internal("list batches", err)
	}
	page := BatchPage{Items: make([]BatchView, 0, min(len(bs), limit))}
	if len(bs) > limit {
		bs = bs[:limit]
		page.NextCursor = encodeBatchCursor(&bs[len(bs)-1])
	}
	ids := make([]string, len(bs))
	for i := range bs {
		ids[i] = bs[i].ID
	}
	counts, err := h.Store.CountBatchesMembers(c.Request().Context(), ids)
	if err != nil {
		return adminhttp.Internal("count batch members", err)
	}
	for i := range bs {
		page.Items = append(page.Items, h.batchView(&bs[i], counts[bs[i].ID]))
	}
	return c.JSON(http.StatusOK, page)
}

func (h *handlers) loadBatch(c echo.Context) (*store.Batch, error) {
	id := c.Param("id")
	if _, err := uuid.Parse(id); err != nil {
		return nil, adminhttp.Invalid("id", "id must be a batch id (a UUID)")
	}
	b, err := h.Store.GetBatch(c.Request().Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, adminhttp.NotFound("batch", id)
	}
	if err != nil {
		return nil, adminhttp.Internal("load batch", err)
	}
	return b, nil
}

func (h *handlers) batchProgress(c echo.Context, b *store.Batch, status int) error {
	counts, err := h.Store.CountBatchMembers(c.Request().Context(), b.ID)
	if err != nil {
		return adminhttp.Internal("count batch members", err)
	}
	return c.JSON(status, h.batchView(b, counts))
}

func (h *handlers) getBatch(c echo.Context) error {
	b, err := h.loadBatch(c)
	if err != nil {
		return err
	}
	return h.batchProgress(c, b, http.StatusOK)
}

// updateBatch pauses, resumes or cancels a batch through its workflow.
func (h *handlers) updateBatch(update, action string) echo.HandlerFunc {
	return func(c echo.Context) error {
		b, err := h.loadBatch(c)
		if err != nil {
			return err
		}
		if b.WorkflowID == "" {
			return adminhttp.Conflict(fmt.Sprintf("batch %s was accepted before batches ran as one workflow; %s its messages one by one", b.ID, action))
		}
		if b.Status == store.BatchFinished || b.Status == store.BatchCancelled {
			return adminhttp.Conflict(fmt.Sprintf("batch %s is %s already", b.ID, b.Status))
		}
		ctx := c.Request().Context()
		before := b.Status
		status, err := h.Engine.UpdateBatch(ctx, b.ID, update)
		if errors.Is(err, workflows.ErrWorkflowClosed) {
			return adminhttp.Conflict(fmt.Sprintf("batch %s has ended and can no longer be changed", b.ID))
		}
		if err != nil {
			return adminhttp.Internal(action+" batch", err)
		}
		switch status {
		case store.BatchRunning, store.BatchPaused, store.BatchCancelled:
			if err := h.Store.SetBatchStatus(ctx, b.ID, status); err != nil {
				return adminhttp.Internal("record batch status", err)
			}
		}
		rec := adminhttp.AuditFor(c, "batch."+action, "batch", b.ID, map[string]any{"status": []any{before, status}})
		if err := h.Store.InsertAudit(ctx, rec); err != nil {
			return adminhttp.Internal("record audit", err)
		}
		if b, err = h.Store.GetBatch(ctx, b.ID); err != nil {
			return adminhttp.Internal("load batch", err)
		}
		return h.batchProgress(c, b, http.StatusOK)
	}
}

// workflowURL links to a workflow in the Temporal Web UI; empty without
// a UI.
func (h *handlers) workflowURL(workflowID string) string {
	if h.TemporalUIURL == "" {
		return ""
	}
	return strings.TrimRight(h.TemporalUIURL, "/") + "/namespaces/" + url.PathEscape(h.Namespace) +
		"/workflows/" + url.PathEscape(workflowID)
}
