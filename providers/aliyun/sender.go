package aliyun

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	dysms "github.com/alibabacloud-go/dysmsapi-20170525/v4/client"
	util "github.com/alibabacloud-go/tea-utils/v2/service"
	"github.com/alibabacloud-go/tea/tea"

	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/providers/httpsend"
)

// smsAPI is the part of the SDK client the sender uses.
type smsAPI interface {
	SendSmsWithOptions(req *dysms.SendSmsRequest, rt *util.RuntimeOptions) (*dysms.SendSmsResponse, error)
	SendBatchSmsWithOptions(req *dysms.SendBatchSmsRequest, rt *util.RuntimeOptions) (*dysms.SendBatchSmsResponse, error)
	QuerySendDetailsWithOptions(req *dysms.QuerySendDetailsRequest, rt *util.RuntimeOptions) (*dysms.QuerySendDetailsResponse, error)
}

// Dysmsapi facts the sender relies on.
const (
	codeOK = "OK"
	// maxBatch is the most numbers SendBatchSms takes.
	maxBatch = 100
	// Query paging: PageSize is 1 to 50; more than maxQueryPages pages of
	// one number on one day is not worth reading.
	queryPageSize = 50
	maxQueryPages = 10
	// queryHistory is how far back QuerySendDetails looks.
	queryHistory = 30 * 24 * time.Hour
	// querySlack widens the send time to both sides, so a send close to
	// midnight is looked up on both dates.
	querySlack    = 2 * time.Minute
	sendDateForm  = "20060102"
	aliyunTimeFmt = "2006-01-02 15:04:05"
)

// Codes of failures that carry no Aliyun code. The others are those
// package httpsend gives every HTTP provider's transport failures
// (TIMEOUT, CONNECT_FAILED, DNS_FAILED, TLS_FAILED, CONNECTION_LOST,
// CANCELLED), and HTTP_<status> for a gateway answer without a code.
const (
	// CodeBadAnswer means an answer came that could not be read.
	CodeBadAnswer = "BAD_ANSWER"
)

// SendStatus values of QuerySendDetails.
const (
	sendStatusWaiting   = 1
	sendStatusFailed    = 2
	sendStatusDelivered = 3
)

// Sender sends SMS through one Aliyun account with the official SDK. It is
// safe for concurrent use.
type Sender struct {
	cfg Config
	api smsAPI
	now func() time.Time
}

// NewSender builds a sender for cfg. Defaults are applied to cfg first.
func NewSender(cfg Config, opts ...Option) (*Sender, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	set := newSettings(opts)

	oc := &openapi.Config{
		AccessKeyId:     tea.String(cfg.AccessKeyID),
		AccessKeySecret: tea.String(cfg.AccessKeySecret),
		Protocol:        tea.String(cfg.Protocol),
		// The SDK's only deadline: it becomes http.Client.Timeout, which
		// covers connecting, the request and reading the answer. Without it
		// the SDK waits forever.
		ReadTimeout: tea.Int(int(cfg.Timeout() / time.Millisecond)),
	}
	if cfg.Endpoint != "" {
		oc.Endpoint = tea.String(cfg.Endpoint)
	}
	if cfg.Region != "" {
		oc.RegionId = tea.String(cfg.Region)
	}
	client, err := dysms.NewClient(oc)
	if err != nil {
		return nil, fmt.Errorf("create aliyun sms client: %w", err)
	}
	return &Sender{cfg: cfg, api: client, now: set.now}, nil
}

// newSenderWithAPI builds a sender around a stand-in for the SDK client.
func newSenderWithAPI(cfg Config, api smsAPI, now func() time.Time) *Sender {
	return &Sender{cfg: cfg.withDefaults(), api: api, now: now}
}

// runtimeOptions turns the SDK's own retries off: retrying is the rule
// engine's decision, and SendSms is not idempotent.
func runtimeOptions() *util.RuntimeOptions {
	return &util.RuntimeOptions{Autoretry: tea.Bool(false), MaxAttempts: tea.Int(1)}
}

