package aliyun

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/heraldhq/herald/providers"
)

// maxPushBody bounds a SmsReport or SmsUp push; Aliyun batches a few
// hundred small reports at most.
const maxPushBody = 4 << 20

// Answers to a push. Aliyun wants HTTP 200 and a JSON object with a numeric
// code; anything else (non-200, timeout) makes it push again later.
const (
	ackAccepted = `{"code":0,"msg":"接收成功"}`
	ackRefused  = `{"code":1,"msg":"接收失败"}`
)

// ReceiptHandler parses Aliyun's SmsReport HTTP batch push: a JSON array of
// delivery reports, each naming its send by biz_id and phone_number and
// echoing the OutId (Herald's task id) as out_id.
//
// Aliyun does not sign the push. Herald's per-account URL token is the
// only check; a source-address allowlist in front of Herald adds another.
type ReceiptHandler struct {
	now func() time.Time
}

// NewReceiptHandler returns a receipt handler. WithClock sets the time given
// to reports that carry none.
func NewReceiptHandler(opts ...Option) *ReceiptHandler {
	return &ReceiptHandler{now: newSettings(opts).now}
}

// pushedReport is one element of a SmsReport push. sms_size is a string in
// the documentation; numbers are accepted wherever a string is expected,
// since a value in the wrong shape is no reason to lose a receipt. Newer
// definitions of the push add template_code, sign_name, message_id and
// request_id, which are ignored.
type pushedReport struct {
	PhoneNumber looseString `json:"phone_number"`
	SendTime    looseString `json:"send_time"`
	ReportTime  looseString `json:"report_time"`
	Success     *looseBool  `json:"success"`
	ErrCode     looseString `json:"err_code"`
	ErrMsg      looseString `json:"err_msg"`
	SmsSize     looseString `json:"sms_size"`
	BizID       looseString `json:"biz_id"`
	OutID       looseString `json:"out_id"`
	// Content marks an SmsUp element posted to the receipt URL.
	Content *looseString `json:"content"`
}

// ParseReceipts reads the reports in a push. It returns an error, naming
// the first bad report, when the body is not a JSON array of reports with
// a biz_id, a phone_number and a success flag.
//
// ProviderMessageID is "<biz_id>:<number>", the form Send returns; TaskID
// is out_id. At is report_time (China time), or now when it is missing.
func (h *ReceiptHandler) ParseReceipts(r *http.Request) ([]providers.Receipt, error) {
	body, err := readPush(r, "SmsReport")
	if err != nil {
		return nil, err
	}
	var reports []pushedReport
	if err := json.Unmarshal(body, &reports); err != nil {
		return nil, fmt.Errorf("aliyun SmsReport push: decode: %w", err)
	}
	out := make([]providers.Receipt, 0, len(reports))
	for i, rep := range reports {
		rc, err := h.receipt(rep)
		if err != nil {
			return nil, fmt.Errorf("aliyun SmsReport push: report %d: %w", i, err)
		}
		out = append(out, rc)
	}
	return out, nil
}

func (h *ReceiptHandler) receipt(rep pushedReport) (providers.Receipt, error) {
	if rep.BizID == "" && rep.Content != nil {
		return providers.Receipt{}, errors.New("has content and no biz_id: this is an SmsUp (reply) push; set the receipt URL for SmsReport only")
	}
	switch {
	case rep.BizID == "":
		return providers.Receipt{}, errors.New("biz_id is missing")
	case rep.PhoneNumber == "":
		return providers.Receipt{}, errors.New("phone_number is missing")
	case rep.Success == nil:
		return providers.Receipt{}, errors.New("success is missing")
	}
	key := numberKey(string(rep.PhoneNumber))
	rc := providers.Receipt{
		ProviderMessageID: messageID(string(rep.BizID), key),
		TaskID:            string(rep.OutID),
		Receiver:          e164(key),
		Status:            providers.ReceiptFailed,
		Code:              string(rep.ErrCode),
		Description:       string(rep.ErrMsg),
	}
	if *rep.Success {
		rc.Status = providers.ReceiptDelivered
	}
	at, err := parseAliyunTime(string(rep.ReportTime), "report_time", h.now)
	if err != nil {
		return providers.Receipt{}, err
	}
	rc.At = at
	return rc, nil
}

// Acknowledge answers the push: HTTP 200 with {"code":0,"msg":"接收成功"}
// when Herald took the reports, otherwise HTTP 500, so that Aliyun pushes
// them again later.
func (h *ReceiptHandler) Acknowledge(w http.ResponseWriter, ok bool) { acknowledge(w, ok) }

// ReplyHandler parses Aliyun's SmsUp HTTP batch push: a JSON array of
// messages that receivers sent back.
type ReplyHandler struct {
	now func() time.Time
}

