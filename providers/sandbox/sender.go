package sandbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"time"

	"github.com/heraldhq/herald/providers"
)

// Magic receiver endings. A receiver whose digits (everything else removed)
// end in one of these gets a fixed outcome, whatever the account's rates.
const (
	// MagicInvalidReceiver is rejected as permanent, CodeInvalidReceiver.
	MagicInvalidReceiver = "4000"
	// MagicTransient fails as transient, CodeTemporaryFailure.
	MagicTransient = "4001"
	// MagicThrottled is throttled, CodeThrottled, with RetryAfter
	// ThrottleRetryAfter.
	MagicThrottled = "4002"
	// MagicAccountSuspended fails as account, CodeAccountSuspended.
	MagicAccountSuspended = "4003"
	// MagicUndelivered is accepted; the receipt reports it undelivered
	// (status UNDELIV, CodeUndelivered).
	MagicUndelivered = "4004"
	// MagicNoReceipt is accepted and delivered, but no receipt is ever pushed;
	// CheckStatus reports it delivered, as if the receipt was lost.
	MagicNoReceipt = "4005"
	// MagicUnknownOutcome is accepted and recorded as delivered, but Send
	// fails with unknown_outcome (CodeTimeout), like a timeout after the
	// provider took the request. No receipt is pushed, so only CheckStatus
	// (by task id) can tell what happened.
	MagicUnknownOutcome = "4006"
	// MagicFailFirstAttempt fails as transient on a task's first attempt
	// (Message.Attempt 1) and is delivered, with a receipt, on later ones.
	MagicFailFirstAttempt = "4007"
)

// Failure and receipt codes the sandbox reports.
const (
	CodeInvalidReceiver  = "SANDBOX_INVALID_RECEIVER"
	CodeTemporaryFailure = "SANDBOX_TEMPORARY_FAILURE"
	CodeThrottled        = "SANDBOX_THROTTLED"
	CodeAccountSuspended = "SANDBOX_ACCOUNT_SUSPENDED"
	CodeTimeout          = "SANDBOX_TIMEOUT"
	// CodeFailure is the default code of random failures (failure_rate).
	CodeFailure = "SANDBOX_FAILURE"
	// CodeClosed means the provider was closed; nothing was sent.
	CodeClosed = "SANDBOX_CLOSED"
	// CodeCancelled means the caller gave up during the simulated latency,
	// before the sandbox accepted anything.
	CodeCancelled = "SANDBOX_CANCELLED"
	// CodeDelivered and CodeUndelivered are the receipt codes.
	CodeDelivered   = "DELIVRD"
	CodeUndelivered = "UNDELIV"
)

// ThrottleRetryAfter is the RetryAfter of a throttled send.
const ThrottleRetryAfter = time.Second

// Sender sends through one sandbox account. It is safe for concurrent use.
type Sender struct {
	p           *Provider
	accountID   int64
	callbackURL string
	cfg         Config
	rng         *lockedRand
}

var (
	_ providers.Sender        = (*Sender)(nil)
	_ providers.StatusChecker = (*Sender)(nil)
)

// outcome is what the sandbox does with one send.
type outcome struct {
	// err is returned to the caller. With accepted it is an unknown outcome.
	err *providers.Error
	// accepted means the sandbox keeps the message and knows its fate.
	accepted bool
	status   providers.ReceiptStatus
	// push means a receipt goes to the callback URL.
	push bool
}

var (
	delivered   = outcome{accepted: true, status: providers.ReceiptDelivered, push: true}
	undelivered = outcome{accepted: true, status: providers.ReceiptFailed, push: true}
)

// Send waits the configured latency, then accepts or fails msg according
// to its receiver (see the Magic constants) or, for other receivers, the
// account's failure_rate. An accepted message gets a "sbx-" id and, unless
// the receiver or no_receipt_rate says otherwise, a receipt pushed after
// receipt_delay_ms.
func (s *Sender) Send(ctx context.Context, msg providers.Message) (providers.Result, error) {
	if s.p.isClosed() {
		return providers.Result{}, providers.Errorf(providers.ClassTransient, CodeClosed, "sandbox provider is closed")
	}
	if err := s.p.clock.Sleep(ctx, s.cfg.Latency()); err != nil {
		return providers.Result{}, &providers.Error{Class: providers.ClassTransient, Code: CodeCancelled,
			Message: "send cancelled before the sandbox accepted it", Err: err}
	}

	o := s.decide(msg)
	if !o.accepted {
		return providers.Result{}, o.err
	}

	rec := &record{
		accountID:   s.accountID,
		messageID:   newMessageID(),
		taskID:      msg.TaskID,
		receiver:    msg.Receiver,
		status:      o.status,
		code:        CodeDelivered,
		description: "delivered",
		// The delivery time is fixed now, to the second as the wire
		// carries it, so the pushed receipt and CheckStatus agree.
		at: s.p.clock.Now().Add(s.cfg.ReceiptDelay()).UTC().Truncate(time.Second),
	}
	if o.status == providers.ReceiptFailed {
		rec.code, rec.description = CodeUndelivered, "the handset could not be reached"
	}
	s.p.records.add(rec)
	if o.push && s.callbackURL != "" {
		s.p.schedulePush(s.callbackURL, reportOf(rec), s.cfg.ReceiptDelay())
	}
	if o.err != nil {
		return providers.Result{}, o.err
	}
	return providers.Result{ProviderMessageID: rec.messageID}, nil
}