// prepared is a message checked and turned into SendSms fields.
type prepared struct {
	phone string // wire form
	sign  string
	param string // TemplateParam JSON, "" for none
}

// prepare checks what Herald can check before spending a request. The
// codes are those Aliyun would answer with, so rules treat both alike.
func (s *Sender) prepare(msg providers.Message) (prepared, *providers.Error) {
	phone, err := wireNumber(msg.Receiver)
	if err != nil {
		return prepared{}, &providers.Error{
			Class:   providers.ClassPermanent,
			Code:    "isv.MOBILE_NUMBER_ILLEGAL",
			Message: "receiver is not a valid phone number",
			Err:     err,
		}
	}
	if msg.TemplateCode == "" {
		return prepared{}, providers.Errorf(providers.ClassConfig, "", "no Aliyun template code for this account")
	}
	sign := msg.Signature
	if sign == "" {
		sign = s.cfg.SignName
	}
	if sign == "" {
		return prepared{}, providers.Errorf(providers.ClassConfig, "",
			"Aliyun requires a signature and neither the message nor the account (sign_name) has one")
	}
	param, err := templateParam(msg.Params)
	if err != nil {
		return prepared{}, &providers.Error{Class: providers.ClassConfig, Message: err.Error(), Err: err}
	}
	return prepared{phone: phone, sign: sign, param: param}, nil
}

// templateParam renders params as the JSON object TemplateParam takes:
// names to string values. Aliyun templates are named, so every parameter
// needs a distinct name.
func templateParam(params []providers.Param) (string, error) {
	if len(params) == 0 {
		return "", nil
	}
	obj := make(map[string]string, len(params))
	for i, p := range params {
		if p.Name == "" {
			return "", fmt.Errorf("template parameter %d has no name; Aliyun templates take named parameters", i+1)
		}
		if _, dup := obj[p.Name]; dup {
			return "", fmt.Errorf("template parameter %q is given twice", p.Name)
		}
		obj[p.Name] = p.Value
	}
	b, err := marshalJSON(obj)
	if err != nil {
		return "", fmt.Errorf("encode template parameters: %w", err)
	}
	return string(b), nil
}

// marshalJSON encodes v without escaping <, > and &, so parameter values
// reach Aliyun as written.
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// Send submits msg with SendSms, with OutId = msg.TaskID so receipts and
// QuerySendDetails carry Herald's task id back. The result's
// ProviderMessageID is "<BizId>:<number>", which is what receipts map to.
//
// Failures are *providers.Error: Aliyun's own codes (in the body of an HTTP
// 200 or of a gateway error) are classified with Classify and kept in Code;
// a request that never left is transient; a request that left without a
// readable answer is ClassUnknownOutcome, to be settled with CheckStatus.
func (s *Sender) Send(ctx context.Context, msg providers.Message) (providers.Result, error) {
	p, perr := s.prepare(msg)
	if perr != nil {
		perr.Message = "send sms: " + perr.Message
		return providers.Result{}, perr
	}
	req := &dysms.SendSmsRequest{
		PhoneNumbers: tea.String(p.phone),
		SignName:     tea.String(p.sign),
		TemplateCode: tea.String(msg.TemplateCode),
	}
	if p.param != "" {
		req.TemplateParam = tea.String(p.param)
	}
	if msg.TaskID != "" {
		req.OutId = tea.String(msg.TaskID)
	}
	resp, err := callSDK(ctx, func() (*dysms.SendSmsResponse, error) {
		return s.api.SendSmsWithOptions(req, runtimeOptions())
	})
	if err != nil {
		return providers.Result{}, s.callError("send sms", err)
	}
	if resp == nil || resp.Body == nil {
		return providers.Result{}, providers.Errorf(providers.ClassUnknownOutcome, CodeBadAnswer, "send sms: answer has no body")
	}
	b := resp.Body
	if err := s.businessError("send sms", deref(b.Code), deref(b.Message), deref(b.RequestId)); err != nil {
		return providers.Result{}, err
	}
	res := providers.Result{}
	if biz := deref(b.BizId); biz != "" {
		res.ProviderMessageID = messageID(biz, p.phone)
	}
	return res, nil
}

