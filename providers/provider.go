// Package providers holds the contract every delivery provider implements and
// the vocabulary the rest of Herald uses to talk about provider outcomes.
//
// A provider package (providers/tencent, providers/webhook, ...) turns one
// Message into one vendor request, classifies what went wrong, and parses the
// vendor's delivery receipts. It never decides whether to retry: that is the
// rule engine's job (package rules), fed by the Class and Code of an *Error.
package providers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/heraldhq/herald/rules"
)

// Class says what kind of failure a provider reported, so the rule engine can
// decide between retrying, switching account and failing. It is the rule
// engine's own type: one vocabulary for providers, rules and workflows.
type Class = rules.Class

// Failure classes a provider reports; see package rules for their meaning.
// Class.FromProvider reports whether a value is one of these.
const (
	ClassTransient      = rules.ClassTransient
	ClassThrottled      = rules.ClassThrottled
	ClassAccount        = rules.ClassAccount
	ClassPermanent      = rules.ClassPermanent
	ClassConfig         = rules.ClassConfig
	ClassUnknownOutcome = rules.ClassUnknownOutcome
)

// Error is a classified provider failure. Code keeps the vendor's own error
// code (for example "FailedOperation.PhoneNumberInBlacklist") so rules can
// match on it.
type Error struct {
	Class   Class
	Code    string
	Message string
	// RetryAfter is the provider's own hint of when to try again, if any.
	RetryAfter time.Duration
	// Err is the underlying error, if any. It is never shown to API clients.
	Err error
}

func (e *Error) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("%s: %s", e.Class, e.Message)
	}
	return fmt.Sprintf("%s: %s: %s", e.Class, e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf builds a classified error with a formatted message.
func Errorf(class Class, code, format string, args ...any) *Error {
	return &Error{Class: class, Code: code, Message: fmt.Sprintf(format, args...)}
}

// AsError returns err as a classified *Error. An error that carries no class
// is reported as ClassUnknownOutcome, because we cannot tell whether the
// provider acted on the request.
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var pe *Error
	if errors.As(err, &pe) {
		return pe
	}
	return &Error{Class: ClassUnknownOutcome, Message: err.Error(), Err: err}
}

// Param is one named template parameter. Order matters for providers whose
// templates are positional (Tencent); others use the names (Aliyun).
type Param struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Attachment is a file attached to an e-mail.
type Attachment struct {
	Filename    string `json:"filename"`
	ContentType string `json:"content_type"`
	Content     []byte `json:"content"`
}

// Message is what Herald asks a provider to deliver to one receiver.
type Message struct {
	// TaskID is Herald's id for the message. Providers that echo a caller
	// reference (Tencent SessionContext, Aliyun OutId) carry it, so receipts
	// can be matched even without the provider's own id.
	TaskID string
	// Attempt numbers the send attempts of one task from 1; together with
	// TaskID it forms the idempotency key for providers that accept one.
	Attempt  int
	Receiver string
	// Subject is used by channels that have one (e-mail, cards).
	Subject string
	// Content is the rendered text of the template.
	Content     string
	ContentType string
	// TemplateCode is the provider's own template id for this account, when
	// the provider sends templates by id rather than by text.
	TemplateCode string
	Params       []Param
	// Signature is the SMS signature text the provider expects.
	Signature   string
	Attachments []Attachment
}

// IdempotencyKey is the stable key for one attempt of one task.
func (m Message) IdempotencyKey() string { return fmt.Sprintf("%s-%d", m.TaskID, m.Attempt) }

// Result is a provider's answer to an accepted send.
type Result struct {
	// ProviderMessageID is the vendor's id for this message, the one its
	// receipts carry. Empty when the provider has none.
	ProviderMessageID string
	// Delivered is true when acceptance already means delivery (a webhook
	// that answered 2xx): there is no receipt to wait for.
	Delivered bool
	// Fee is the number of billed units, if the provider says.
	Fee int
	// InvalidReceivers lists receivers of a multi-receiver send that the
	// provider refused while accepting the rest (WeChatWork invaliduser).
	InvalidReceivers []string
}

