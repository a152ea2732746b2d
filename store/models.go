package store

import (
	"encoding/json"
	"time"

	"github.com/uptrace/bun"
)

// App is a client application allowed to call the API.
type App struct {
	bun.BaseModel `bun:"table:apps,alias:app"`

	ID   string `bun:"id,pk"`
	Name string `bun:"name,notnull"`
	// Secret is the HMAC key clients sign with. It is stored encrypted and
	// decrypted by the store on read.
	Secret  string `bun:"-"`
	Enabled bool   `bun:"enabled,notnull"`
	// IPAllowlist holds IP addresses or CIDR ranges; empty allows any.
	IPAllowlist []string `bun:"ip_allowlist,type:text"`
	// RateLimitPerSecond caps API requests; 0 means the server default.
	RateLimitPerSecond int `bun:"rate_limit_per_second,notnull"`
	// RequestsPerMinute, when positive, caps API requests instead of
	// RateLimitPerSecond, allowing Burst requests at once (0: as many as
	// RequestsPerMinute).
	RequestsPerMinute int `bun:"requests_per_minute,notnull"`
	Burst             int `bun:"burst,notnull"`
	// MessagesPerMinute caps accepted messages, a batch counting one per
	// accepted receiver; 0 means the server default (none unless set).
	MessagesPerMinute int `bun:"messages_per_minute,notnull"`
	// StatusCallbackURL receives a signed event when a task finishes.
	StatusCallbackURL string `bun:"status_callback_url,notnull"`
	// QuietHours, when set, replace the channel's quiet hours for the
	// app's messages.
	QuietHours *QuietHours `bun:"quiet_hours,type:text"`
	// TimeZone is the IANA zone the app's quota periods follow; empty
	// means Asia/Shanghai.
	TimeZone string `bun:"time_zone,notnull"`
	// RetentionDays is how many days the personal data of the app's final
	// messages is kept after they were accepted (see EraseMessages); 0
	// keeps it for ever.
	RetentionDays int `bun:"retention_days,notnull"`
	// CallbackSecret signs status events (Standard Webhooks, "whsec_..."),
	// stored encrypted.
	CallbackSecret string    `bun:"-"`
	CreatedAt      time.Time `bun:"created_at,notnull"`
	UpdatedAt      time.Time `bun:"updated_at,notnull"`
	// Version counts changes: 1 when created, one more on every update.
	// Updates may name the version they expect (optimistic concurrency).
	Version int64 `bun:"version,notnull"`

	// SecretEnc and CallbackSecretEnc are the sealed forms of Secret and
	// CallbackSecret as stored; the store fills them on write and ignores
	// what callers put there.
	SecretEnc         []byte `bun:"secret_enc,notnull" json:"-"`
	CallbackSecretEnc []byte `bun:"callback_secret_enc,notnull" json:"-"`
}

// Channel types a channel can have.
const (
	ChannelSMS        = "sms"
	ChannelEmail      = "email"
	ChannelWeChatWork = "wechat_work"
	ChannelDingTalk   = "dingtalk"
	ChannelFeishu     = "feishu"
	ChannelWebhook    = "webhook"
	ChannelPush       = "push"
)

// ChannelTypes lists every channel type in a stable order.
var ChannelTypes = []string{ChannelSMS, ChannelEmail, ChannelWeChatWork, ChannelDingTalk, ChannelFeishu, ChannelWebhook, ChannelPush}