// businessError turns the Code of an HTTP 200 answer into an error; nil
// means "OK". An answer without a Code cannot be read as an acceptance.
func (s *Sender) businessError(op, code, message, requestID string) *providers.Error {
	switch {
	case strings.EqualFold(code, codeOK):
		return nil
	case code == "":
		return providers.Errorf(providers.ClassUnknownOutcome, CodeBadAnswer, "%s: answer has no Code (request %s)", op, requestID)
	}
	return vendorError(code, op+": "+message, requestID, s.now(), nil)
}

// MaxBatch is the most messages one SendBatch call takes: SendBatchSms
// takes 100 numbers.
func (s *Sender) MaxBatch() int { return maxBatch }

// SendBatch submits msgs with one SendBatchSms request. They must share one
// TemplateCode; each keeps its own signature and parameters. SendBatchSms
// has one OutId for the whole request, so the batch carries none; receipts
// map back through ProviderMessageID "<BizId>:<number>", unique per number
// within the request.
//
// Beside the one request, some messages are sent with SendSms, one by one:
//   - a message whose number already appears in the batch, since its
//     receipt could not be told apart;
//   - all of them, when the batch is the size of one, or when Aliyun
//     refuses the whole batch for a reason that may belong to a single
//     message (a bad number, parameter, signature or template, or
//     per-number flow control). Nothing of a refused batch was sent, so
//     sending each message on its own is safe and gives each its own
//     outcome.
//
// Messages that fail Herald's own checks get their error without a
// request. A returned error means the batch request itself failed or the
// batch mixes templates; no outcome is meaningful then.
func (s *Sender) SendBatch(ctx context.Context, msgs []providers.Message) ([]providers.BatchOutcome, error) {
	if len(msgs) > maxBatch {
		return nil, providers.Errorf(providers.ClassPermanent, "isv.MOBILE_COUNT_OVER_LIMIT",
			"send batch sms: %d messages, SendBatchSms takes at most %d", len(msgs), maxBatch)
	}
	outcomes := make([]providers.BatchOutcome, len(msgs))
	var (
		batch    []int // indexes of msgs in the batch request
		singles  []int // indexes of msgs sent with SendSms
		preps    = make([]prepared, len(msgs))
		seen     = map[string]bool{}
		template string
	)
	for i, m := range msgs {
		p, perr := s.prepare(m)
		if perr != nil {
			perr.Message = "send batch sms: " + perr.Message
			outcomes[i].Err = perr
			continue
		}
		if template == "" {
			template = m.TemplateCode
		} else if m.TemplateCode != template {
			return nil, providers.Errorf(providers.ClassPermanent, "",
				"send batch sms: messages use templates %q and %q; SendBatchSms takes one template", template, m.TemplateCode)
		}
		preps[i] = p
		key := numberKey(p.phone)
		if seen[key] {
			singles = append(singles, i)
			continue
		}
		seen[key] = true
		batch = append(batch, i)
	}

	if len(batch) == 1 {
		singles = append(singles, batch...)
		batch = nil
	}
	if len(batch) > 0 {
		fallback, err := s.sendBatchRequest(ctx, template, batch, preps, outcomes)
		if err != nil {
			return nil, err
		}
		if fallback {
			singles = append(singles, batch...)
		}
	}
	sort.Ints(singles)
	for _, i := range singles {
		if err := ctx.Err(); err != nil {
			outcomes[i].Err = &providers.Error{
				Class:   providers.ClassTransient,
				Code:    httpsend.Classify(err, false, "aliyun").Code,
				Message: fmt.Sprintf("send sms: request not sent: %v", err),
				Err:     err,
			}
			continue
		}
		res, err := s.Send(ctx, msgs[i])
		outcomes[i] = providers.BatchOutcome{Result: res, Err: err}
	}
	return outcomes, nil
}

