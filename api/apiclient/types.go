package apiclient

import "time"

// Attachment is a file sent with an e-mail.
type Attachment struct {
	Filename      string `json:"filename"`
	ContentType   string `json:"content_type,omitempty"`
	ContentBase64 string `json:"content_base64"`
}

// SendMessageRequest is the body of POST /api/v1/messages.
type SendMessageRequest struct {
	ChannelID      int64             `json:"channel_id"`
	Receiver       string            `json:"receiver"`
	TemplateParams map[string]string `json:"template_params"`
	SignatureName  string            `json:"signature_name,omitempty"`
	// ScheduledAt sends later; nil sends at once.
	ScheduledAt *time.Time `json:"scheduled_at,omitempty"`
	// ExpiresAt or TTLSeconds (not both) set the expiry; neither leaves
	// it to the template and channel defaults.
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	TTLSeconds *int       `json:"ttl_seconds,omitempty"`
	// Priority "critical" ignores quiet hours; empty is normal.
	Priority    string       `json:"priority,omitempty"`
	Subject     string       `json:"subject,omitempty"`
	Attachments []Attachment `json:"attachments,omitempty"`
}

// SendMessageResponse is the answer to SendMessage.
type SendMessageResponse struct {
	TaskID    string    `json:"task_id"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
}

// SendBatchRequest is the body of POST /api/v1/messages/batch.
type SendBatchRequest struct {
	ChannelID      int64             `json:"channel_id"`
	Receivers      []string          `json:"receivers"`
	TemplateParams map[string]string `json:"template_params"`
	SignatureName  string            `json:"signature_name,omitempty"`
	ScheduledAt    *time.Time        `json:"scheduled_at,omitempty"`
	ExpiresAt      *time.Time        `json:"expires_at,omitempty"`
	TTLSeconds     *int              `json:"ttl_seconds,omitempty"`
	Priority       string            `json:"priority,omitempty"`
	Subject        string            `json:"subject,omitempty"`
	Attachments    []Attachment      `json:"attachments,omitempty"`
}

// BatchTask links a receiver's index in the request to its task.
type BatchTask struct {
	Index  int    `json:"index"`
	TaskID string `json:"task_id"`
}

// Rejection says why one receiver of a batch was refused.
type Rejection struct {
	Index    int    `json:"index"`
	Receiver string `json:"receiver"`
	Code     int    `json:"code"`
	Message  string `json:"message"`
}

// SendBatchResponse is the answer to SendBatch.
type SendBatchResponse struct {
	BatchID      string      `json:"batch_id"`
	TotalCount   int         `json:"total_count"`
	SuccessCount int         `json:"success_count"`
	FailedCount  int         `json:"failed_count"`
	CreatedAt    time.Time   `json:"created_at"`
	Tasks        []BatchTask `json:"tasks"`
	Rejected     []Rejection `json:"rejected"`
}

// Message is one task as GetMessage reports it.
type Message struct {
	ID             int64      `json:"id"`
	TaskID         string     `json:"task_id"`
	AppID          string     `json:"app_id"`
	ChannelID      int64      `json:"channel_id"`
	MessageType    string     `json:"message_type"`
	Receiver       string     `json:"receiver"`
	Content        string     `json:"content"`
	Status         string     `json:"status"`
	CallbackStatus string     `json:"callback_status"`
	RetryCount     int        `json:"retry_count"`
	MaxRetry       int        `json:"max_retry"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
	BatchID        string     `json:"batch_id"`
	ScheduledAt    *time.Time `json:"scheduled_at"`
	FinishedAt     *time.Time `json:"finished_at"`
	LastError      string     `json:"last_error"`
	ExpiresAt      *time.Time `json:"expires_at"`
	Priority       string     `json:"priority"`
	// RedrivenTo is the task an operator resent this one as; nil when not
	// resent.
	RedrivenTo *string `json:"redriven_to"`
}

// Event is one entry of a task's timeline.
type Event struct {
	Seq       int       `json:"seq"`
	Kind      string    `json:"kind"`
	Status    string    `json:"status"`
	AccountID *int64    `json:"account_id"`
	Code      string    `json:"code"`
	Detail    string    `json:"detail"`
	CreatedAt time.Time `json:"created_at"`
}

// CancelResponse is the answer to CancelMessage.
type CancelResponse struct {
	TaskID string `json:"task_id"`
	Status string `json:"status"`
}

// ListChannelsParams filters and pages ListChannels; zero values take the
// server's defaults.
type ListChannelsParams struct {
	Type     string
	Page     int
	PageSize int
}

// Readiness says whether a channel can send: "ready", "degraded" or
// "blocked", with machine-readable reasons.
type Readiness struct {
	State        string   `json:"state"`
	BlockerCodes []string `json:"blocker_codes"`
}

// Channel is one entry of ListChannels.
type Channel struct {
	ID                int64     `json:"id"`
	Name              string    `json:"name"`
	Type              string    `json:"type"`
	MessageTemplateID *int64    `json:"message_template_id"`
	TemplateName      string    `json:"template_name"`
	Readiness         Readiness `json:"readiness"`
}

// ChannelPage is one page of ListChannels.
type ChannelPage struct {
	Items []Channel `json:"items"`
	Total int       `json:"total"`
	Page  int       `json:"page"`
	Size  int       `json:"size"`
}

// Template is a channel's message template.
type Template struct {
	ID           int64    `json:"id"`
	TemplateName string   `json:"template_name"`
	ContentType  string   `json:"content_type"`
	Content      string   `json:"content"`
	Variables    []string `json:"variables"`
	Description  string   `json:"description"`
}

// ChannelDetail is the answer to GetChannel.
type ChannelDetail struct {
	Channel
	// Template is nil when the channel has none.
	Template          *Template `json:"template"`
	SignatureRequired bool      `json:"signature_required"`
	SignatureNames    []string  `json:"signature_names"`
}

// ServiceHealth is the state of one dependency: "UP" or "DOWN".
type ServiceHealth struct {
	Status string `json:"status"`
}

// Health is the answer to Health.
type Health struct {
	Status   string                   `json:"status"`
	Services map[string]ServiceHealth `json:"services"`
}

// Batch is a batch's progress as GetBatch and the pause, resume and cancel
// calls report it.
type Batch struct {
	BatchID   string `json:"batch_id"`
	ChannelID int64  `json:"channel_id"`
	// Status is running, paused, cancelled or finished ("legacy" for a
	// batch whose members each run on their own).
	Status       string      `json:"status"`
	TotalCount   int         `json:"total_count"`
	SuccessCount int         `json:"success_count"`
	FailedCount  int         `json:"failed_count"`
	Counts       BatchCounts `json:"counts"`
	// Finished counts the members in a final status.
	Finished    int        `json:"finished"`
	ScheduledAt *time.Time `json:"scheduled_at"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   *time.Time `json:"updated_at"`
	FinishedAt  *time.Time `json:"finished_at"`
}

// BatchCounts counts a batch's members by status.
type BatchCounts struct {
	Pending    int `json:"pending"`
	Processing int `json:"processing"`
	Sent       int `json:"sent"`
	Success    int `json:"success"`
	Failed     int `json:"failed"`
	Cancelled  int `json:"cancelled"`
}