// decide picks the outcome of one send. Magic receivers never consume
// random numbers, so they do not shift a seeded account's sequence.
func (s *Sender) decide(msg providers.Message) outcome {
	switch magicEnding(msg.Receiver) {
	case MagicInvalidReceiver:
		return outcome{err: providers.Errorf(providers.ClassPermanent, CodeInvalidReceiver, "the sandbox rejects this receiver")}
	case MagicTransient:
		return outcome{err: providers.Errorf(providers.ClassTransient, CodeTemporaryFailure, "the sandbox is temporarily unavailable")}
	case MagicThrottled:
		e := providers.Errorf(providers.ClassThrottled, CodeThrottled, "the sandbox asks to slow down")
		e.RetryAfter = ThrottleRetryAfter
		return outcome{err: e}
	case MagicAccountSuspended:
		return outcome{err: providers.Errorf(providers.ClassAccount, CodeAccountSuspended, "the sandbox account is suspended")}
	case MagicUndelivered:
		return undelivered
	case MagicNoReceipt:
		o := delivered
		o.push = false
		return o
	case MagicUnknownOutcome:
		return unknownOutcome(CodeTimeout)
	case MagicFailFirstAttempt:
		if msg.Attempt <= 1 {
			return outcome{err: providers.Errorf(providers.ClassTransient, CodeTemporaryFailure, "the sandbox fails a task's first attempt")}
		}
		return delivered
	}

	failure, noReceipt, receiptFailure := s.rng.draws()
	switch {
	case failure < s.cfg.FailureRate:
		if s.cfg.FailureClass == providers.ClassUnknownOutcome {
			return unknownOutcome(s.cfg.FailureCode)
		}
		e := providers.Errorf(s.cfg.FailureClass, s.cfg.FailureCode, "simulated sandbox failure")
		if s.cfg.FailureClass == providers.ClassThrottled {
			e.RetryAfter = ThrottleRetryAfter
		}
		return outcome{err: e}
	case noReceipt < s.cfg.NoReceiptRate:
		o := delivered
		o.push = false
		return o
	case receiptFailure < s.cfg.ReceiptFailureRate:
		return undelivered
	default:
		return delivered
	}
}

// unknownOutcome accepts and delivers the message but tells the caller it
// timed out. No receipt is pushed: the point is to exercise status checks.
func unknownOutcome(code string) outcome {
	return outcome{
		err:      providers.Errorf(providers.ClassUnknownOutcome, code, "the sandbox did not answer in time"),
		accepted: true,
		status:   providers.ReceiptDelivered,
	}
}

// CheckStatus reports the final state of a message this provider accepted
// for this account, by ProviderMessageID or, when that is empty, by the
// task's latest message. found is false for anything else, including
// messages forgotten after DefaultMaxRecords newer ones.
func (s *Sender) CheckStatus(ctx context.Context, q providers.StatusQuery) (providers.Receipt, bool, error) {
	if err := ctx.Err(); err != nil {
		return providers.Receipt{}, false, err
	}
	rec, ok := s.p.records.find(s.accountID, q.ProviderMessageID, q.TaskID)
	if !ok {
		return providers.Receipt{}, false, nil
	}
	return rec.receipt(), true, nil
}

// magicEnding returns the Magic constant the receiver's digits end in, or
// "".
func magicEnding(receiver string) string {
	var digits strings.Builder
	for _, r := range receiver {
		if r >= '0' && r <= '9' {
			digits.WriteRune(r)
		}
	}
	d := digits.String()
	if len(d) < 4 {
		return ""
	}
	switch end := d[len(d)-4:]; end {
	case MagicInvalidReceiver, MagicTransient, MagicThrottled, MagicAccountSuspended,
		MagicUndelivered, MagicNoReceipt, MagicUnknownOutcome, MagicFailFirstAttempt:
		return end
	}
	return ""
}

// newMessageID returns "sbx-" and 24 random hex digits. It uses crypto/rand
// rather than the account's seeded stream, so two accounts with one seed
// never mint the same id.
func newMessageID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms.
	return "sbx-" + hex.EncodeToString(b)
}
