package tencent

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/nyaruka/phonenumbers"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	tcerr "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/errors"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"
	sms "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/sms/v20210111"

	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/providers/httpsend"
)

// smsAPI is the part of the SDK client the sender uses.
type smsAPI interface {
	SendSmsWithContext(ctx context.Context, req *sms.SendSmsRequest) (*sms.SendSmsResponse, error)
	PullSmsSendStatusByPhoneNumberWithContext(ctx context.Context, req *sms.PullSmsSendStatusByPhoneNumberRequest) (*sms.PullSmsSendStatusByPhoneNumberResponse, error)
}

// Tencent's answers that matter to the sender.
const (
	codeOK         = "Ok"
	reportSuccess  = "SUCCESS"
	reportFail     = "FAIL"
	pullLimit      = 100
	pullMaxHistory = 7 * 24 * time.Hour
	// pullSlack opens the status window a little before the send, so
	// clocks a little apart do not hide a report.
	pullSlack = time.Minute
)

// Sender sends SMS through one Tencent Cloud account with the official SDK.
// It is safe for concurrent use.
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

	cpf := profile.NewClientProfile()
	cpf.HttpProfile.Endpoint = cfg.Endpoint
	cpf.HttpProfile.Scheme = cfg.Scheme
	cpf.HttpProfile.ReqTimeout = cfg.TimeoutSeconds
	// The region breaker may re-route a request to a backup endpoint; a
	// send must go where the account is configured, so it stays off even if
	// the SDK's default changes.
	cpf.DisableRegionBreaker = true
	// Retries are the rule engine's decision, never the SDK's.
	cpf.NetworkFailureMaxRetries = 0
	cpf.RateLimitExceededMaxRetries = 0
	cpf.Language = "en-US"

	client, err := sms.NewClient(common.NewCredential(cfg.SecretID, cfg.SecretKey), cfg.Region, cpf)
	if err != nil {
		return nil, fmt.Errorf("create tencent sms client: %w", err)
	}
	base := set.transport
	if base == nil {
		if dt, ok := http.DefaultTransport.(*http.Transport); ok {
			base = dt.Clone()
		} else {
			base = http.DefaultTransport
		}
	}
	client.WithHttpTransport(&observedTransport{base: base})
	return &Sender{cfg: cfg, api: client, now: set.now}, nil
}

// newSenderWithAPI builds a sender around a stand-in for the SDK client.
func newSenderWithAPI(cfg Config, api smsAPI, now func() time.Time) *Sender {
	return &Sender{cfg: cfg.withDefaults(), api: api, now: now}
}

// Send submits msg with SendSms. Failures are *providers.Error: Tencent's
// own codes are classified with Classify and kept in Code; a request that
// could not be sent is transient; a request that was sent but got no
// readable answer is ClassUnknownOutcome, to be settled with CheckStatus.
func (s *Sender) Send(ctx context.Context, msg providers.Message) (providers.Result, error) {
	p, perr := s.prepare(msg)
	if perr != nil {
		return providers.Result{}, perr
	}
	outs := s.sendRequest(ctx, []prepared{p}, msg.TaskID)
	return outs[0].Result, outs[0].Err
}

// maxBatch is the most numbers one SendSms takes.
const maxBatch = 200

// MaxBatch implements providers.BatchSender.
func (s *Sender) MaxBatch() int { return maxBatch }

// SendBatch implements providers.BatchSender. Messages that share their
// template, signature and parameters, and are all mainland or all
// international numbers (Tencent refuses a mix), go out in one SendSms
// with every number in PhoneNumberSet; Tencent answers per number. A
// number that comes twice goes in a later request, so each answer names
// one message. A request that failed as a whole is the outcome of each of
// its messages.
//
// Batch requests carry no SessionContext: a request has one, which would
// name one task for all its numbers. Their receipts are matched by
// SerialNo, and CheckStatus finds a batched send by number and time
// (StatusQuery.Batched).
func (s *Sender) SendBatch(ctx context.Context, msgs []providers.Message) ([]providers.BatchOutcome, error) {
	if len(msgs) > maxBatch {
		return nil, providers.Errorf(providers.ClassPermanent, "LimitExceeded.PhoneNumberCountLimit",
			"send sms: %d messages, SendSms takes at most %d numbers", len(msgs), maxBatch)
	}
	outcomes := make([]providers.BatchOutcome, len(msgs))
	type group struct {
		idx   []int
		preps []prepared
		seen  map[string]bool
	}
	var groups []*group
	open := map[string][]*group{}
	for i, m := range msgs {
		p, perr := s.prepare(m)
		if perr != nil {
			outcomes[i].Err = perr
			continue
		}
		key := p.requestKey()
		var g *group
		for _, cand := range open[key] {
			if !cand.seen[p.phone] {
				g = cand
				break
			}
		}
		if g == nil {
			g = &group{seen: map[string]bool{}}
			groups = append(groups, g)
			open[key] = append(open[key], g)
		}
		g.idx, g.preps = append(g.idx, i), append(g.preps, p)
		g.seen[p.phone] = true
	}
	for _, g := range groups {
		if err := ctx.Err(); err != nil {
			for _, i := range g.idx {
				outcomes[i].Err = &providers.Error{Class: providers.ClassTransient, Code: "REQUEST_NOT_SENT",
					Message: fmt.Sprintf("send sms: request not sent: %v", err), Err: err}
			}
			continue
		}
		taskID := ""
		if len(g.idx) == 1 {
			taskID = msgs[g.idx[0]].TaskID
		}
		for j, o := range s.sendRequest(ctx, g.preps, taskID) {
			outcomes[g.idx[j]] = o
		}
	}
	return outcomes, nil
}