// NewReplyHandler returns a reply handler. WithClock sets the time given to
// replies that carry none.
func NewReplyHandler(opts ...Option) *ReplyHandler {
	return &ReplyHandler{now: newSettings(opts).now}
}

// pushedReply is one element of a SmsUp push. sequence_id is a number in
// older documentation and a string in newer; both are taken.
type pushedReply struct {
	PhoneNumber looseString  `json:"phone_number"`
	SendTime    looseString  `json:"send_time"`
	Content     *looseString `json:"content"`
	SignName    looseString  `json:"sign_name"`
	DestCode    looseString  `json:"dest_code"`
	SequenceID  looseString  `json:"sequence_id"`
	// BizID marks an SmsReport element posted to the reply URL.
	BizID looseString `json:"biz_id"`
}

// ParseReplies reads the replies in a push. It returns an error, naming the
// first bad one, when the body is not a JSON array of replies with a
// phone_number and a content.
//
// ExtendCode is dest_code, the extension code the receiver replied to; At
// is send_time (China time), or now when it is missing. Aliyun does not
// link a reply to a send, so ProviderMessageID stays empty.
func (h *ReplyHandler) ParseReplies(r *http.Request) ([]providers.Reply, error) {
	body, err := readPush(r, "SmsUp")
	if err != nil {
		return nil, err
	}
	var replies []pushedReply
	if err := json.Unmarshal(body, &replies); err != nil {
		return nil, fmt.Errorf("aliyun SmsUp push: decode: %w", err)
	}
	out := make([]providers.Reply, 0, len(replies))
	for i, rep := range replies {
		switch {
		case rep.Content == nil && rep.BizID != "":
			return nil, fmt.Errorf("aliyun SmsUp push: reply %d has biz_id and no content: this is an SmsReport (receipt) push; set the reply URL for SmsUp only", i)
		case rep.PhoneNumber == "":
			return nil, fmt.Errorf("aliyun SmsUp push: reply %d: phone_number is missing", i)
		case rep.Content == nil:
			return nil, fmt.Errorf("aliyun SmsUp push: reply %d: content is missing", i)
		}
		at, err := parseAliyunTime(string(rep.SendTime), "send_time", h.now)
		if err != nil {
			return nil, fmt.Errorf("aliyun SmsUp push: reply %d: %w", i, err)
		}
		out = append(out, providers.Reply{
			Receiver:   e164(numberKey(string(rep.PhoneNumber))),
			Content:    string(*rep.Content),
			SignName:   string(rep.SignName),
			ExtendCode: string(rep.DestCode),
			At:         at,
		})
	}
	return out, nil
}

// Acknowledge answers the push like ReceiptHandler.Acknowledge: SmsUp
// expects the same answer.
func (h *ReplyHandler) Acknowledge(w http.ResponseWriter, ok bool) { acknowledge(w, ok) }

func acknowledge(w http.ResponseWriter, ok bool) {
	body, status := ackAccepted, http.StatusOK
	if !ok {
		body, status = ackRefused, http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	// The status line is already out; a failed write leaves nothing to do.
	_, _ = io.WriteString(w, body)
}

// readPush reads a push body and checks that it is a JSON array.
func readPush(r *http.Request, kind string) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxPushBody+1))
	if err != nil {
		return nil, fmt.Errorf("read aliyun %s push: %w", kind, err)
	}
	if len(body) > maxPushBody {
		return nil, fmt.Errorf("aliyun %s push is larger than %d bytes", kind, maxPushBody)
	}
	trimmed := bytes.TrimSpace(body)
	switch {
	case len(trimmed) == 0:
		return nil, fmt.Errorf("aliyun %s push: empty body", kind)
	case trimmed[0] != '[':
		return nil, fmt.Errorf("aliyun %s push: body is not a JSON array", kind)
	}
	return trimmed, nil
}

// parseAliyunTime reads a "yyyy-MM-dd HH:mm:ss" China-time field; empty
// takes now.
func parseAliyunTime(v, field string, now func() time.Time) (time.Time, error) {
	if strings.TrimSpace(v) == "" {
		return now().UTC(), nil
	}
	at, err := time.ParseInLocation(aliyunTimeFmt, strings.TrimSpace(v), chinaTime())
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %q is not %q", field, v, aliyunTimeFmt)
	}
	return at.UTC(), nil
}

// looseString decodes a JSON string or number as text, and null as "".
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

// looseBool decodes true/false, also when sent as the strings "true" and
// "false".
type looseBool bool

func (v *looseBool) UnmarshalJSON(b []byte) error {
	switch strings.ToLower(strings.Trim(string(b), `"`)) {
	case "true":
		*v = true
	case "false":
		*v = false
	default:
		return fmt.Errorf("want true or false, got %s", b)
	}
	return nil
}