// Channel is what a client sends through.
type Channel struct {
	bun.BaseModel `bun:"table:channels,alias:ch"`

	ID                int64    `bun:"id,pk,autoincrement"`
	Name              string   `bun:"name,notnull"`
	Type              string   `bun:"type,notnull"`
	TemplateID        *int64   `bun:"template_id"`
	SignatureNames    []string `bun:"signature_names,type:text"`
	SignatureRequired bool     `bun:"signature_required,notnull"`
	Enabled           bool     `bun:"enabled,notnull"`
	// ReceiptTimeoutSeconds bounds the wait for a delivery receipt.
	ReceiptTimeoutSeconds int `bun:"receipt_timeout_seconds,notnull"`
	// MaxAttempts bounds send attempts of one message across accounts.
	MaxAttempts int `bun:"max_attempts,notnull"`
	// ReceiverCaps bounds the messages one receiver gets through this
	// channel; nil means no caps.
	ReceiverCaps *ReceiverCaps `bun:"receiver_caps,type:text"`
	// AllowedCountries narrows an SMS channel to these ISO 3166 regions
	// ("CN", "HK"); empty means every country its accounts support.
	AllowedCountries []string `bun:"allowed_countries,type:text"`
	// DefaultTTLSeconds is the expiry of the channel's messages when neither
	// the request nor the template sets one; 0 means 24 hours.
	DefaultTTLSeconds int `bun:"default_ttl_seconds,notnull"`
	// QuietHours, when set, is when the channel sends nothing but critical
	// messages.
	QuietHours *QuietHours `bun:"quiet_hours,type:text"`
	CreatedAt  time.Time   `bun:"created_at,notnull"`
	UpdatedAt  time.Time   `bun:"updated_at,notnull"`
	// Version counts changes: 1 when created, one more on every update.
	// Updates may name the version they expect (optimistic concurrency).
	Version int64 `bun:"version,notnull"`
}

// QuietHours is a daily period, from Start to End ("21:00" to "08:00",
// crossing midnight when End is before Start) in the IANA time zone
// TimeZone, during which messages wait instead of being sent.
type QuietHours struct {
	Start    string `json:"start" yaml:"start"`
	End      string `json:"end" yaml:"end"`
	TimeZone string `json:"time_zone" yaml:"time_zone"`
}

// ReceiverCaps bounds how many messages one receiver gets per minute, hour
// and day; 0 leaves that window unbounded.
type ReceiverCaps struct {
	PerMinute int `json:"per_minute"`
	PerHour   int `json:"per_hour"`
	PerDay    int `json:"per_day"`
}

// IsZero reports whether no window is bounded.
func (c ReceiverCaps) IsZero() bool { return c.PerMinute <= 0 && c.PerHour <= 0 && c.PerDay <= 0 }

// Template kinds.
const (
	// TemplateKindVerification marks one-time codes: they get default
	// receiver caps and go to receivers who opted out of other messages.
	TemplateKindVerification = "verification"
)

// VerificationReceiverCaps are the caps of a verification template that
// sets none: the usual limits of Chinese SMS providers for one-time codes.
var VerificationReceiverCaps = ReceiverCaps{PerMinute: 1, PerHour: 5, PerDay: 10}

// ProviderAccount is one set of credentials at one provider.
type ProviderAccount struct {
	bun.BaseModel `bun:"table:provider_accounts,alias:pa"`

	ID   int64  `bun:"id,pk,autoincrement"`
	Name string `bun:"name,notnull"`
	Kind string `bun:"kind,notnull"`
	// Config is the provider's JSON settings including credentials. It is
	// stored encrypted (AES-GCM under the master key) and decrypted on read.
	Config  json.RawMessage `bun:"-"`
	Weight  int             `bun:"weight,notnull"`
	Enabled bool            `bun:"enabled,notnull"`
	// CallbackToken authenticates the provider's receipt pushes. It is
	// stored encrypted and decrypted by the store on read.
	CallbackToken string `bun:"-"`
	// RateLimitPerMinute paces sends through this account; 0 means the
	// provider's documented cap, if it has one, else no pacing.
	RateLimitPerMinute int `bun:"rate_limit_per_minute,notnull"`
	// Breaker holds the account's circuit breaker thresholds as JSON
	// (breaker.Settings); empty means the defaults.
	Breaker string `bun:"breaker,notnull"`
	// Countries limits the phone numbers the account sends to: ISO 3166
	// regions, or "international" alone for every region but mainland
	// China. Empty means every country its provider reaches.
	Countries []string  `bun:"countries,type:text"`
	CreatedAt time.Time `bun:"created_at,notnull"`
	UpdatedAt time.Time `bun:"updated_at,notnull"`
	// Version counts changes: 1 when created, one more on every update.
	// Updates may name the version they expect (optimistic concurrency).
	Version int64 `bun:"version,notnull"`

	// ConfigEnc is the sealed form of Config as stored; the store fills it
	// on write and ignores what callers put there.
	ConfigEnc []byte `bun:"config_enc,notnull" json:"-"`
	// CallbackTokenEnc is the sealed form of CallbackToken as stored; the
	// store fills it on write and ignores what callers put there.
	CallbackTokenEnc []byte `bun:"callback_token_enc" json:"-"`
	// LegacyCallbackToken is a token stored in plain text before tokens
	// were sealed. The store reads it as CallbackToken when no sealed one
	// exists and seals it, clearing this column, on that first read.
	LegacyCallbackToken string `bun:"callback_token,notnull" json:"-"`
}

