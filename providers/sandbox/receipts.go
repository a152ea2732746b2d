package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/heraldhq/herald/providers"
)

// Receipt statuses on the wire.
const (
	StatusDelivered   = "DELIVERED"
	StatusUndelivered = "UNDELIV"
)

// maxReceiptBody bounds a receipt push; the sandbox sends one report at a
// time, and a few hundred bytes each.
const maxReceiptBody = 1 << 20

// Report is one entry of the JSON array the sandbox POSTs to the callback
// URL.
type Report struct {
	MessageID   string `json:"message_id"`
	TaskID      string `json:"task_id"`
	Receiver    string `json:"receiver"`
	Status      string `json:"status"` // StatusDelivered or StatusUndelivered
	Code        string `json:"code"`
	Description string `json:"description"`
	DeliveredAt string `json:"delivered_at"` // RFC 3339
}

func reportOf(r *record) Report {
	status := StatusDelivered
	if r.status != providers.ReceiptDelivered {
		status = StatusUndelivered
	}
	return Report{
		MessageID:   r.messageID,
		TaskID:      r.taskID,
		Receiver:    r.receiver,
		Status:      status,
		Code:        r.code,
		Description: r.description,
		DeliveredAt: r.at.Format(time.RFC3339),
	}
}

// receiptHandler parses the sandbox's receipt pushes. Herald authenticates
// them by the token in the callback URL, so there is nothing to verify
// here.
type receiptHandler struct{}

var _ providers.ReceiptHandler = receiptHandler{}

// ParseReceipts reads a JSON array of Report. Every malformed report is
// named in the error; the push is then refused as a whole.
func (receiptHandler) ParseReceipts(r *http.Request) ([]providers.Receipt, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxReceiptBody+1))
	if err != nil {
		return nil, fmt.Errorf("read sandbox receipts: %w", err)
	}
	if len(body) > maxReceiptBody {
		return nil, fmt.Errorf("parse sandbox receipts: body exceeds %d bytes", maxReceiptBody)
	}
	var reports []Report
	if err := json.Unmarshal(body, &reports); err != nil || reports == nil {
		return nil, errors.New("parse sandbox receipts: body is not a JSON array of receipt objects")
	}
	receipts := make([]providers.Receipt, 0, len(reports))
	var problems []string
	for i, rep := range reports {
		rc, err := rep.receipt()
		if err != nil {
			problems = append(problems, fmt.Sprintf("receipt %d: %v", i, err))
			continue
		}
		receipts = append(receipts, rc)
	}
	if len(problems) > 0 {
		return nil, errors.New("parse sandbox receipts: " + strings.Join(problems, "; "))
	}
	return receipts, nil
}

// Acknowledge answers {"ok":true} with 200, or {"ok":false} with 500 so the
// sandbox pushes again.
func (receiptHandler) Acknowledge(w http.ResponseWriter, ok bool) {
	w.Header().Set("Content-Type", "application/json")
	if ok {
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, `{"ok":true}`)
		return
	}
	w.WriteHeader(http.StatusInternalServerError)
	_, _ = io.WriteString(w, `{"ok":false}`)
}

func (rep Report) receipt() (providers.Receipt, error) {
	var problems []string
	if rep.MessageID == "" {
		problems = append(problems, "message_id is missing")
	}
	var status providers.ReceiptStatus
	switch rep.Status {
	case StatusDelivered:
		status = providers.ReceiptDelivered
	case StatusUndelivered:
		status = providers.ReceiptFailed
	default:
		problems = append(problems, fmt.Sprintf("status must be %s or %s", StatusDelivered, StatusUndelivered))
	}
	at, err := time.Parse(time.RFC3339, rep.DeliveredAt)
	if err != nil {
		problems = append(problems, "delivered_at must be an RFC 3339 time")
	}
	if len(problems) > 0 {
		return providers.Receipt{}, errors.New(strings.Join(problems, ", "))
	}
	return providers.Receipt{
		ProviderMessageID: rep.MessageID,
		TaskID:            rep.TaskID,
		Receiver:          rep.Receiver,
		Status:            status,
		Code:              rep.Code,
		Description:       rep.Description,
		At:                at,
	}, nil
}