// sendBatchRequest sends the messages at idx with one SendBatchSms and
// fills their outcomes. fallback reports that Aliyun refused the batch for
// a reason that may belong to one message, so each should be sent alone.
func (s *Sender) sendBatchRequest(ctx context.Context, template string, idx []int, preps []prepared, outcomes []providers.BatchOutcome) (fallback bool, err error) {
	phones := make([]string, len(idx))
	signs := make([]string, len(idx))
	params := make([]json.RawMessage, len(idx))
	anyParams := false
	for j, i := range idx {
		phones[j], signs[j] = preps[i].phone, preps[i].sign
		params[j] = json.RawMessage("{}")
		if preps[i].param != "" {
			params[j] = json.RawMessage(preps[i].param)
			anyParams = true
		}
	}
	phoneJSON, err := marshalJSON(phones)
	if err != nil {
		return false, fmt.Errorf("send batch sms: encode numbers: %w", err)
	}
	signJSON, err := marshalJSON(signs)
	if err != nil {
		return false, fmt.Errorf("send batch sms: encode signatures: %w", err)
	}
	req := &dysms.SendBatchSmsRequest{
		PhoneNumberJson: tea.String(string(phoneJSON)),
		SignNameJson:    tea.String(string(signJSON)),
		TemplateCode:    tea.String(template),
	}
	if anyParams {
		paramJSON, err := marshalJSON(params)
		if err != nil {
			return false, fmt.Errorf("send batch sms: encode parameters: %w", err)
		}
		req.TemplateParamJson = tea.String(string(paramJSON))
	}

	resp, err := callSDK(ctx, func() (*dysms.SendBatchSmsResponse, error) {
		return s.api.SendBatchSmsWithOptions(req, runtimeOptions())
	})
	if err != nil {
		return false, s.callError("send batch sms", err)
	}
	if resp == nil || resp.Body == nil {
		return false, providers.Errorf(providers.ClassUnknownOutcome, CodeBadAnswer, "send batch sms: answer has no body")
	}
	b := resp.Body
	if perr := s.businessError("send batch sms", deref(b.Code), deref(b.Message), deref(b.RequestId)); perr != nil {
		if perMessage(perr) {
			return true, nil
		}
		return false, perr
	}
	biz := deref(b.BizId)
	for _, i := range idx {
		if biz != "" {
			outcomes[i].Result.ProviderMessageID = messageID(biz, preps[i].phone)
		}
	}
	return false, nil
}

// perMessage reports whether a refusal of a whole batch may be caused by
// one of its messages rather than by the account or the service.
func perMessage(err *providers.Error) bool {
	switch err.Class {
	case providers.ClassPermanent, providers.ClassConfig:
		return true
	}
	return err.Code == "isv.BUSINESS_LIMIT_CONTROL"
}