// Sender delivers one message through one provider account.
type Sender interface {
	// Send submits msg to the provider. A failure is returned as *Error with
	// its class; an unclassified error is treated as ClassUnknownOutcome.
	Send(ctx context.Context, msg Message) (Result, error)
}

// ReceiptStatus is the final state a receipt reports.
type ReceiptStatus string

// Receipt statuses.
const (
	ReceiptDelivered ReceiptStatus = "delivered"
	ReceiptFailed    ReceiptStatus = "failed"
	ReceiptRejected  ReceiptStatus = "rejected"
	// ReceiptPending comes only from a StatusChecker: the provider took the
	// message and has no final status yet. It must not be sent again.
	ReceiptPending ReceiptStatus = "pending"
)

// Receipt is one delivery report parsed from a provider's callback or pulled
// from its status API.
type Receipt struct {
	ProviderMessageID string `json:"provider_message_id"`
	// TaskID is set when the provider echoed Herald's reference.
	TaskID      string        `json:"task_id,omitempty"`
	Receiver    string        `json:"-"`
	Status      ReceiptStatus `json:"status"`
	Code        string        `json:"code,omitempty"`
	Description string        `json:"description,omitempty"`
	At          time.Time     `json:"at"`
}

// ReceiptHandler parses a provider's receipt push and tells how to answer it.
type ReceiptHandler interface {
	// ParseReceipts reads the receipts in a callback request. It returns an
	// error when the body is not in the provider's format.
	ParseReceipts(r *http.Request) ([]Receipt, error)
	// Acknowledge writes the answer the provider expects; ok reports whether
	// Herald accepted the receipts.
	Acknowledge(w http.ResponseWriter, ok bool)
}

// StatusChecker asks a provider what became of a message whose send outcome
// is unknown, or whose receipt never came. A Sender that can answer
// implements it too; callers find it with a type assertion.
type StatusChecker interface {
	// CheckStatus returns the receipt for the message, or found=false when
	// the provider has no record of it (yet).
	CheckStatus(ctx context.Context, q StatusQuery) (r Receipt, found bool, err error)
}

// StatusQuery identifies a message to a StatusChecker.
type StatusQuery struct {
	TaskID            string
	ProviderMessageID string
	Receiver          string
	SentAt            time.Time
	// Batched says the send may have gone out in a batch request, which
	// carries no per-message reference (Aliyun's SendBatchSms has one
	// OutId per request): a record to Receiver without a reference, sent
	// at or after SentAt, is then taken as the send.
	Batched bool
}

// Account is what a provider factory needs to build a sender: its
// decrypted credentials and settings as JSON, and where its receipts arrive.
type Account struct {
	ID     int64
	Kind   string
	Config json.RawMessage
	// CallbackURL is Herald's receipt endpoint for this account, for
	// providers that are told where to push (the sandbox).
	CallbackURL string
}

// Provider is one provider kind: it validates account configs and builds
// senders and receipt handlers from them.
type Provider interface {
	// Kind is the stable name stored on accounts ("tencent", "webhook", ...).
	Kind() string
	// ValidateConfig checks an account's JSON config and returns an error
	// that names every problem.
	ValidateConfig(cfg json.RawMessage) error
	// NewSender builds a sender for one account.
	NewSender(acc Account) (Sender, error)
	// ReceiptHandler returns the receipt parser, or nil when the provider
	// sends no receipts (acceptance is final).
	ReceiptHandler() ReceiptHandler
}

// BatchSender is implemented by senders that can deliver many messages in
// one request (Aliyun SendBatchSms, Zrwinfo batch send).
type BatchSender interface {
	// MaxBatch is the most messages one SendBatch call takes.
	MaxBatch() int
	// SendBatch submits msgs in one request. The outcomes are aligned with
	// msgs. A returned error means the whole request failed (classified
	// like Send's errors) and no item outcome is meaningful.
	SendBatch(ctx context.Context, msgs []Message) ([]BatchOutcome, error)
}

// CountryLimiter is implemented by providers that reach only some
// countries. A provider that does not implement it is taken to reach every
// country.
type CountryLimiter interface {
	// SupportsCountry reports whether the provider can deliver to phone
	// numbers of an ISO 3166 region ("CN", "HK", "US"). Mainland China is
	// "CN"; Hong Kong, Macao and Taiwan have regions of their own.
	SupportsCountry(region string) bool
}