// prepared is a message checked and put in SendSms's terms.
type prepared struct {
	phone    string
	mainland bool
	template string
	sign     string
	params   []string
}

// requestKey is what messages must share to go in one SendSms.
func (p prepared) requestKey() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%t\x00%s\x00%s", p.mainland, p.template, p.sign)
	for _, v := range p.params {
		b.WriteString("\x00")
		b.WriteString(v)
	}
	return b.String()
}

// prepare checks msg before any request is spent on it; its failures
// carry the codes Tencent would answer with, so rules treat both alike.
func (s *Sender) prepare(msg providers.Message) (prepared, *providers.Error) {
	phone, mainland, err := normalizePhone(msg.Receiver)
	if err != nil {
		return prepared{}, &providers.Error{
			Class:   providers.ClassPermanent,
			Code:    "InvalidParameterValue.IncorrectPhoneNumber",
			Message: "send sms: receiver is not a valid phone number",
			Err:     err,
		}
	}
	if msg.TemplateCode == "" {
		return prepared{}, providers.Errorf(providers.ClassConfig, "",
			"send sms: no Tencent template id for this account")
	}
	sign := msg.Signature
	if sign == "" {
		sign = s.cfg.SignName
	}
	if sign == "" && mainland {
		return prepared{}, providers.Errorf(providers.ClassConfig, "",
			"send sms: a signature is required for Chinese mainland numbers and the account has no sign_name")
	}
	p := prepared{phone: phone, mainland: mainland, template: msg.TemplateCode, sign: sign}
	for _, v := range msg.Params {
		p.params = append(p.params, v.Value)
	}
	return p, nil
}

// sendRequest sends ps, which share their requestKey, in one SendSms and
// returns each one's outcome, matched by number. taskID, when set, goes
// as SessionContext.
func (s *Sender) sendRequest(ctx context.Context, ps []prepared, taskID string) []providers.BatchOutcome {
	outs := make([]providers.BatchOutcome, len(ps))
	all := func(err error) []providers.BatchOutcome {
		for i := range outs {
			outs[i].Err = err
		}
		return outs
	}
	first := ps[0]
	req := sms.NewSendSmsRequest()
	req.PhoneNumberSet = make([]*string, len(ps))
	for i, p := range ps {
		req.PhoneNumberSet[i] = common.StringPtr(p.phone)
	}
	req.SmsSdkAppId = common.StringPtr(s.cfg.SdkAppID)
	req.TemplateId = common.StringPtr(first.template)
	if first.sign != "" {
		req.SignName = common.StringPtr(first.sign)
	}
	if len(first.params) > 0 {
		req.TemplateParamSet = common.StringPtrs(first.params)
	}
	if taskID != "" {
		req.SessionContext = common.StringPtr(taskID)
	}

	ex := &exchange{}
	resp, err := s.api.SendSmsWithContext(withExchange(ctx, ex), req)
	if err != nil {
		return all(s.callError("send sms", err, ex))
	}
	if resp == nil || resp.Response == nil {
		// A 200 without a per-number status: Tencent may or may not have
		// taken the messages.
		return all(providers.Errorf(providers.ClassUnknownOutcome, "", "send sms: answer has no SendStatusSet"))
	}
	byPhone := make(map[string]*sms.SendStatus, len(resp.Response.SendStatusSet))
	for _, st := range resp.Response.SendStatusSet {
		if st != nil {
			byPhone[deref(st.PhoneNumber)] = st
		}
	}
	for i, p := range ps {
		st, ok := byPhone[p.phone]
		if !ok && len(ps) == 1 && len(resp.Response.SendStatusSet) == 1 {
			// One number asked, one answered, written differently.
			st, ok = resp.Response.SendStatusSet[0], resp.Response.SendStatusSet[0] != nil
		}
		if !ok {
			outs[i].Err = providers.Errorf(providers.ClassUnknownOutcome, "",
				"send sms: answer has no status for the number")
			continue
		}
		if code := deref(st.Code); !strings.EqualFold(code, codeOK) {
			outs[i].Err = vendorError(code, "send sms: "+deref(st.Message), deref(resp.Response.RequestId), s.now(), nil)
			continue
		}
		outs[i].Result.ProviderMessageID = deref(st.SerialNo)
		if st.Fee != nil {
			outs[i].Result.Fee = int(*st.Fee)
		}
	}
	return outs
}