// PoolMember is one account in a channel's pool with its weight there.
type PoolMember struct {
	Account ProviderAccount
	Weight  int
}

// Template is a message template with {{var}} placeholders.
type Template struct {
	bun.BaseModel `bun:"table:templates,alias:tpl"`

	ID          int64    `bun:"id,pk,autoincrement"`
	Name        string   `bun:"name,notnull"`
	ContentType string   `bun:"content_type,notnull"`
	Subject     string   `bun:"subject,notnull"`
	Content     string   `bun:"content,notnull"`
	Variables   []string `bun:"variables,type:text"`
	Description string   `bun:"description,notnull"`
	// Kind is TemplateKindVerification or empty.
	Kind string `bun:"kind,notnull"`
	// ReceiverCaps bounds the messages one receiver gets from this
	// template; nil means the kind's default (none but for verification).
	ReceiverCaps *ReceiverCaps `bun:"receiver_caps,type:text"`
	// TTLSeconds is the expiry of messages sent with the template when the
	// request sets none; 0 leaves it to the channel.
	TTLSeconds int `bun:"ttl_seconds,notnull"`
	// Critical messages ignore quiet hours.
	Critical  bool      `bun:"critical,notnull"`
	CreatedAt time.Time `bun:"created_at,notnull"`
	UpdatedAt time.Time `bun:"updated_at,notnull"`
	// Version counts changes: 1 when created, one more on every update.
	// Updates may name the version they expect (optimistic concurrency).
	Version int64 `bun:"version,notnull"`
}

// EffectiveReceiverCaps returns the template's caps, or its kind's default
// when it sets none.
func (t *Template) EffectiveReceiverCaps() ReceiverCaps {
	if t.ReceiverCaps != nil {
		return *t.ReceiverCaps
	}
	if t.Kind == TemplateKindVerification {
		return VerificationReceiverCaps
	}
	return ReceiverCaps{}
}

// Suppression is a receiver who must get no more messages of one channel
// type from one app. The receiver is held only as its keyed hash
// (ReceiverKey) and a masked form for display.
type Suppression struct {
	bun.BaseModel `bun:"table:suppressions,alias:sup"`

	ID          int64  `bun:"id,pk,autoincrement"`
	AppID       string `bun:"app_id,notnull"`
	ChannelType string `bun:"channel_type,notnull"`
	ReceiverKey string `bun:"receiver_key,notnull"`
	// ReceiverMasked shows enough of the receiver to recognise it
	// ("+86138****8000") and no more.
	ReceiverMasked string `bun:"receiver_masked,notnull"`
	// Reason says why, in words ("replied TD", "hard bounce").
	Reason string `bun:"reason,notnull"`
	// Source is one of the Suppression* sources.
	Source    string    `bun:"source,notnull"`
	CreatedAt time.Time `bun:"created_at,notnull"`
}

// Sources of a suppression.
const (
	SuppressionReply    = "reply"
	SuppressionOperator = "operator"
	SuppressionBounce   = "bounce"
)

