package workflows

import (
	"time"
)

// Names shared by workers and clients. They are stable: renaming one is a
// migration of every running workflow.
const (
	// TaskQueue is where send workflows and Herald's local bookkeeping run.
	TaskQueue = "herald"
	// SendWorkflowName is the registered type of the per-message workflow.
	SendWorkflowName = "herald.send"
	// ReceiptUpdate carries a delivery receipt into a send workflow. An
	// update, not a signal: when the workflow is waiting, the server runs
	// it in a workflow task it keeps in memory until the task completes,
	// so the receipt costs one state transition where a signal costs three
	// (the signal, the task's start, its completion).
	ReceiptUpdate = "receipt-update"
	// ReceiptSignal carries a delivery receipt into a send workflow when
	// ReceiptUpdate could not (workers busy or down, a workflow begun
	// before the update existed): a signal is durable the moment it is
	// accepted, whether or not a worker runs.
	ReceiptSignal = "receipt"
	// StateQuery returns a send workflow's live State.
	StateQuery = "state"
)

// SendTaskQueue is the activity task queue for sends through one provider
// kind, used when workers run with per-kind send queues (so a kind can get
// its own workers or a task-queue rate limit). By default sends run on
// TaskQueue: Temporal then hands a send to the worker in the same response
// that scheduled it (eager activity dispatch), a state transition and a
// matching round trip less per message. Provider rate limits do not need
// separate queues: accounts are paced in Redis, shared by every worker.
func SendTaskQueue(providerKind string) string { return "herald-send-" + providerKind }

// MessageWorkflowID is the workflow id of a task: the task id itself.
func MessageWorkflowID(taskID string) string { return taskID }

// Message statuses, as stored and as the API reports them.
const (
	StatusPending    = "pending"
	StatusProcessing = "processing"
	StatusSent       = "sent"
	StatusSuccess    = "success"
	StatusFailed     = "failed"
	StatusCancelled  = "cancelled"
)

// IsFinal reports whether status is a final state that never changes again.
func IsFinal(status string) bool {
	return status == StatusSuccess || status == StatusFailed || status == StatusCancelled
}

// SendInput starts a send workflow. Everything else about the message is in
// the store, keyed by TaskID.
type SendInput struct {
	TaskID    string
	AppID     string
	ChannelID int64
	// ScheduledAt is when to send; zero sends at once.
	ScheduledAt time.Time
	// ExpiresAt is when the message, not yet handed to a provider, ends
	// failed with CodeExpired instead of being sent; zero (workflows
	// started before expiries existed) never expires.
	ExpiresAt time.Time
	// ForceAccountID, when positive, sends through this provider account
	// only (an operator's re-drive to a healthy account), instead of the
	// channel's weighted pool. Workflows started before it existed read 0.
	ForceAccountID int64
}

// Receipt is the payload of ReceiptUpdate and ReceiptSignal.
type Receipt struct {
	AccountID         int64
	ProviderMessageID string
	// Status is "delivered", "failed" or "rejected".
	Status      string
	Code        string
	Description string
	At          time.Time
	// DeliveryID names one hand-over of the receipt by the API: the update
	// and, when the update timed out, the signal sent after it carry the
	// same one, so the workflow keeps one of them. Empty in receipts
	// signalled before updates carried them.
	DeliveryID string `json:",omitempty"`
}

// sameDelivery tells whether o is r delivered again by the API (see
// DeliveryID), not a receipt the provider repeated.
func (r Receipt) sameDelivery(o Receipt) bool {
	return r.DeliveryID != "" && r.DeliveryID == o.DeliveryID
}
