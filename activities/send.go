package activities

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.uber.org/zap"

	"github.com/heraldhq/herald/internal/tracing"
	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/rules"
	"github.com/heraldhq/herald/store"
)

// SendRequest asks for one send attempt of a task through one account.
type SendRequest struct {
	TaskID    string
	AccountID int64
	// Attempt numbers the task's attempts from 1 (across accounts).
	Attempt int
	// OnStart, when set, is written before anything else: the
	// "processing" status and the attempt's timeline events, saving the
	// workflow a local activity per attempt. Writing it again is harmless.
	OnStart *StatusUpdate
	// OnAccepted, when set, is written together with the provider's
	// message id once the provider accepts (and not when it refuses): the
	// "sent" status and its timeline events, in one transaction instead
	// of a separate local activity after the send.
	OnAccepted *StatusUpdate
	// CheckBreaker asks the send to look at the account's circuit breaker
	// again before sending (the plan that picked the account may be old:
	// the message waited for quiet hours, pacing or a retry), and to refuse
	// with a BreakerErrorType error when it keeps the message off. Set by
	// workflows that handle that refusal; older ones leave it false.
	CheckBreaker bool
	// Probe is true when the plan took one of the account's half-open
	// probe sends for this message.
	Probe bool
	// Local says the workflow runs the send as a local activity. After its
	// worker dies, a local activity starts again from attempt 1, so an
	// earlier run is told by the attempt OnStart wrote instead.
	Local bool
}

// SendResult is an accepted send.
type SendResult struct {
	ProviderMessageID string
	// Delivered is true when acceptance is delivery (no receipt follows).
	Delivered bool
	// Recovered is true when a retried activity found, by asking the
	// provider, that an earlier execution had already sent the message.
	Recovered bool
	// InvalidReceivers lists receivers of a multi-receiver message the
	// provider refused while accepting the others.
	InvalidReceivers []string
	// Applied is true when the request's OnAccepted update was written.
	Applied bool
}

// Failure is a classified provider failure, carried as the details of the
// non-retryable application error a failed send returns.
type Failure struct {
	Class             rules.Class
	Code              string
	Message           string
	RetryAfterSeconds int
}

// ProviderErrorType prefixes the application error type of provider
// failures; the class follows ("provider.transient", ...).
const ProviderErrorType = "provider."