// CheckStatus looks the message up with PullSmsSendStatusByPhoneNumber over
// [SentAt-1m, now] (at most the seven days Tencent keeps). It matches the
// report by SerialNo first, then by SessionContext == TaskID, which also
// finds sends whose answer was lost, or, for a send that may have gone out
// in a batch request (q.Batched), a report without SessionContext. When
// several reports match (several attempts), a delivered one wins.
//
// found is false when Tencent has no report yet; a message that was
// accepted but not yet reported by the carrier looks the same.
func (s *Sender) CheckStatus(ctx context.Context, q providers.StatusQuery) (providers.Receipt, bool, error) {
	if q.ProviderMessageID == "" && q.TaskID == "" {
		return providers.Receipt{}, false, errors.New("check tencent status: need a provider message id or a task id")
	}
	phone, _, err := normalizePhone(q.Receiver)
	if err != nil {
		return providers.Receipt{}, false, fmt.Errorf("check tencent status: receiver: %w", err)
	}
	now := s.now()
	begin := q.SentAt.Add(-pullSlack)
	if earliest := now.Add(-pullMaxHistory + pullSlack); q.SentAt.IsZero() || begin.Before(earliest) {
		begin = earliest
	}
	if begin.After(now) {
		begin = now.Add(-pullSlack)
	}

	req := sms.NewPullSmsSendStatusByPhoneNumberRequest()
	req.BeginTime = common.Uint64Ptr(uint64(begin.Unix()))
	req.EndTime = common.Uint64Ptr(uint64(now.Unix()))
	req.Offset = common.Uint64Ptr(0)
	req.Limit = common.Uint64Ptr(pullLimit)
	req.PhoneNumber = common.StringPtr(phone)
	req.SmsSdkAppId = common.StringPtr(s.cfg.SdkAppID)

	ex := &exchange{}
	resp, err := s.api.PullSmsSendStatusByPhoneNumberWithContext(withExchange(ctx, ex), req)
	if err != nil {
		return providers.Receipt{}, false, s.callError("pull sms status", err, ex)
	}
	if resp == nil || resp.Response == nil {
		return providers.Receipt{}, false, nil
	}

	var byTask *sms.PullSmsSendStatus
	for _, st := range resp.Response.PullSmsSendStatusSet {
		if st == nil {
			continue
		}
		status := deref(st.ReportStatus)
		if status != reportSuccess && status != reportFail {
			continue
		}
		if q.ProviderMessageID != "" && deref(st.SerialNo) == q.ProviderMessageID {
			return pulledReceipt(st), true, nil
		}
		switch {
		case q.TaskID != "" && deref(st.SessionContext) == q.TaskID:
		case q.Batched && deref(st.SessionContext) == "":
			// A batch request carries no task id; a record without one,
			// in the window from SentAt, is taken as the send.
		default:
			continue
		}
		if byTask == nil || betterReport(st, byTask) {
			byTask = st
		}
	}
	if byTask == nil {
		return providers.Receipt{}, false, nil
	}
	return pulledReceipt(byTask), true, nil
}

// betterReport reports whether a should be preferred over b among reports
// for one task: a delivery beats a failure, then the later report wins.
func betterReport(a, b *sms.PullSmsSendStatus) bool {
	as, bs := deref(a.ReportStatus) == reportSuccess, deref(b.ReportStatus) == reportSuccess
	if as != bs {
		return as
	}
	return derefUint(a.UserReceiveTime) > derefUint(b.UserReceiveTime)
}

