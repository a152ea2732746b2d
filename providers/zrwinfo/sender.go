package zrwinfo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"

	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/providers/httpsend"
)

// API paths under the base URL.
const (
	pathSingleSend = "/api/v2/single_send"
	pathBatchSend  = "/api/v2/send"
	pathStatus     = "/report/status"
)

// Template variables are joined with this separator, in {1}{2}... order.
// Zrwinfo also accepts "$$"; a value may hold neither.
const (
	varSeparator    = "##"
	altVarSeparator = "$$"
)

// maxAnswerBytes bounds how much of an answer is read. Send answers are a
// few dozen bytes; a status pull returns a page of reports.
const maxAnswerBytes = 4 << 20

const userAgent = "Herald-Zrwinfo/1"

// Sender sends SMS through one Zrwinfo account with plain form POSTs. It is
// safe for concurrent use.
type Sender struct {
	cfg       Config
	accountID int64
	client    httpsend.Doer
	now       func() time.Time
	book      *reportBook
	sink      func(accountID int64, receipts []providers.Receipt)
}

// NewSender builds a sender for cfg, which is validated first and given its
// defaults. A sender built this way keeps pulled reports to itself; senders
// built by a Provider share them per Zrwinfo account.
func NewSender(cfg Config, opts ...Option) (*Sender, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return newSender(cfg.withDefaults(), 0, newReportBook(), newSettings(opts)), nil
}

func newSender(cfg Config, accountID int64, book *reportBook, set settings) *Sender {
	var client http.Client
	if set.client != nil {
		client = *set.client
	} else {
		if dt, ok := http.DefaultTransport.(*http.Transport); ok {
			client.Transport = dt.Clone()
		}
	}
	// A redirect is a misconfigured base URL; following it would post the
	// plain-text secret wherever it points (or drop the body on a 302).
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Sender{
		cfg:       cfg,
		accountID: accountID,
		client:    &client,
		now:       set.now,
		book:      book,
		sink:      set.sink,
	}
}

// MaxBatch is the account's batch_size.
func (s *Sender) MaxBatch() int { return s.cfg.BatchSize }

// sendAnswer is what the send APIs add to the result code: the single
// send's smUuid, the batch send's batchId.
type sendAnswer struct {
	SmUUID  looseString `json:"smUuid"`
	BatchID looseString `json:"batchId"`
}

// Send submits msg with the single-send API. The result's
// ProviderMessageID is Zrwinfo's smUuid, which its receipts carry.
//
// Failures are *providers.Error: Zrwinfo's codes are classified with
// Classify (and the account's code_classes) and kept in Code; a request
// that could not be sent is transient; a request that was sent but got no
// readable answer is ClassUnknownOutcome, to be settled with CheckStatus.
func (s *Sender) Send(ctx context.Context, msg providers.Message) (providers.Result, error) {
	p, pe := s.prepare("send sms", msg)
	if pe != nil {
		return providers.Result{}, pe
	}
	form := s.credentials()
	form.Set("sign", p.sign)
	form.Set("templateId", p.template)
	form.Set("mobile", p.mobile)
	form.Set("content", p.content)

	var ans sendAnswer
	if pe := s.call(ctx, "send sms", pathSingleSend, form, &ans); pe != nil {
		return providers.Result{}, pe
	}
	if ans.SmUUID == "" {
		return providers.Result{}, &providers.Error{Class: providers.ClassUnknownOutcome, Code: CodeBadAnswer,
			Message: "send sms: zrwinfo accepted the message but gave no smUuid, so its receipts cannot be matched"}
	}
	return providers.Result{ProviderMessageID: string(ans.SmUUID)}, nil
}