// TemplateMapping says how one account sends one template: by the
// provider's own template code, with Herald's variables in ParamOrder
// order (positional providers) or renamed through ParamNames.
type TemplateMapping struct {
	bun.BaseModel `bun:"table:template_mappings,alias:tm"`

	TemplateID   int64             `bun:"template_id,pk"`
	AccountID    int64             `bun:"account_id,pk"`
	ProviderCode string            `bun:"provider_code,notnull"`
	ParamOrder   []string          `bun:"param_order,type:text"`
	ParamNames   map[string]string `bun:"param_names,type:text"`
}

// Rule is a stored rule-engine rule; see package rules for its meaning.
type Rule struct {
	bun.BaseModel `bun:"table:rules,alias:r"`

	ID            int64   `bun:"id,pk,autoincrement"`
	Name          string  `bun:"name,notnull"`
	Scene         string  `bun:"scene,notnull"`
	Priority      int     `bun:"priority,notnull"`
	ProviderKind  string  `bun:"provider_kind,notnull"`
	MessageType   string  `bun:"message_type,notnull"`
	ErrorCodes    string  `bun:"error_codes,notnull"`
	ErrorKeywords string  `bun:"error_keywords,notnull"`
	Action        string  `bun:"action,notnull"`
	MaxRetry      int     `bun:"max_retry,notnull"`
	DelaySeconds  int     `bun:"delay_seconds,notnull"`
	BackoffRate   float64 `bun:"backoff_rate,notnull"`
	// ThenAction is what an alert rule does after alerting.
	ThenAction string    `bun:"then_action,notnull"`
	Enabled    bool      `bun:"enabled,notnull"`
	CreatedAt  time.Time `bun:"created_at,notnull"`
	UpdatedAt  time.Time `bun:"updated_at,notnull"`
	// Version counts changes: 1 when created, one more on every update.
	// Updates may name the version they expect (optimistic concurrency).
	Version int64 `bun:"version,notnull"`
}