// Send delivers one attempt. Provider failures come back as non-retryable
// application errors whose details are a Failure, because retrying and
// switching are the rule engine's decisions, not the activity's. Other
// errors (store unavailable) are retried by Temporal.
//
// A message whose app or channel is disabled is refused before anything is
// written or sent, with a DisabledErrorType error (see DisabledOf).
func (a *Activities) Send(ctx context.Context, req SendRequest) (SendResult, error) {
	msg, err := a.store.GetMessage(ctx, req.TaskID)
	if err != nil {
		return SendResult{}, fmt.Errorf("load message %s: %w", req.TaskID, err)
	}
	if err := a.checkEnabled(ctx, msg); err != nil {
		return SendResult{}, err
	}
	rerun, since := a.earlierRun(ctx, req, msg)
	if rerun && req.Local && req.OnAccepted != nil && msg.Status == req.OnAccepted.Status && msg.ProviderMessageID != "" &&
		msg.AccountID != nil && *msg.AccountID == req.AccountID {
		// The earlier run got the provider's acceptance and wrote it; only
		// its workflow task was lost.
		return SendResult{ProviderMessageID: msg.ProviderMessageID, Recovered: true, Applied: true}, nil
	}
	if !rerun {
		if err := a.checkExpiry(msg); err != nil {
			return SendResult{}, err
		}
		if req.CheckBreaker {
			if err := a.checkBreaker(ctx, req); err != nil {
				return SendResult{}, err
			}
		}
	}
	if req.OnStart != nil {
		p, events := req.OnStart.patch(a.now)
		if err := a.store.RecordMessage(ctx, req.TaskID, p, events); err != nil {
			return SendResult{}, fmt.Errorf("record start of %s: %w", req.TaskID, err)
		}
	}
	acc, err := a.store.GetAccount(ctx, req.AccountID)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return SendResult{}, providerError(providers.Errorf(providers.ClassAccount, "ACCOUNT_NOT_FOUND", "provider account %d no longer exists", req.AccountID))
		}
		return SendResult{}, fmt.Errorf("load account %d: %w", req.AccountID, err)
	}
	if !acc.Enabled {
		return SendResult{}, providerError(providers.Errorf(providers.ClassAccount, "ACCOUNT_DISABLED", "provider account %d is disabled", acc.ID))
	}
	sender, err := a.sender(acc)
	if err != nil {
		return SendResult{}, providerError(providers.Errorf(providers.ClassConfig, "ACCOUNT_CONFIG_INVALID", "provider account %d: %v", acc.ID, err))
	}
	pm, err := a.buildMessage(ctx, msg, acc.ID, req.Attempt)
	if err != nil {
		return SendResult{}, err
	}

	// A retried execution may follow one that reached the provider before
	// the worker died. Where the provider can tell, ask before sending
	// again, so the receiver gets the message once; where it cannot and
	// the account does not resend after an unknown outcome, say so.
	if _, checks := sender.(providers.StatusChecker); rerun && !checks && a.failsOnUnknown(acc, msg) {
		return SendResult{}, providerError(providers.Errorf(providers.ClassUnknownOutcome, "SEND_NOT_CONFIRMED",
			"an earlier execution of this send may have reached the provider, which cannot be asked"))
	}
	if rerun {
		if checker, ok := sender.(providers.StatusChecker); ok {
			rcpt, found, err := checker.CheckStatus(ctx, providers.StatusQuery{TaskID: msg.TaskID, Receiver: msg.Receiver, SentAt: since})
			// Found is enough, even without the provider's id (Aliyun's
			// query by task id has none): its receipts carry our task id.
			if err == nil && found {
				if err := a.accepted(ctx, req, rcpt.ProviderMessageID); err != nil {
					return SendResult{}, err
				}
				return SendResult{ProviderMessageID: rcpt.ProviderMessageID, Recovered: true, Applied: req.OnAccepted != nil}, nil
			}
		}
	}

	var res providers.Result
	started := a.now()
	sendCtx, span := a.tracer.Start(ctx, "provider.send "+acc.Kind, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(tracing.AttrApp.String(msg.AppID), tracing.AttrChannel.Int64(msg.ChannelID),
			tracing.AttrAccount.Int64(acc.ID), tracing.AttrProviderKind.String(acc.Kind)))
	if bs, ok := sender.(providers.BatchSender); ok && msg.BatchID != "" && a.batcher != nil {
		res, err = a.batcher.send(sendCtx, acc.ID, bs, pm)
	} else {
		res, err = sender.Send(sendCtx, pm)
	}
	took := a.now().Sub(started)
	a.reportOutcome(acc.ID, err)
	if err != nil {
		pe := providers.AsError(err)
		// The class and the vendor's code, never its message: messages may
		// quote the receiver.
		span.SetAttributes(tracing.AttrErrorClass.String(string(pe.Class)), tracing.AttrErrorCode.String(pe.Code))
		span.SetStatus(codes.Error, string(pe.Class))
		span.End()
		a.metrics.SendAttempt(acc.Kind, string(pe.Class), pe.Code, took)
		a.log.Info("provider refused a send",
			zap.String("task_id", msg.TaskID), zapAccount(acc.ID), zap.String("class", string(pe.Class)), zap.String("code", pe.Code))
		a.recordBounce(ctx, msg, acc.Kind, pe)
		return SendResult{}, providerError(pe)
	}
	span.End()
	a.metrics.SendAttempt(acc.Kind, "", "", took)
	if res.ProviderMessageID != "" || req.OnAccepted != nil {
		if err := a.accepted(ctx, req, res.ProviderMessageID); err != nil {
			return SendResult{}, err
		}
	}
	return SendResult{ProviderMessageID: res.ProviderMessageID, Delivered: res.Delivered, InvalidReceivers: res.InvalidReceivers, Applied: req.OnAccepted != nil}, nil
}

// earlierRun reports whether an earlier execution of this attempt may
// have reached the provider, and since when. A retry says so by its
// attempt number. A local activity whose worker died starts over at
// attempt 1, but the earlier run wrote this attempt's number (OnStart)
// before it sent, and the message's update time is then no later than
// that send.
func (a *Activities) earlierRun(ctx context.Context, req SendRequest, msg *store.Message) (bool, time.Time) {
	info := activity.GetInfo(ctx)
	if req.Local && req.OnStart != nil && req.OnStart.Attempts > 0 && msg.AttemptCount >= req.OnStart.Attempts {
		since := msg.UpdatedAt
		if since.IsZero() || info.ScheduledTime.Before(since) {
			since = info.ScheduledTime
		}
		return true, since
	}
	return info.Attempt > 1, info.ScheduledTime
}

// failsOnUnknown reports whether the account's on_unknown_outcome is
// "fail" for msg.
func (a *Activities) failsOnUnknown(acc *store.ProviderAccount, msg *store.Message) bool {
	prov, err := a.providers.Get(acc.Kind)
	if err != nil {
		return false
	}
	return providers.SendPolicyOf(prov, providers.Account{ID: acc.ID, Kind: acc.Kind, Config: acc.Config}).OnUnknownOutcome == providers.OnUnknownFail
}

