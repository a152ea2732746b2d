package api

import (
	"errors"
	"net/http"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/workflows"
)

// batchRoute is the route of a batch send, whose body limit is its own.
const batchRoute = "/api/v1/messages/batch"

// batchCountsView counts a batch's members by status.
type batchCountsView struct {
	Pending    int `json:"pending"`
	Processing int `json:"processing"`
	Sent       int `json:"sent"`
	Success    int `json:"success"`
	Failed     int `json:"failed"`
	Cancelled  int `json:"cancelled"`
}

// batchView is the data of GET /api/v1/batches/{batch_id} and the answer
// of its pause, resume and cancel.
type batchView struct {
	BatchID   string `json:"batch_id"`
	ChannelID int64  `json:"channel_id"`
	// Status is running, paused, cancelled or finished; "legacy" for a
	// batch accepted before batches ran as one workflow, whose members
	// each run on their own.
	Status string `json:"status"`
	// TotalCount, SuccessCount and FailedCount are the accept's counts:
	// receivers in the request, accepted (the members) and rejected.
	TotalCount   int             `json:"total_count"`
	SuccessCount int             `json:"success_count"`
	FailedCount  int             `json:"failed_count"`
	Counts       batchCountsView `json:"counts"`
	// Finished counts the members in a final status (success, failed,
	// cancelled).
	Finished    int     `json:"finished"`
	ScheduledAt *string `json:"scheduled_at"`
	CreatedAt   string  `json:"created_at"`
	UpdatedAt   *string `json:"updated_at"`
	FinishedAt  *string `json:"finished_at"`
}

// BatchStatusLegacy is the status shown for a batch accepted before
// batches ran as one workflow.
const BatchStatusLegacy = "legacy"

// newBatchView builds the progress of batch b from its members' counts.
func newBatchView(b *store.Batch, counts store.BatchCounts) batchView {
	status := b.Status
	if b.WorkflowID == "" {
		status = BatchStatusLegacy
	}
	v := batchView{
		BatchID: b.ID, ChannelID: b.ChannelID, Status: status,
		TotalCount: b.TotalCount, SuccessCount: b.SuccessCount, FailedCount: b.FailedCount,
		Counts: batchCountsView{
			Pending:    counts[workflows.StatusPending],
			Processing: counts[workflows.StatusProcessing],
			Sent:       counts[workflows.StatusSent],
			Success:    counts[workflows.StatusSuccess],
			Failed:     counts[workflows.StatusFailed],
			Cancelled:  counts[workflows.StatusCancelled],
		},
		ScheduledAt: formatTimePtr(b.ScheduledAt),
		CreatedAt:   formatTime(b.CreatedAt),
		UpdatedAt:   formatTimePtr(b.UpdatedAt),
		FinishedAt:  formatTimePtr(b.FinishedAt),
	}
	v.Finished = v.Counts.Success + v.Counts.Failed + v.Counts.Cancelled
	return v
}

// loadOwnBatch returns a batch of the calling app; any other batch, and a
// malformed id, is "not found" so ids of other apps cannot be probed.
func (s *Server) loadOwnBatch(c echo.Context) (*store.Batch, error) {
	id := pathParam(c, "batch_id")
	notFound := NewError(http.StatusNotFound, CodeBatchNotFound, "batch %s not found", id)
	if _, err := uuid.Parse(id); err != nil {
		return nil, NewError(http.StatusNotFound, CodeBatchNotFound, "batch not found")
	}
	b, err := s.store.GetBatch(c.Request().Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound
	}
	if err != nil {
		return nil, errDatabase("load batch", err)
	}
	if b.AppID != appFrom(c).ID {
		return nil, notFound
	}
	return b, nil
}

func (s *Server) batchProgress(c echo.Context, b *store.Batch) error {
	counts, err := s.store.CountBatchMembers(c.Request().Context(), b.ID)
	if err != nil {
		return errDatabase("count batch members", err)
	}
	return success(c, newBatchView(b, counts))
}

func (s *Server) getBatch(c echo.Context) error {
	b, err := s.loadOwnBatch(c)
	if err != nil {
		return err
	}
	return s.batchProgress(c, b)
}

func (s *Server) pauseBatch(c echo.Context) error {
	return s.updateBatch(c, workflows.BatchPauseUpdate, "paused")
}

func (s *Server) resumeBatch(c echo.Context) error {
	return s.updateBatch(c, workflows.BatchResumeUpdate, "resumed")
}

func (s *Server) cancelBatch(c echo.Context) error {
	return s.updateBatch(c, workflows.BatchCancelUpdate, "cancelled")
}

// updateBatch runs a pause, resume or cancel on the batch's workflow,
// records the status it answers and answers with the batch's progress.
func (s *Server) updateBatch(c echo.Context, update, done string) error {
	b, err := s.loadOwnBatch(c)
	if err != nil {
		return err
	}
	if b.WorkflowID == "" {
		return NewError(http.StatusConflict, CodeInvalidValue,
			"batch %s was accepted before batches could be %s as a whole; cancel its messages one by one", b.ID, done)
	}
	if b.Status == store.BatchFinished || b.Status == store.BatchCancelled {
		return errBatchClosed(b)
	}
	ctx := c.Request().Context()
	status, err := s.engine.UpdateBatch(ctx, b.ID, update)
	if errors.Is(err, workflows.ErrWorkflowClosed) {
		return errBatchClosed(b)
	}
	if err != nil {
		return errEngine(update+" batch", err)
	}
	switch status {
	case store.BatchRunning, store.BatchPaused, store.BatchCancelled:
		// The workflow records its own status too; this makes the answer
		// below agree with the update's at once.
		if err := s.store.SetBatchStatus(ctx, b.ID, status); err != nil {
			return errDatabase("record batch status", err)
		}
	}
	if b, err = s.store.GetBatch(ctx, b.ID); err != nil {
		return errDatabase("load batch", err)
	}
	return s.batchProgress(c, b)
}

// errBatchClosed answers a pause, resume or cancel of a batch that has
// ended: 409, as for a task past cancelling.
func errBatchClosed(b *store.Batch) *Error {
	return NewError(http.StatusConflict, CodeInvalidValue, "batch %s has ended (%s) and can no longer be changed", b.ID, closedStatus(b))
}

func closedStatus(b *store.Batch) string {
	if b.Status == store.BatchCancelled {
		return store.BatchCancelled
	}
	return store.BatchFinished
}
