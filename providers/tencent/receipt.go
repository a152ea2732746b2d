package tencent

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

// maxReceiptBody bounds a receipt push. Tencent sends at most 100 reports
// per push, a few hundred bytes each.
const maxReceiptBody = 1 << 20

// receiptTimeLayout is the layout of user_receive_time, in China time.
const receiptTimeLayout = "2006-01-02 15:04:05"

// ReceiptHandler parses Tencent's delivery-status push (短信下发状态通知):
// a JSON array of reports, each linked to a send by sid == SerialNo and,
// when Tencent has enabled it for the account, by ext == SessionContext
// (Herald's task id).
type ReceiptHandler struct {
	now func() time.Time
}

// NewReceiptHandler returns a receipt handler. WithClock sets the time given
// to reports that carry none.
func NewReceiptHandler(opts ...Option) *ReceiptHandler {
	return &ReceiptHandler{now: newSettings(opts).now}
}

// pushedReport is one element of the push. Tencent documents every field as
// a string; nationcode and mobile are accepted as numbers too, since a
// number in the wrong shape is no reason to lose a receipt.
type pushedReport struct {
	UserReceiveTime looseString `json:"user_receive_time"`
	NationCode      looseString `json:"nationcode"`
	Mobile          looseString `json:"mobile"`
	ReportStatus    looseString `json:"report_status"`
	ErrMsg          looseString `json:"errmsg"`
	Description     looseString `json:"description"`
	SID             looseString `json:"sid"`
	Ext             looseString `json:"ext"`
}

// ParseReceipts reads the reports in a push. It returns an error, naming
// the first bad report, when the body is not a JSON array of reports with a
// sid and a report_status of SUCCESS or FAIL.
func (h *ReceiptHandler) ParseReceipts(r *http.Request) ([]providers.Receipt, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxReceiptBody+1))
	if err != nil {
		return nil, fmt.Errorf("read tencent receipt push: %w", err)
	}
	if len(body) > maxReceiptBody {
		return nil, fmt.Errorf("tencent receipt push is larger than %d bytes", maxReceiptBody)
	}
	return h.parse(body)
}

func (h *ReceiptHandler) parse(body []byte) ([]providers.Receipt, error) {
	trimmed := bytes.TrimSpace(body)
	switch {
	case len(trimmed) == 0:
		return nil, errors.New("tencent receipt push: empty body")
	case trimmed[0] == '{':
		// The reply callback (短信回复) posts a single object; a URL set up
		// for the wrong callback is the usual cause.
		return nil, errors.New("tencent receipt push: body is a JSON object, want an array of status reports (is this the reply callback?)")
	case trimmed[0] != '[':
		return nil, errors.New("tencent receipt push: body is not a JSON array")
	}
	var reports []pushedReport
	if err := json.Unmarshal(trimmed, &reports); err != nil {
		return nil, fmt.Errorf("tencent receipt push: decode: %w", err)
	}
	out := make([]providers.Receipt, 0, len(reports))
	for i, rep := range reports {
		rc, err := h.receipt(rep)
		if err != nil {
			return nil, fmt.Errorf("tencent receipt push: report %d: %w", i, err)
		}
		out = append(out, rc)
	}
	return out, nil
}

func (h *ReceiptHandler) receipt(rep pushedReport) (providers.Receipt, error) {
	if rep.SID == "" {
		return providers.Receipt{}, errors.New("sid is missing")
	}
	rc := providers.Receipt{
		ProviderMessageID: string(rep.SID),
		TaskID:            string(rep.Ext),
		Code:              string(rep.ErrMsg),
		Description:       string(rep.Description),
	}
	switch strings.ToUpper(string(rep.ReportStatus)) {
	case reportSuccess:
		rc.Status = providers.ReceiptDelivered
	case reportFail:
		rc.Status = providers.ReceiptFailed
	default:
		return providers.Receipt{}, fmt.Errorf("report_status %q is not SUCCESS or FAIL", string(rep.ReportStatus))
	}
	if rep.Mobile != "" {
		rc.Receiver = string(rep.Mobile)
		if rep.NationCode != "" && !strings.HasPrefix(rc.Receiver, "+") {
			rc.Receiver = "+" + string(rep.NationCode) + rc.Receiver
		}
	}
	if rep.UserReceiveTime == "" {
		rc.At = h.now().UTC()
		return rc, nil
	}
	at, err := time.ParseInLocation(receiptTimeLayout, string(rep.UserReceiveTime), chinaTime())
	if err != nil {
		return providers.Receipt{}, fmt.Errorf("user_receive_time %q is not %q", string(rep.UserReceiveTime), receiptTimeLayout)
	}
	rc.At = at.UTC()
	return rc, nil
}

// ackBody is the answer Tencent expects; result 0 means accepted.
type ackBody struct {
	Result int    `json:"result"`
	ErrMsg string `json:"errmsg"`
}

// Acknowledge answers the push: {"result":0,"errmsg":"OK"} with HTTP 200
// when Herald took the reports, otherwise a non-zero result with HTTP 500 so
// that Tencent pushes them again (it retries twice).
func (h *ReceiptHandler) Acknowledge(w http.ResponseWriter, ok bool) {
	body, status := ackBody{Result: 0, ErrMsg: "OK"}, http.StatusOK
	if !ok {
		body, status = ackBody{Result: 1, ErrMsg: "receipts not accepted"}, http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	// The status line is already out; a failed write leaves nothing to do.
	_ = json.NewEncoder(w).Encode(body)
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
