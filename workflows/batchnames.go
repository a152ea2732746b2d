package workflows

import "time"

// Names of the batch workflow: one workflow per batch, sending its members
// in chunks through the providers' batch APIs.
const (
	BatchWorkflowName = "herald.batch"
	// BatchTaskQueue is where batch chunks are sent, with worker slots of
	// their own, so a running campaign never holds the slots that
	// verification codes on TaskQueue need.
	BatchTaskQueue = "herald-bulk"
	// BatchPauseUpdate, BatchResumeUpdate and BatchCancelUpdate carry no
	// argument and answer with the batch's status after them.
	BatchPauseUpdate  = "batch-pause"
	BatchResumeUpdate = "batch-resume"
	BatchCancelUpdate = "batch-cancel"
	// BatchCancelMemberUpdate takes a member's task id and cancels it if it
	// is not yet on its way; it answers with ErrNotCancellable otherwise.
	BatchCancelMemberUpdate = "batch-cancel-member"
	// BatchProgressQuery returns the live BatchProgress.
	BatchProgressQuery = "batch-progress"
)

// BatchWorkflowID is the workflow id of a batch.
func BatchWorkflowID(batchID string) string { return "batch-" + batchID }

// BatchInput starts a batch workflow. The members and what they share are
// in the store, keyed by BatchID and numbered 1..Members by their
// BatchSeq; no receiver ever travels through the workflow.
type BatchInput struct {
	BatchID   string
	AppID     string
	ChannelID int64
	// Members is how many members the batch has (the highest BatchSeq).
	Members int
	// ScheduledAt is when to start sending; zero sends at once.
	ScheduledAt time.Time
	// ExpiresAt is when members not yet handed to a provider end failed
	// with CodeExpired; zero never expires.
	ExpiresAt time.Time
	// Resume carries a run's state into the next after continue-as-new;
	// nil on the first run.
	Resume *BatchResume
	// Paused starts the first run paused: the batch was stored paused
	// when its workflow was started again (its run lost or ended early),
	// and an operator's pause must not turn into sending.
	Paused bool
}

// BatchResume is what a batch workflow run hands its successor.
type BatchResume struct {
	// NextSeq is the first member of the first pass not yet handed to a
	// chunk; past Members once the first pass is done.
	NextSeq int
	Paused  bool
	// Cancelled is set once the batch was cancelled.
	Cancelled bool
}

// BatchProgress is a batch's live state, returned by BatchProgressQuery.
type BatchProgress struct {
	Status  string
	NextSeq int
	Members int
	// Chunks counts the chunk activities this batch has run so far.
	Chunks int
}