// CheckStatus looks the message up with QuerySendDetails, which answers per
// number and send date for the last 30 days. With a ProviderMessageID the
// query is narrowed to its BizId; otherwise the record whose OutId is the
// task id is taken, which also finds a send whose answer was lost. When
// several records match (several attempts), a delivered one wins, then the
// latest.
//
// The number comes from q.Receiver, or else from the ProviderMessageID. The
// send date is taken from q.SentAt in China time (both dates when the send
// was within two minutes of midnight); without SentAt, today and yesterday
// are searched.
//
// found is false while Aliyun has no final report: no record, or a record
// still waiting for its receipt (SendStatus 1).
func (s *Sender) CheckStatus(ctx context.Context, q providers.StatusQuery) (providers.Receipt, bool, error) {
	bizID, key := splitMessageID(q.ProviderMessageID)
	if bizID == "" && q.TaskID == "" {
		return providers.Receipt{}, false, errors.New("check aliyun status: need a provider message id or a task id")
	}
	phone := key
	if q.Receiver != "" {
		p, err := wireNumber(q.Receiver)
		if err != nil {
			return providers.Receipt{}, false, fmt.Errorf("check aliyun status: receiver: %w", err)
		}
		phone = p
	}
	if phone == "" {
		return providers.Receipt{}, false, errors.New("check aliyun status: need a receiver")
	}

	var best *dysms.QuerySendDetailsResponseBodySmsSendDetailDTOsSmsSendDetailDTO
	for _, date := range s.sendDates(q.SentAt) {
		for page := int64(1); page <= maxQueryPages; page++ {
			req := &dysms.QuerySendDetailsRequest{
				PhoneNumber: tea.String(phone),
				SendDate:    tea.String(date),
				PageSize:    tea.Int64(queryPageSize),
				CurrentPage: tea.Int64(page),
			}
			if bizID != "" {
				req.BizId = tea.String(bizID)
			}
			resp, err := callSDK(ctx, func() (*dysms.QuerySendDetailsResponse, error) {
				return s.api.QuerySendDetailsWithOptions(req, runtimeOptions())
			})
			if err != nil {
				return providers.Receipt{}, false, s.callError("query send details", err)
			}
			if resp == nil || resp.Body == nil {
				break
			}
			b := resp.Body
			if perr := s.businessError("query send details", deref(b.Code), deref(b.Message), deref(b.RequestId)); perr != nil {
				return providers.Receipt{}, false, perr
			}
			var dtos []*dysms.QuerySendDetailsResponseBodySmsSendDetailDTOsSmsSendDetailDTO
			if b.SmsSendDetailDTOs != nil {
				dtos = b.SmsSendDetailDTOs.SmsSendDetailDTO
			}
			for _, d := range dtos {
				if d == nil || (bizID == "" && deref(d.OutId) != q.TaskID && !s.batchedRecord(q, d)) {
					continue
				}
				if best == nil || betterDetail(d, best) {
					best = d
				}
			}
			total, _ := strconv.ParseInt(strings.TrimSpace(deref(b.TotalCount)), 10, 64)
			if len(dtos) < queryPageSize || page*queryPageSize >= total {
				break
			}
		}
	}
	if best == nil {
		return providers.Receipt{}, false, nil
	}
	status := derefInt(best.SendStatus)
	if status != sendStatusDelivered && status != sendStatusFailed && status != sendStatusWaiting {
		return providers.Receipt{}, false, nil
	}
	num := deref(best.PhoneNum)
	if num == "" {
		num = phone
	}
	r := providers.Receipt{
		TaskID:   deref(best.OutId),
		Receiver: e164(numberKey(num)),
		Status:   providers.ReceiptFailed,
		Code:     deref(best.ErrCode),
		At:       s.now().UTC(),
	}
	if bizID != "" {
		r.ProviderMessageID = messageID(bizID, num)
	}
	switch status {
	case sendStatusDelivered:
		r.Status = providers.ReceiptDelivered
	case sendStatusWaiting:
		// Aliyun took the message; its receipt is still to come. Saying
		// so keeps the caller from sending it again.
		r.Status, r.Code = providers.ReceiptPending, ""
	}
	if at, err := time.ParseInLocation(aliyunTimeFmt, deref(best.ReceiveDate), chinaTime()); err == nil {
		r.At = at.UTC()
	}
	return r, true, nil
}

// batchedRecord reports whether d may be the send q asks about when that
// send went out in a batch request: SendBatchSms records carry no OutId,
// so a record without one, sent since q.SentAt, is taken as it.
func (s *Sender) batchedRecord(q providers.StatusQuery, d *dysms.QuerySendDetailsResponseBodySmsSendDetailDTOsSmsSendDetailDTO) bool {
	if !q.Batched || deref(d.OutId) != "" {
		return false
	}
	at, err := time.ParseInLocation(aliyunTimeFmt, deref(d.SendDate), chinaTime())
	return err == nil && !at.Before(q.SentAt.Truncate(time.Second))
}