// Message is one task: one message to one receiver.
type Message struct {
	bun.BaseModel `bun:"table:messages,alias:m"`

	ID          int64  `bun:"id,pk,autoincrement"`
	TaskID      string `bun:"task_id,notnull,unique"`
	BatchID     string `bun:"batch_id,notnull"`
	AppID       string `bun:"app_id,notnull"`
	ChannelID   int64  `bun:"channel_id,notnull"`
	MessageType string `bun:"message_type,notnull"`
	Receiver    string `bun:"receiver,notnull"`
	// ReceiverKey is the keyed hash of Receiver (ReceiverKeyer), set on
	// insert by a store opened with Options.ReceiverKeys; the admin list
	// finds a receiver through it. Empty on rows accepted before it existed.
	ReceiverKey string `bun:"receiver_key,notnull"`
	// Receiver, Subject, Content, TemplateParams, Attachments and
	// LastError are personal data: the store seals them on write and
	// opens them on read (see Cipher.SealText).
	Subject        string            `bun:"subject,notnull"`
	Content        string            `bun:"content,notnull"`
	TemplateParams map[string]string `bun:"-"`
	SignatureName  string            `bun:"signature_name,notnull"`
	// Attachments of e-mail sends, as JSON.
	Attachments json.RawMessage `bun:"attachments,type:text"`
	Status      string          `bun:"status,notnull"`
	// CallbackStatus is the delivery receipt's verdict: delivered, failed,
	// rejected, or empty until a receipt arrives.
	CallbackStatus    string     `bun:"callback_status,notnull"`
	AccountID         *int64     `bun:"account_id"`
	ProviderMessageID string     `bun:"provider_message_id,notnull"`
	AttemptCount      int        `bun:"attempt_count,notnull"`
	MaxAttempts       int        `bun:"max_attempts,notnull"`
	LastError         string     `bun:"last_error,notnull"`
	ScheduledAt       *time.Time `bun:"scheduled_at"`
	// ExpiresAt is when a message not yet handed to a provider stops being
	// worth sending; nil on messages accepted before expiries existed.
	ExpiresAt *time.Time `bun:"expires_at"`
	// Priority is "critical" for a message that ignores quiet hours, else
	// empty.
	Priority string `bun:"priority,notnull"`
	// HeldUntil is when a pending message waiting for quiet hours to end
	// is released; the sweeper leaves it alone until then.
	HeldUntil      *time.Time `bun:"held_until"`
	IdempotencyKey string     `bun:"idempotency_key,notnull"`
	// RequestHash is the hex SHA-256 of the normalized request, so a reused
	// IdempotencyKey with a different request can be told apart.
	RequestHash string `bun:"request_hash,notnull"`
	// QuotaState is "reserved", "committed" or "released" for a message
	// counted against a quota, else empty; QuotaScopes says which quotas
	// (QuotaScope bits) and QuotaDay and QuotaMonth the periods.
	QuotaState  string `bun:"quota_state,notnull"`
	QuotaScopes int    `bun:"quota_scopes,notnull"`
	QuotaDay    string `bun:"quota_day,notnull"`
	QuotaMonth  string `bun:"quota_month,notnull"`
	// SMSSegments is how many parts an SMS is billed as; 0 for other
	// channels.
	SMSSegments int `bun:"sms_segments,notnull"`
	// RedrivenTo is the task an operator resent this one as, and
	// RedrivenFrom the task this one resends; empty when none.
	RedrivenTo   string     `bun:"redriven_to,notnull"`
	RedrivenFrom string     `bun:"redriven_from,notnull"`
	CreatedAt    time.Time  `bun:"created_at,notnull"`
	UpdatedAt    time.Time  `bun:"updated_at,notnull"`
	FinishedAt   *time.Time `bun:"finished_at"`

	// TemplateParamsText is the stored form of TemplateParams: JSON,
	// sealed. The store fills it on write and ignores what callers put
	// there.
	TemplateParamsText string `bun:"template_params,nullzero" json:"-"`
	// ErasedAt is when the message's personal data was erased (by the
	// app's retention or an erasure request); nil while it is kept.
	ErasedAt *time.Time `bun:"erased_at"`

	// BatchSeq numbers the members of a batch-workflow batch from 1, in
	// request order, so the batch workflow loads them by range; 0 for
	// other messages.
	BatchSeq int `bun:"batch_seq,notnull"`
	// NextAttemptAt is when a batch member waiting for a retry is due.
	NextAttemptAt *time.Time `bun:"next_attempt_at"`
	// FailedAccounts lists, comma-separated, the accounts a batch member
	// was switched away from.
	FailedAccounts string `bun:"failed_accounts,notnull"`
	// SentAt is when a provider accepted the batch member's current
	// attempt; its receipt timeout runs from there.
	SentAt *time.Time `bun:"sent_at"`
	// ThrottledCount counts the times providers throttled a batch member
	// and DeferredMS how long, in milliseconds, that held it back.
	ThrottledCount int   `bun:"throttled_count,notnull"`
	DeferredMS     int64 `bun:"deferred_ms,notnull"`
}