// accepted records an accepted send: the provider's id mapped to the task
// and the request's OnAccepted update, in one transaction.
func (a *Activities) accepted(ctx context.Context, req SendRequest, pid string) error {
	var p store.MessagePatch
	var events []*store.MessageEvent
	if req.OnAccepted != nil {
		p, events = req.OnAccepted.patch(a.now)
	}
	if err := a.store.RecordAccepted(ctx, req.TaskID, req.AccountID, pid, p, events); err != nil {
		return fmt.Errorf("record acceptance of %s: %w", req.TaskID, err)
	}
	return nil
}

func providerError(pe *providers.Error) error {
	f := Failure{Class: pe.Class, Code: pe.Code, Message: pe.Message, RetryAfterSeconds: int(pe.RetryAfter.Seconds())}
	opts := temporal.ApplicationErrorOptions{NonRetryable: true, Details: []any{f}}
	if pe.Class == providers.ClassThrottled {
		// Throttling is expected under load; it must not page anyone.
		opts.Category = temporal.ApplicationErrorCategoryBenign
	}
	return temporal.NewApplicationErrorWithOptions(pe.Error(), ProviderErrorType+string(pe.Class), opts)
}

// FailureOf extracts the provider failure from a Send error. ok is false
// for errors that are not provider failures (timeouts, infrastructure).
func FailureOf(err error) (Failure, bool) {
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || len(appErr.Type()) <= len(ProviderErrorType) || appErr.Type()[:len(ProviderErrorType)] != ProviderErrorType {
		return Failure{}, false
	}
	var f Failure
	if appErr.HasDetails() {
		if derr := appErr.Details(&f); derr == nil {
			return f, true
		}
	}
	return Failure{Class: rules.Class(appErr.Type()[len(ProviderErrorType):]), Message: appErr.Message()}, true
}

// DisabledErrorType is the application error type of a send refused
// because the message's app or channel is disabled. It is not a provider
// failure: nothing reached a provider, and the message must end at once.
const DisabledErrorType = "message.disabled"

// checkEnabled refuses a message whose app or channel is disabled. Both
// are read through the store's configuration cache: a change made through
// this process is seen at once, one made by another process within the
// cache's TTL (store.DefaultCacheTTL).
func (a *Activities) checkEnabled(ctx context.Context, msg *store.Message) error {
	app, err := a.store.GetApp(ctx, msg.AppID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("load app %s: %w", msg.AppID, err)
	}
	ch, err := a.store.GetChannel(ctx, msg.ChannelID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("load channel %d: %w", msg.ChannelID, err)
	}
	code, detail := disabled(msg, app, ch)
	if code == "" {
		return nil
	}
	return temporal.NewApplicationErrorWithOptions(detail, DisabledErrorType, temporal.ApplicationErrorOptions{
		NonRetryable: true, Category: temporal.ApplicationErrorCategoryBenign, Details: []any{Failure{Code: code, Message: detail}},
	})
}

// DisabledOf extracts the code (CodeAppDisabled, CodeChannelDisabled or
// CodeExpired) and the words of a send refused because the app or channel
// is disabled or the message expired; ok is false for any other error.
func DisabledOf(err error) (f Failure, ok bool) {
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || (appErr.Type() != DisabledErrorType && appErr.Type() != ExpiredErrorType) {
		return Failure{}, false
	}
	if !appErr.HasDetails() || appErr.Details(&f) != nil {
		f = Failure{Message: appErr.Message()}
	}
	return f, true
}

// buildMessage turns a stored message into what the provider sends, using
// the account's template mapping where there is one.
func (a *Activities) buildMessage(ctx context.Context, msg *store.Message, accountID int64, attempt int) (providers.Message, error) {
	pm := providers.Message{
		TaskID:    msg.TaskID,
		Attempt:   attempt,
		Receiver:  msg.Receiver,
		Subject:   msg.Subject,
		Content:   msg.Content,
		Signature: msg.SignatureName,
	}
	ch, err := a.store.GetChannel(ctx, msg.ChannelID)
	if err != nil {
		return pm, fmt.Errorf("load channel %d: %w", msg.ChannelID, err)
	}
	var order []string
	if ch.TemplateID != nil {
		tpl, err := a.store.GetTemplate(ctx, *ch.TemplateID)
		switch {
		case err == nil:
			pm.ContentType = tpl.ContentType
			order = tpl.Variables
		case !errors.Is(err, store.ErrNotFound):
			return pm, fmt.Errorf("load template %d: %w", *ch.TemplateID, err)
		}
		mp, err := a.store.GetTemplateMapping(ctx, *ch.TemplateID, accountID)
		switch {
		case err == nil:
			pm.TemplateCode = mp.ProviderCode
			if len(mp.ParamOrder) > 0 {
				order = mp.ParamOrder
			}
			for _, name := range order {
				out := name
				if renamed, ok := mp.ParamNames[name]; ok && renamed != "" {
					out = renamed
				}
				pm.Params = append(pm.Params, providers.Param{Name: out, Value: msg.TemplateParams[name]})
			}
		case errors.Is(err, store.ErrNotFound):
			for _, name := range order {
				pm.Params = append(pm.Params, providers.Param{Name: name, Value: msg.TemplateParams[name]})
			}
		default:
			return pm, fmt.Errorf("load template mapping: %w", err)
		}
	}
	switch {
	case hasAttachments(msg.Attachments):
		atts, err := decodeAttachments(msg.Attachments)
		if err != nil {
			return pm, providerError(providers.Errorf(providers.ClassPermanent, "ATTACHMENT_INVALID", "stored attachments: %v", err))
		}
		pm.Attachments = atts
	case msg.BatchID != "" && msg.MessageType == store.ChannelEmail:
		// A batch stores its attachments once, for all its messages (only
		// e-mail takes attachments: other batches need no lookup).
		atts, err := a.batchAttachments(ctx, msg.BatchID)
		if err != nil {
			return pm, err
		}
		pm.Attachments = atts
	}
	return pm, nil
}