// sendDates lists the SendDate values (yyyyMMdd, China time) to search.
func (s *Sender) sendDates(sentAt time.Time) []string {
	now := s.now().In(chinaTime())
	if sentAt.IsZero() {
		return []string{now.Format(sendDateForm), now.AddDate(0, 0, -1).Format(sendDateForm)}
	}
	var dates []string
	for _, t := range []time.Time{sentAt.Add(-querySlack), sentAt.Add(querySlack)} {
		t = t.In(chinaTime())
		if t.Before(now.Add(-queryHistory)) || t.After(now.Add(querySlack)) {
			continue
		}
		// Nothing was sent after now, and Aliyun refuses a SendDate after
		// its today: the slack must not reach past midnight in China.
		if t.After(now) {
			t = now
		}
		d := t.Format(sendDateForm)
		if len(dates) == 0 || dates[len(dates)-1] != d {
			dates = append(dates, d)
		}
	}
	return dates
}

// betterDetail reports whether record a should be preferred over b: a
// final report beats a waiting one, a delivery beats a failure, then the
// later report wins.
func betterDetail(a, b *dysms.QuerySendDetailsResponseBodySmsSendDetailDTOsSmsSendDetailDTO) bool {
	rank := func(d *dysms.QuerySendDetailsResponseBodySmsSendDetailDTOsSmsSendDetailDTO) int {
		switch derefInt(d.SendStatus) {
		case sendStatusDelivered:
			return 2
		case sendStatusFailed:
			return 1
		}
		return 0
	}
	if ra, rb := rank(a), rank(b); ra != rb {
		return ra > rb
	}
	// "yyyy-MM-dd HH:mm:ss" sorts as text.
	return deref(a.ReceiveDate) > deref(b.ReceiveDate)
}

// notStartedError is a call that was never made because ctx had ended.
type notStartedError struct{ err error }

func (e notStartedError) Error() string { return "request not sent: " + e.err.Error() }
func (e notStartedError) Unwrap() error { return e.err }

// abandonedError is a call whose answer was not awaited because ctx ended
// while it was in flight.
type abandonedError struct{ err error }

func (e abandonedError) Error() string { return "gave up waiting for the answer: " + e.err.Error() }
func (e abandonedError) Unwrap() error { return e.err }

// callSDK runs call, which takes no context: the SDK has none. When ctx
// ends first, callSDK returns at once and leaves call to finish in the
// background, bounded by the SDK's own timeout.
func callSDK[T any](ctx context.Context, call func() (T, error)) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, notStartedError{err}
	}
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := call()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		return zero, abandonedError{ctx.Err()}
	}
}

