// Package taskcancel cancels a task not yet handed to a provider. The
// client API and the operators' API both cancel through Cancel, so the two
// agree on when a task can still be cancelled.
package taskcancel

import (
	"context"
	"errors"
	"fmt"

	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/workflows"
)

// Store reads a task's current state.
type Store interface {
	GetMessage(ctx context.Context, taskID string) (*store.Message, error)
}

// Engine cancels a task's workflow (workflows.Client).
type Engine interface {
	// CancelSend returns workflows.ErrNotCancellable when it is too late.
	CancelSend(ctx context.Context, taskID string) error
	// CancelBatchMember cancels a member of a batch through the batch's
	// workflow. It returns workflows.ErrNotCancellable when it is too
	// late, workflows.ErrWorkflowClosed when the batch's workflow is not
	// running.
	CancelBatchMember(ctx context.Context, batchID, taskID string) error
}

// ErrNotStarted means no workflow runs for the pending task yet (its start
// is still due), so there is nothing to cancel at this moment; trying again
// shortly may succeed.
var ErrNotStarted = errors.New("delivery has not started yet")

// NotCancellableError means the task is past the point of cancelling.
type NotCancellableError struct {
	TaskID string
	// Status is the task's status, or "already being sent".
	Status string
}

func (e *NotCancellableError) Error() string {
	return fmt.Sprintf("task %s is %s and can no longer be cancelled", e.TaskID, e.Status)
}

// Cancel cancels task m. Cancelling a cancelled task again succeeds. It
// returns a *NotCancellableError when the task is past cancelling,
// ErrNotStarted when its workflow has not started yet, and any other error
// of the engine wrapped.
func Cancel(ctx context.Context, st Store, eng Engine, m *store.Message) error {
	if m.Status == workflows.StatusCancelled {
		return nil
	}
	if m.Status != workflows.StatusPending {
		return &NotCancellableError{TaskID: m.TaskID, Status: m.Status}
	}
	var err error
	if m.BatchSeq > 0 {
		// A member of a batch-workflow batch has no workflow of its own:
		// its batch's workflow owns its status.
		err = eng.CancelBatchMember(ctx, m.BatchID, m.TaskID)
		if errors.Is(err, workflows.ErrWorkflowClosed) {
			// A pending member of a batch whose workflow is not running is
			// waiting for the sweeper to start it.
			err = fmt.Errorf("%w: %w", workflows.ErrNotCancellable, err)
		}
	} else {
		err = eng.CancelSend(ctx, m.TaskID)
	}
	if err == nil {
		return nil
	}
	if !errors.Is(err, workflows.ErrNotCancellable) {
		return fmt.Errorf("cancel send of task %s: %w", m.TaskID, err)
	}
	cur, gerr := st.GetMessage(ctx, m.TaskID)
	if gerr == nil && cur.Status == workflows.StatusPending {
		return ErrNotStarted
	}
	status := "already being sent"
	if gerr == nil {
		status = cur.Status
	}
	return &NotCancellableError{TaskID: m.TaskID, Status: status}
}
