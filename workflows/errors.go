package workflows

import "errors"

// Errors the workflow client returns; callers match them with errors.Is.
var (
	// ErrWorkflowClosed is returned when a signal targets a send workflow
	// that has already finished.
	ErrWorkflowClosed = errors.New("workflow already closed")
	// ErrNotCancellable is returned when a message was already handed to a
	// provider, or finished, and can no longer be cancelled.
	ErrNotCancellable = errors.New("message can no longer be cancelled")
)