// BatchOutcome is one message's outcome in a batch send: a Result, or an
// error classified like Send's.
type BatchOutcome struct {
	Result Result
	Err    error
}

// Reply is an upstream message: a receiver answering (SMS "MO").
type Reply struct {
	Receiver   string
	Content    string
	SignName   string
	ExtendCode string
	At         time.Time
	// ProviderMessageID links the reply to a send when the provider says.
	ProviderMessageID string
}

// ReplyHandler parses a provider's push of replies.
type ReplyHandler interface {
	// ParseReplies reads the replies in a callback request.
	ParseReplies(r *http.Request) ([]Reply, error)
	// Acknowledge writes the answer the provider expects.
	Acknowledge(w http.ResponseWriter, ok bool)
}

// ReplyProvider is implemented by providers that push replies; Herald
// serves them at /callbacks/{kind}/{account}/replies.
type ReplyProvider interface {
	ReplyHandler() ReplyHandler
}

// Rate is a send-rate cap: at most Limit sends per Per.
type Rate struct {
	Limit int
	Per   time.Duration
}

// Paced is implemented by providers whose accounts have a documented
// send-rate cap (a DingTalk robot takes 20 messages a minute). Herald paces
// an account's sends to it unless the account sets its own rate; sends
// over the rate wait, they are never dropped.
type Paced interface {
	DefaultRate(acc Account) Rate
}

// UnknownOutcome is what Herald does after a send whose outcome is unknown
// (a timeout after the request was written) when the provider cannot be
// asked what became of it.
type UnknownOutcome string

// Settings of UnknownOutcome, as the on_unknown_outcome key of an
// account's config spells them.
const (
	// OnUnknownResend sends again (under the same idempotency key where the
	// provider takes one): the receiver may get the message twice, never
	// zero times. Right where the receiving end deduplicates.
	OnUnknownResend UnknownOutcome = "resend"
	// OnUnknownFail ends the message failed: the receiver gets it once or
	// not at all.
	OnUnknownFail UnknownOutcome = "fail"
)

// ParseUnknownOutcome reads an on_unknown_outcome value; empty gives def.
func ParseUnknownOutcome(s string, def UnknownOutcome) (UnknownOutcome, error) {
	switch UnknownOutcome(s) {
	case "":
		return def, nil
	case OnUnknownResend, OnUnknownFail:
		return UnknownOutcome(s), nil
	}
	return "", fmt.Errorf("on_unknown_outcome %q must be %s or %s", s, OnUnknownResend, OnUnknownFail)
}

// SendPolicy is how sends through one account behave, as far as the send
// workflow needs to know.
type SendPolicy struct {
	// Timeout is the longest one Send through the account takes before
	// giving up (all of its requests: a token fetch and the send, the SMTP
	// session); zero when the provider states none.
	Timeout time.Duration
	// OnUnknownOutcome applies to providers without a status query (and
	// to batch sends when BatchUnchecked); empty means OnUnknownResend.
	OnUnknownOutcome UnknownOutcome
	// BatchUnchecked is true when a status query cannot resolve a send
	// that went out in a batch request.
	BatchUnchecked bool
}

// BounceClassifier is implemented by e-mail providers that can tell from
// a failed send's vendor code that the receiver's address cannot take mail
// at all (a hard bounce), as opposed to the message being refused.
type BounceClassifier interface {
	// HardBounce reports whether a permanent failure with this vendor code
	// is a hard bounce of the receiver's address.
	HardBounce(code string) bool
}

// SendPolicer is implemented by providers that report an account's
// SendPolicy.
type SendPolicer interface {
	// SendPolicy reads the policy from the account's config; a config
	// that does not parse gives the defaults.
	SendPolicy(acc Account) SendPolicy
}

// SendPolicyOf returns p's policy for acc, or the zero policy when p does
// not report one.
func SendPolicyOf(p Provider, acc Account) SendPolicy {
	if sp, ok := p.(SendPolicer); ok {
		return sp.SendPolicy(acc)
	}
	return SendPolicy{}
}