// sender returns the cached sender of acc, building it when the account is
// new or changed.
func (a *Activities) sender(acc *store.ProviderAccount) (providers.Sender, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if c, ok := a.senders[acc.ID]; ok && c.updatedAt.Equal(acc.UpdatedAt) {
		return c.sender, nil
	}
	prov, err := a.providers.Get(acc.Kind)
	if err != nil {
		return nil, err
	}
	s, err := prov.NewSender(providers.Account{ID: acc.ID, Kind: acc.Kind, Config: acc.Config, CallbackURL: a.callbackURL(acc)})
	if err != nil {
		return nil, fmt.Errorf("build sender for account %d: %w", acc.ID, err)
	}
	a.senders[acc.ID] = cachedSender{updatedAt: acc.UpdatedAt, sender: s}
	return s, nil
}

// callbackURL is where the provider of acc pushes its receipts. (Every
// exported method of Activities is registered as an activity.)
func (a *Activities) callbackURL(acc *store.ProviderAccount) string {
	return CallbackURL(a.cfg.CallbackBaseURL, acc.Kind, acc.ID, acc.CallbackToken)
}

// CallbackURL builds the receipt endpoint of an account under base. A
// trailing slash on base is dropped: "//callbacks" would miss the route.
func CallbackURL(base, kind string, accountID int64, token string) string {
	return fmt.Sprintf("%s/callbacks/%s/%s?token=%s", strings.TrimRight(base, "/"), url.PathEscape(kind), strconv.FormatInt(accountID, 10), url.QueryEscape(token))
}

// CheckRequest asks a provider what became of an attempt.
type CheckRequest struct {
	TaskID            string
	AccountID         int64
	ProviderMessageID string
	// SentAt bounds the provider's search window.
	SentAt time.Time
}

// CheckResult is the provider's answer; Found is false when it has no
// record (or cannot be asked).
type CheckResult struct {
	Found             bool
	ProviderMessageID string
	Status            string
	Code              string
	Description       string
}

// CheckStatus resolves an unknown outcome or a missing receipt by asking
// the provider.
func (a *Activities) CheckStatus(ctx context.Context, req CheckRequest) (CheckResult, error) {
	msg, err := a.store.GetMessage(ctx, req.TaskID)
	if err != nil {
		return CheckResult{}, fmt.Errorf("load message %s: %w", req.TaskID, err)
	}
	acc, err := a.store.GetAccount(ctx, req.AccountID)
	if err != nil {
		return CheckResult{}, fmt.Errorf("load account %d: %w", req.AccountID, err)
	}
	sender, err := a.sender(acc)
	if err != nil {
		return CheckResult{}, nil
	}
	checker, ok := sender.(providers.StatusChecker)
	if !ok {
		return CheckResult{}, nil
	}
	rcpt, found, err := checker.CheckStatus(ctx, providers.StatusQuery{
		TaskID: req.TaskID, ProviderMessageID: req.ProviderMessageID, Receiver: msg.Receiver, SentAt: req.SentAt,
	})
	if err != nil {
		return CheckResult{}, fmt.Errorf("check status of %s at account %d: %w", req.TaskID, req.AccountID, err)
	}
	if !found {
		return CheckResult{}, nil
	}
	// Recorded even without the provider's id (Aliyun's query by task id
	// has none), so receipts naming only our task id are known to belong
	// to a send this account accepted.
	if err := a.accepted(ctx, SendRequest{TaskID: req.TaskID, AccountID: req.AccountID}, rcpt.ProviderMessageID); err != nil {
		return CheckResult{}, err
	}
	return CheckResult{Found: true, ProviderMessageID: rcpt.ProviderMessageID, Status: string(rcpt.Status), Code: rcpt.Code, Description: rcpt.Description}, nil
}