// Batch records one batch request.
type Batch struct {
	bun.BaseModel `bun:"table:batches,alias:b"`

	ID           string `bun:"id,pk"`
	AppID        string `bun:"app_id,notnull"`
	ChannelID    int64  `bun:"channel_id,notnull"`
	TotalCount   int    `bun:"total_count,notnull"`
	SuccessCount int    `bun:"success_count,notnull"`
	FailedCount  int    `bun:"failed_count,notnull"`
	// IdempotencyKey and RequestHash play the same part as on Message, for
	// the batch request as a whole.
	IdempotencyKey string    `bun:"idempotency_key,notnull"`
	RequestHash    string    `bun:"request_hash,notnull"`
	CreatedAt      time.Time `bun:"created_at,notnull"`
	// Attachments of an e-mail batch, as JSON, stored once for all its
	// messages (whose own Attachments stay empty). Sealed at rest.
	Attachments json.RawMessage `bun:"attachments,type:text"`

	// Status is the batch workflow's state (BatchRunning, BatchPaused,
	// BatchCancelled, BatchFinished); empty for batches accepted before
	// batch workflows, whose members each have a workflow of their own.
	Status string `bun:"status,notnull"`
	// WorkflowID is the batch workflow's id; empty for the older batches.
	WorkflowID string `bun:"workflow_id,notnull"`
	// MessageType, Subject, Content, TemplateParams and SignatureName are
	// what the members of a batch-workflow batch share; those members
	// store them empty and are read back with them filled in. Subject,
	// Content and TemplateParams are personal data, sealed at rest.
	MessageType    string            `bun:"message_type,notnull"`
	Subject        string            `bun:"subject,notnull"`
	Content        string            `bun:"content,notnull"`
	TemplateParams map[string]string `bun:"-"`
	// TemplateParamsText is the stored form of TemplateParams, as on
	// Message.
	TemplateParamsText string     `bun:"template_params,nullzero" json:"-"`
	SignatureName      string     `bun:"signature_name,notnull"`
	ScheduledAt        *time.Time `bun:"scheduled_at"`
	UpdatedAt          *time.Time `bun:"updated_at"`
	FinishedAt         *time.Time `bun:"finished_at"`
	// MemberPrefix begins the task id of every member of a batch accepted
	// with staged members (MemberTaskID); empty for older batches, whose
	// members' task ids are random.
	MemberPrefix string `bun:"member_prefix,notnull"`
	// MemberDefaults holds, as JSON, what a staged member's message row
	// starts with besides what the batch row says (see memberDefaults).
	MemberDefaults string `bun:"member_defaults,notnull" json:"-"`
}

// stagedRun is a run of a batch's members as accepted: their receivers,
// sealed together as one JSON array, waiting to become message rows
// (expandRun). Members FirstSeq to FirstSeq+Count-1 are in it.
type stagedRun struct {
	bun.BaseModel `bun:"table:batch_receivers,alias:br"`

	ID        int64  `bun:"id,pk,autoincrement"`
	BatchID   string `bun:"batch_id,notnull"`
	FirstSeq  int    `bun:"first_seq,notnull"`
	Count     int    `bun:"receiver_count,notnull"`
	Receivers string `bun:"receivers,notnull"`
}

// Batch statuses (Batch.Status) of batches run by a batch workflow.
const (
	BatchRunning   = "running"
	BatchPaused    = "paused"
	BatchCancelled = "cancelled"
	BatchFinished  = "finished"
)

// MessageEvent is one entry of a message's timeline.
type MessageEvent struct {
	bun.BaseModel `bun:"table:message_events,alias:ev"`

	ID     int64  `bun:"id,pk,autoincrement"`
	TaskID string `bun:"task_id,notnull"`
	// Seq orders events within a task and makes their insertion idempotent
	// (a re-run local activity writes the same seq again).
	Seq       int    `bun:"seq,notnull"`
	Kind      string `bun:"kind,notnull"`
	Status    string `bun:"status,notnull"`
	AccountID *int64 `bun:"account_id"`
	Code      string `bun:"code,notnull"`
	// Detail is sealed at rest: it holds a receiver's reply, or a
	// provider's error text, which may quote the receiver.
	Detail string `bun:"detail,notnull"`
	// Data holds a late receipt as it came; sealed at rest, as its
	// description may quote the receiver.
	Data json.RawMessage `bun:"data,type:text"`
	// Inputs holds, on a rule decision, the structured facts the rules
	// decided on (rules.Input as JSON), so the decision can be replayed
	// against a draft rule set; nil on other events and older decisions.
	// Sealed at rest, as the failure it holds may quote the receiver.
	Inputs    json.RawMessage `bun:"inputs,type:text"`
	CreatedAt time.Time       `bun:"created_at,notnull"`
}