// SendBatch submits msgs with the batch-send API, as one request for one
// template and signature. Messages with the same variables go as a number
// list with one content; otherwise each number gets its own variables
// through the data parameter.
//
// Zrwinfo answers a batch with a batchId only. Each accepted message's
// ProviderMessageID is BatchMessageID(batchId, mobile), which is also how
// the receipt handler and CheckStatus key reports that carry a batchId.
//
// Items that cannot be sent are refused on their own before the request:
// a bad receiver or variable (permanent, as Send refuses them), a template
// or signature other than the first item's (CodeBatchMixed) and a number
// already in the batch (CodeDuplicateReceiver); the last two are transient,
// since nothing was sent and the message can go on its own. When the
// request itself fails, the error is returned on its own if it carried every
// item, and set on each item it carried otherwise, so per-item refusals are
// not lost.
func (s *Sender) SendBatch(ctx context.Context, msgs []providers.Message) ([]providers.BatchOutcome, error) {
	const op = "send sms batch"
	if len(msgs) == 0 {
		return nil, nil
	}
	if len(msgs) > s.MaxBatch() {
		return nil, &providers.Error{Class: providers.ClassTransient, Code: CodeBatchTooLarge,
			Message: fmt.Sprintf("%s: %d messages, the account takes at most %d per batch; nothing was sent", op, len(msgs), s.MaxBatch())}
	}

	outcomes := make([]providers.BatchOutcome, len(msgs))
	var items []int
	var batch []prepared
	seen := make(map[string]bool, len(msgs))
	for i, m := range msgs {
		p, pe := s.prepare(op, m)
		switch {
		case pe != nil:
			outcomes[i].Err = pe
			continue
		case len(batch) > 0 && (p.template != batch[0].template || p.sign != batch[0].sign):
			outcomes[i].Err = &providers.Error{Class: providers.ClassTransient, Code: CodeBatchMixed,
				Message: op + ": not sent: its template or signature differs from the batch's; send it on its own"}
			continue
		case seen[p.mobile]:
			outcomes[i].Err = &providers.Error{Class: providers.ClassTransient, Code: CodeDuplicateReceiver,
				Message: op + ": not sent: the batch already has this number; send it on its own"}
			continue
		}
		seen[p.mobile] = true
		items = append(items, i)
		batch = append(batch, p)
	}
	if len(batch) == 0 {
		return outcomes, nil
	}

	form := s.credentials()
	form.Set("sign", batch[0].sign)
	form.Set("templateId", batch[0].template)
	if sameContent(batch) {
		mobiles := make([]string, len(batch))
		for i, p := range batch {
			mobiles[i] = p.mobile
		}
		form.Set("mobile", strings.Join(mobiles, ","))
		form.Set("content", batch[0].content)
	} else {
		data := make(map[string]string, len(batch))
		for _, p := range batch {
			data[p.mobile] = p.content
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(data); err != nil {
			return nil, &providers.Error{Class: providers.ClassPermanent, Code: CodeInvalidParam,
				Message: op + ": encode the data parameter", Err: err}
		}
		form.Set("data", strings.TrimSpace(buf.String()))
	}

	var ans sendAnswer
	pe := s.call(ctx, op, pathBatchSend, form, &ans)
	if pe == nil && ans.BatchID == "" {
		pe = &providers.Error{Class: providers.ClassUnknownOutcome, Code: CodeBadAnswer,
			Message: op + ": zrwinfo accepted the batch but gave no batchId, so its receipts cannot be matched"}
	}
	if pe != nil {
		if len(batch) == len(msgs) {
			return nil, pe
		}
		for _, i := range items {
			outcomes[i].Err = pe
		}
		return outcomes, nil
	}
	for k, i := range items {
		outcomes[i].Result = providers.Result{ProviderMessageID: BatchMessageID(string(ans.BatchID), batch[k].mobile)}
	}
	return outcomes, nil
}

// BatchMessageID is the ProviderMessageID of the message to mobile in the
// batch batchID: "<batchId>:<mobile>", mobile being the 11-digit mainland
// number. Receipts that carry a batchId are keyed the same way.
func BatchMessageID(batchID, mobile string) string { return batchID + ":" + mobile }

func sameContent(batch []prepared) bool {
	for _, p := range batch[1:] {
		if p.content != batch[0].content {
			return false
		}
	}
	return true
}

// prepared is a message turned into Zrwinfo's parameters.
type prepared struct {
	mobile, template, sign, content string
}

// prepare checks msg and builds its parameters. The checks are the ones
// Zrwinfo would otherwise answer with an unknown code, so Herald does not
// spend a request on them.
func (s *Sender) prepare(op string, msg providers.Message) (prepared, *providers.Error) {
	mobile, err := mainlandMobile(msg.Receiver)
	if err != nil {
		return prepared{}, &providers.Error{Class: providers.ClassPermanent, Code: CodeInvalidReceiver,
			Message: op + ": receiver is not a Chinese mainland mobile number", Err: err}
	}
	if strings.TrimSpace(msg.TemplateCode) == "" {
		return prepared{}, &providers.Error{Class: providers.ClassConfig, Code: CodeNoTemplate,
			Message: op + ": no Zrwinfo template id for this account"}
	}
	sign := msg.Signature
	if strings.TrimSpace(sign) == "" {
		sign = s.cfg.SignName
	}
	if strings.TrimSpace(sign) == "" {
		return prepared{}, &providers.Error{Class: providers.ClassConfig, Code: CodeNoSignature,
			Message: op + ": Zrwinfo needs a signature and neither the message nor the account (sign_name) has one"}
	}
	content, err := joinVariables(msg.Params)
	if err != nil {
		return prepared{}, &providers.Error{Class: providers.ClassPermanent, Code: CodeInvalidParam,
			Message: op + ": " + err.Error()}
	}
	return prepared{mobile: mobile, template: strings.TrimSpace(msg.TemplateCode), sign: signParam(sign), content: content}, nil
}

// joinVariables builds the content parameter: the variable values in
// template order, joined with "##".
func joinVariables(params []providers.Param) (string, error) {
	values := make([]string, len(params))
	for i, p := range params {
		if strings.Contains(p.Value, varSeparator) || strings.Contains(p.Value, altVarSeparator) {
			return "", fmt.Errorf("template variable %q contains %q or %q, which Zrwinfo reads as a separator", p.Name, varSeparator, altVarSeparator)
		}
		values[i] = p.Value
	}
	return strings.Join(values, varSeparator), nil
}

// signParam turns a signature into the sign parameter: a numeric signature
// id or text already in 【】 goes as it is; other text is put in 【】.
func signParam(sign string) string {
	sign = strings.TrimSpace(sign)
	if isDigits(sign) || strings.HasPrefix(sign, "【") {
		return sign
	}
	return "【" + sign + "】"
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// mainlandMobile turns a receiver (+86..., 0086..., 86... or a bare
// number) into the 11-digit number Zrwinfo's domestic API takes.
func mainlandMobile(receiver string) (string, error) {
	if strings.TrimSpace(receiver) == "" {
		return "", errors.New("receiver is empty")
	}
	num, err := phonenumbers.Parse(receiver, "CN")
	if err != nil {
		return "", fmt.Errorf("parse phone number: %w", err)
	}
	if num.GetCountryCode() != 86 || !phonenumbers.IsValidNumber(num) {
		return "", errors.New("not a valid Chinese mainland number")
	}
	switch phonenumbers.GetNumberType(num) {
	case phonenumbers.MOBILE, phonenumbers.FIXED_LINE_OR_MOBILE:
	default:
		return "", errors.New("not a mobile number")
	}
	return phonenumbers.GetNationalSignificantNumber(num), nil
}

func (s *Sender) credentials() url.Values {
	form := url.Values{}
	form.Set("accesskey", s.cfg.AccessKey)
	form.Set("secret", s.cfg.Secret)
	return form
}

// resultAnswer is the part every answer shares.
type resultAnswer struct {
	Code *looseString `json:"code"`
	Msg  looseString  `json:"msg"`
}

// call posts form to path and decodes a successful answer into out. Every
// failure comes back classified: the transport by whether the request was
// written, a status other than 200 by classifyStatus, an unreadable 200 as
// an unknown outcome, and a code other than "0" by the account's classes.
func (s *Sender) call(ctx context.Context, op, path string, form url.Values, out any) *providers.Error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.BaseURL+path, strings.NewReader(form.Encode()))
	if err != nil {
		return &providers.Error{Class: providers.ClassConfig, Code: CodeConnect, Message: op + ": build request; check base_url", Err: err}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded;charset=utf-8")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)

	// Whether the request reached the wire decides between "nothing was
	// sent, try again" and "Zrwinfo may have acted on it".
	resp, wrote, err := httpsend.Do(s.client, req)
	if err != nil {
		pe := httpsend.Classify(err, wrote, "zrwinfo")
		pe.Message = op + ": " + pe.Message
		return pe
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return classifyStatus(op, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes+1))
	if err != nil {
		return &providers.Error{Class: providers.ClassUnknownOutcome, Code: CodeConnectionLost,
			Message: op + ": the answer broke off; the request may have been acted on", Err: err}
	}
	if len(body) > maxAnswerBytes {
		return &providers.Error{Class: providers.ClassUnknownOutcome, Code: CodeBadAnswer,
			Message: fmt.Sprintf("%s: answer larger than %d bytes; the request may have been acted on", op, maxAnswerBytes)}
	}
	var res resultAnswer
	if err := json.Unmarshal(body, &res); err != nil || res.Code == nil {
		// The body is not quoted: it may echo the request.
		return &providers.Error{Class: providers.ClassUnknownOutcome, Code: CodeBadAnswer,
			Message: op + ": HTTP 200 without zrwinfo's JSON result; the request may have been acted on"}
	}
	if code := string(*res.Code); code != codeOK {
		return s.vendorError(op, code, string(res.Msg))
	}
	if err := json.Unmarshal(body, out); err != nil {
		return &providers.Error{Class: providers.ClassUnknownOutcome, Code: CodeBadAnswer,
			Message: op + ": zrwinfo answered success in an unexpected shape", Err: err}
	}
	return nil
}

// looseString decodes a JSON string or number as text, and null as "".
// Zrwinfo documents its fields as strings; a number in their place is no
// reason to lose an answer or a receipt.
type looseString string

func (s *looseString) UnmarshalJSON(b []byte) error {
	switch {
	case bytes.Equal(b, []byte("null")):
		*s = ""
		return nil
	case len(b) > 0 && b[0] == '"':
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = looseString(v)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("want a string, got %s", b)
	}
	*s = looseString(n.String())
	return nil
}