// callError classifies a failed SDK call. Aliyun's gateway codes go through
// Classify. Everything else is about the exchange itself, and what matters
// is whether the request may have reached Aliyun: the SDK hides the
// transport, so this is read from the error. Only failures that certainly
// came before the request was written (no connection, no name, a refused
// TLS handshake, a context that had already ended) are transient; the rest
// are unknown outcomes, to be settled with CheckStatus rather than a blind
// resend.
func (s *Sender) callError(op string, err error) *providers.Error {
	var ns notStartedError
	if errors.As(err, &ns) {
		return &providers.Error{Class: providers.ClassTransient, Code: httpsend.Classify(ns.err, false, "aliyun").Code,
			Message: op + ": " + ns.Error(), Err: err}
	}
	var ab abandonedError
	if errors.As(err, &ab) {
		return &providers.Error{
			Class:   providers.ClassUnknownOutcome,
			Code:    httpsend.Classify(ab.err, true, "aliyun").Code,
			Message: fmt.Sprintf("%s: %v; the request may have been acted on", op, ab),
			Err:     err,
		}
	}

	var sdkErr *tea.SDKError
	if errors.As(err, &sdkErr) {
		code := deref(sdkErr.Code)
		if code == "<nil>" {
			// How the SDK renders a gateway answer without a Code.
			code = ""
		}
		status := derefIntPtr(sdkErr.StatusCode)
		if status == 0 {
			// The SDK refused to build the request; nothing left.
			cause := fmt.Errorf("aliyun sdk refused the request (%s)", code)
			return &providers.Error{Class: providers.ClassTransient, Code: code, Message: op + ": " + cause.Error(), Err: cause}
		}
		message, requestID := gatewayDetails(sdkErr)
		// The SDK's error quotes the whole answer, which for a signature
		// mismatch holds the string to sign and so the receiver; only the
		// code and status are kept as the cause.
		cause := fmt.Errorf("aliyun gateway answered HTTP %d %s", status, code)
		if code == "" {
			return &providers.Error{
				Class:   providers.ClassUnknownOutcome,
				Code:    "HTTP_" + strconv.Itoa(status),
				Message: fmt.Sprintf("%s: HTTP %d without an error code; the request may have been acted on", op, status),
				Err:     cause,
			}
		}
		return vendorError(code, fmt.Sprintf("%s: HTTP %d: %s", op, status, message), requestID, s.now(), cause)
	}

	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		// The URL holds the query, and with it the receiver and the
		// parameters; only scheme, host and path are kept.
		err = redactURL(urlErr)
		// The codes are those of every other HTTP provider, so that a rule
		// naming TIMEOUT or CONNECT_FAILED matches Aliyun too.
		code := httpsend.Classify(err, !notWritten(err), "aliyun").Code
		if notWritten(err) {
			return &providers.Error{Class: providers.ClassTransient, Code: code, Message: fmt.Sprintf("%s: request not sent: %v", op, err), Err: err}
		}
		return &providers.Error{
			Class:   providers.ClassUnknownOutcome,
			Code:    code,
			Message: fmt.Sprintf("%s: no answer after the request was sent: %v", op, err),
			Err:     err,
		}
	}
	// A body that is not the JSON object the SDK expects: something
	// answered, but not in a way that says what it did.
	return &providers.Error{
		Class:   providers.ClassUnknownOutcome,
		Code:    CodeBadAnswer,
		Message: fmt.Sprintf("%s: unreadable answer (%v); the request may have been acted on", op, err),
		Err:     err,
	}
}

// redactURL returns a copy of e whose URL has no query string.
func redactURL(e *url.Error) *url.Error {
	out := *e
	if u, perr := url.Parse(e.URL); perr == nil {
		u.RawQuery, u.Fragment, u.User = "", "", nil
		out.URL = u.String()
	} else {
		out.URL = "(unparsable URL)"
	}
	return &out
}

// notWritten reports whether a transport error certainly happened before
// any of the request was written.
func notWritten(err error) bool {
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return true
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		return true
	}
	var (
		certErr     *tls.CertificateVerificationError
		authErr     x509.UnknownAuthorityError
		hostErr     x509.HostnameError
		invalidErr  x509.CertificateInvalidError
		recordError tls.RecordHeaderError
	)
	return errors.As(err, &certErr) || errors.As(err, &authErr) || errors.As(err, &hostErr) ||
		errors.As(err, &invalidErr) || errors.As(err, &recordError)
}

// signatureEcho starts the part of a SignatureDoesNotMatch message that
// quotes the string to sign.
const signatureEcho = "server string to sign is"

// gatewayDetails reads Message and RequestId from a gateway error, without
// the string to sign that a signature mismatch quotes.
func gatewayDetails(e *tea.SDKError) (message, requestID string) {
	var data map[string]any
	if err := json.Unmarshal([]byte(deref(e.Data)), &data); err == nil {
		message, _ = data["Message"].(string)
		requestID, _ = data["RequestId"].(string)
	}
	if i := strings.Index(strings.ToLower(message), signatureEcho); i >= 0 {
		message = strings.TrimRight(strings.TrimSpace(message[:i]), ".:")
	}
	return message, requestID
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func derefInt(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

func derefIntPtr(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}