func pulledReceipt(st *sms.PullSmsSendStatus) providers.Receipt {
	r := providers.Receipt{
		ProviderMessageID: deref(st.SerialNo),
		TaskID:            deref(st.SessionContext),
		Receiver:          deref(st.PhoneNumber),
		Status:            providers.ReceiptFailed,
		// The pull API has only Description, which holds the carrier's
		// status code (DELIVRD on success).
		Code: deref(st.Description),
	}
	if deref(st.ReportStatus) == reportSuccess {
		r.Status = providers.ReceiptDelivered
	}
	if t := derefUint(st.UserReceiveTime); t > 0 {
		r.At = time.Unix(int64(t), 0).UTC()
	}
	return r
}

// callError classifies a failed SDK call. Tencent's own codes go through
// Classify. Everything else is a transport or decoding failure, and what
// matters is whether the request left this process: if it did not, nothing
// can have been sent; if it did, the send may have happened.
func (s *Sender) callError(op string, err error, ex *exchange) *providers.Error {
	var sdkErr *tcerr.TencentCloudSDKError
	isSDK := errors.As(err, &sdkErr)
	if isSDK && !strings.HasPrefix(sdkErr.Code, "ClientError.") {
		return vendorError(sdkErr.Code, op+": "+sdkErr.Message, sdkErr.RequestId, s.now(), sdkErr)
	}
	code := ""
	if isSDK {
		code = sdkErr.Code
	}
	written, status, transportErr := ex.snapshot()
	if !written {
		cause := transportErr
		if cause == nil {
			cause = err
		}
		return &providers.Error{
			Class:   providers.ClassTransient,
			Code:    code,
			Message: fmt.Sprintf("%s: request not sent: %v", op, cause),
			Err:     cause,
		}
	}
	if status != 0 {
		// The SDK's own message quotes the body, which may hold phone
		// numbers; only the status is kept.
		cause := fmt.Errorf("HTTP %d with an unreadable answer (%s)", status, code)
		return &providers.Error{
			Class:   providers.ClassUnknownOutcome,
			Code:    code,
			Message: fmt.Sprintf("%s: %v; the request may have been acted on", op, cause),
			Err:     cause,
		}
	}
	cause := transportErr
	if cause == nil {
		cause = err
	}
	return &providers.Error{
		Class:   providers.ClassUnknownOutcome,
		Code:    code,
		Message: fmt.Sprintf("%s: no answer after the request was sent: %v", op, cause),
		Err:     cause,
	}
}

// exchange records what happened to one SDK call on the wire. The SDK turns
// every transport failure into a string, so the sender watches the request
// itself to tell "never sent" from "sent, answer lost".
type exchange struct {
	mu      sync.Mutex
	written bool
	status  int
	err     error
}

func (e *exchange) wrote() {
	e.mu.Lock()
	e.written = true
	e.mu.Unlock()
}

func (e *exchange) finished(resp *http.Response, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if resp != nil {
		e.status = resp.StatusCode
	}
	if err != nil {
		e.err = err
	}
}

func (e *exchange) snapshot() (written bool, status int, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.written, e.status, e.err
}

type exchangeKey struct{}

func withExchange(ctx context.Context, ex *exchange) context.Context {
	return context.WithValue(ctx, exchangeKey{}, ex)
}

// observedTransport reports to the call's exchange whether the request was
// fully written and what came back.
type observedTransport struct {
	base http.RoundTripper
}

func (t *observedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ex, _ := req.Context().Value(exchangeKey{}).(*exchange)
	if ex == nil {
		return t.base.RoundTrip(req)
	}
	// A request counts as sent once net/http has put the whole of it in
	// the connection's buffer; httpsend.TraceWrite says why that is the
	// safe side.
	resp, err := t.base.RoundTrip(req.WithContext(httpsend.TraceWrite(req.Context(), ex.wrote)))
	ex.finished(resp, err)
	return resp, err
}

// normalizePhone turns a receiver into E.164. Bare mainland numbers (no
// country code) are accepted, as Tencent does.
func normalizePhone(receiver string) (e164 string, mainland bool, err error) {
	if strings.TrimSpace(receiver) == "" {
		return "", false, errors.New("receiver is empty")
	}
	num, err := phonenumbers.Parse(receiver, "CN")
	if err != nil {
		return "", false, fmt.Errorf("parse phone number: %w", err)
	}
	if !phonenumbers.IsPossibleNumber(num) {
		return "", false, errors.New("not a possible phone number")
	}
	return phonenumbers.Format(num, phonenumbers.E164), num.GetCountryCode() == 86, nil
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func derefUint(p *uint64) uint64 {
	if p == nil {
		return 0
	}
	return *p
}
