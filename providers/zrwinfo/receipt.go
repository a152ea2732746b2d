package zrwinfo

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/providers"
)

// What Zrwinfo's status-report push looks like is known only from
// integrators: form fields, with a content type written as
// "application/form-data;charset=utf-8", and JSON in an older version. The
// handler therefore reads the body by its shape, not its declared type, and
// takes every form it has been reported in (see parseBody). What it answers
// is not documented either: integrators answer HTTP 200 with the body
// below, which is kept in these constants so a correction is one edit.
const (
	ackContentType = "application/json;charset=utf-8"
	ackOKBody      = `{"code":"0","msg":"SUCCESS"}`
	ackFailBody    = `{"code":"1","msg":"FAIL"}`
	// ackFailStatus asks Zrwinfo to push again; its retry policy is
	// unknown, and a non-200 answer is the one signal every pusher honours.
	ackFailStatus = http.StatusInternalServerError
)

// matchBySmUUIDToo makes a report that carries both a batchId and an
// smUuid come out as two receipts: one keyed BatchMessageID(batchId,
// mobile), which a batch send recorded, and one keyed smUuid, which a
// single send recorded. Whether single-send reports carry a batchId is not
// documented; with both keys a report matches whichever send it belongs
// to, and Herald skips the receipt whose key it does not know. Set it to
// false once Zrwinfo confirms single-send reports never carry a batchId.
const matchBySmUUIDToo = true

// Report fields.
const (
	fieldSmUUID        = "smUuid"
	fieldMobile        = "mobile"
	fieldBatchID       = "batchId"
	fieldDeliverResult = "deliverResult"
	fieldDeliverTime   = "deliverTime"
)

// Delivery results. Anything other than these is a carrier failure code
// (UNDELIV, EXPIRED, MK:0001, ...), kept in Receipt.Code.
const (
	resultDelivered = "DELIVRD"
	resultRejected  = "REJECTD"
)

// deliverTimeLayout is the layout of deliverTime, in China time.
const deliverTimeLayout = "2006-01-02 15:04:05"

// maxReceiptBody bounds a receipt push.
const maxReceiptBody = 1 << 20

// ReceiptHandler parses Zrwinfo's status-report push (状态报告推送). Pushes
// are not signed; Herald's callback token is the only check.
type ReceiptHandler struct {
	now func() time.Time
}

// NewReceiptHandler returns a receipt handler. WithClock sets the time given
// to reports that carry none.
func NewReceiptHandler(opts ...Option) *ReceiptHandler {
	return &ReceiptHandler{now: newSettings(opts).now}
}

// report is one status report, pushed or pulled.
type report struct {
	SmUUID        looseString `json:"smUuid"`
	Mobile        looseString `json:"mobile"`
	BatchID       looseString `json:"batchId"`
	DeliverResult looseString `json:"deliverResult"`
	DeliverTime   looseString `json:"deliverTime"`
}

// ParseReceipts reads the reports in a push: form fields (URL-encoded or
// multipart), a JSON object, a JSON array of objects, or an object whose
// "data" holds that array; an empty body falls back to the query string.
// It returns an error naming the first bad report when a report has
// neither an smUuid nor a batchId and mobile, or no deliverResult.
func (h *ReceiptHandler) ParseReceipts(r *http.Request) ([]providers.Receipt, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxReceiptBody+1))
	if err != nil {
		return nil, fmt.Errorf("read zrwinfo receipt push: %w", err)
	}
	if len(body) > maxReceiptBody {
		return nil, fmt.Errorf("zrwinfo receipt push is larger than %d bytes", maxReceiptBody)
	}
	reports, err := parseBody(r.Header.Get("Content-Type"), body, r.URL.Query())
	if err != nil {
		return nil, fmt.Errorf("zrwinfo receipt push: %w", err)
	}
	return receiptsOf(reports, h.now)
}

func receiptsOf(reports []report, now func() time.Time) ([]providers.Receipt, error) {
	out := make([]providers.Receipt, 0, len(reports))
	for i, rep := range reports {
		rs, err := rep.receipts(now)
		if err != nil {
			return nil, fmt.Errorf("zrwinfo receipt push: report %d: %w", i, err)
		}
		out = append(out, rs...)
	}
	return out, nil
}

// parseBody reads reports from a push body of any shape Zrwinfo has been
// seen to use. The declared content type only gives a multipart boundary;
// the rest is told by the body itself.
func parseBody(contentType string, body []byte, query url.Values) ([]report, error) {
	trimmed := bytes.TrimSpace(body)
	mediaType, params, _ := mime.ParseMediaType(contentType)
	boundary := params["boundary"]
	if !strings.HasPrefix(mediaType, "multipart/") {
		boundary = ""
	}
	if boundary == "" {
		// "application/form-data" may be multipart without its boundary
		// parameter; the body's first line names it.
		boundary = sniffBoundary(trimmed)
	}
	switch {
	case boundary != "":
		form, err := multipart.NewReader(bytes.NewReader(trimmed), boundary).ReadForm(maxReceiptBody)
		if err != nil {
			return nil, fmt.Errorf("decode multipart form: %w", err)
		}
		defer func() { _ = form.RemoveAll() }()
		return []report{reportFromForm(form.Value)}, nil
	case len(trimmed) == 0:
		if query.Get(fieldSmUUID) == "" && query.Get(fieldBatchID) == "" {
			return nil, errors.New("empty body")
		}
		return []report{reportFromForm(query)}, nil
	case trimmed[0] == '[':
		var reports []report
		if err := json.Unmarshal(trimmed, &reports); err != nil {
			return nil, fmt.Errorf("decode JSON array: %w", err)
		}
		if len(reports) == 0 {
			return nil, errors.New("JSON array holds no report")
		}
		return reports, nil
	case trimmed[0] == '{':
		var wrapped struct {
			Data []report `json:"data"`
		}
		if json.Unmarshal(trimmed, &wrapped) == nil && len(wrapped.Data) > 0 {
			return wrapped.Data, nil
		}
		var rep report
		if err := json.Unmarshal(trimmed, &rep); err != nil {
			return nil, fmt.Errorf("decode JSON object: %w", err)
		}
		return []report{rep}, nil
	}
	values, err := url.ParseQuery(string(trimmed))
	if err != nil {
		return nil, fmt.Errorf("decode form body: %w", err)
	}
	return []report{reportFromForm(values)}, nil
}

// sniffBoundary returns the boundary a multipart body opens with
// ("--<boundary>\r\n"), or "".
func sniffBoundary(body []byte) string {
	if !bytes.HasPrefix(body, []byte("--")) {
		return ""
	}
	line, _, found := bytes.Cut(body[2:], []byte("\n"))
	if !found {
		return ""
	}
	b := string(bytes.TrimRight(line, "\r"))
	if b == "" || len(b) > 70 || strings.ContainsAny(b, " \t") {
		return ""
	}
	return b
}

func reportFromForm(v url.Values) report {
	get := func(k string) looseString {
		if vs := v[k]; len(vs) > 0 {
			return looseString(vs[0])
		}
		return ""
	}
	return report{
		SmUUID:        get(fieldSmUUID),
		Mobile:        get(fieldMobile),
		BatchID:       get(fieldBatchID),
		DeliverResult: get(fieldDeliverResult),
		DeliverTime:   get(fieldDeliverTime),
	}
}

// receipts turns one report into its receipts: keyed by
// BatchMessageID(batchId, mobile) when it carries a batchId, by smUuid
// otherwise, and by both when matchBySmUUIDToo says so. The first receipt
// is the report's primary one.
func (rep report) receipts(now func() time.Time) ([]providers.Receipt, error) {
	smUUID := strings.TrimSpace(string(rep.SmUUID))
	batchID := strings.TrimSpace(string(rep.BatchID))
	rawMobile := strings.TrimSpace(string(rep.Mobile))
	result := strings.TrimSpace(string(rep.DeliverResult))

	// A number in a shape Herald does not read (masked, say) only costs the
	// batch key; the smUuid may still match.
	mobile, _ := mainlandMobile(rawMobile)
	var keys []string
	if batchID != "" && mobile != "" {
		keys = append(keys, BatchMessageID(batchID, mobile))
	}
	if smUUID != "" && (len(keys) == 0 || matchBySmUUIDToo) {
		keys = append(keys, smUUID)
	}
	if len(keys) == 0 {
		if batchID != "" {
			return nil, errors.New("batchId without a readable mobile, and no smUuid")
		}
		return nil, errors.New("neither smUuid nor batchId is set")
	}
	if result == "" {
		return nil, errors.New("deliverResult is missing")
	}
	at, err := parseDeliverTime(string(rep.DeliverTime), now)
	if err != nil {
		return nil, err
	}
	base := providers.Receipt{
		Status: statusOf(result),
		Code:   result,
		At:     at,
	}
	if mobile != "" {
		base.Receiver = "+86" + mobile
	}
	out := make([]providers.Receipt, len(keys))
	for i, k := range keys {
		out[i] = base
		out[i].ProviderMessageID = k
	}
	return out, nil
}

func statusOf(result string) providers.ReceiptStatus {
	switch strings.ToUpper(result) {
	case resultDelivered:
		return providers.ReceiptDelivered
	case resultRejected:
		return providers.ReceiptRejected
	}
	return providers.ReceiptFailed
}

// parseDeliverTime reads deliverTime: "yyyy-MM-dd HH:mm:ss" in China time
// as documented, or Unix seconds or milliseconds, or RFC 3339. Empty means
// now.
func parseDeliverTime(s string, now func() time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return now().UTC(), nil
	}
	if t, err := time.ParseInLocation(deliverTimeLayout, s, chinaTime()); err == nil {
		return t.UTC(), nil
	}
	if isDigits(s) {
		n, err := strconv.ParseInt(s, 10, 64)
		if err == nil {
			switch len(s) {
			case 10:
				return time.Unix(n, 0).UTC(), nil
			case 13:
				return time.UnixMilli(n).UTC(), nil
			}
		}
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, fmt.Errorf("deliverTime %q is not %q", s, deliverTimeLayout)
}

// Acknowledge answers the push: HTTP 200 with {"code":"0","msg":"SUCCESS"}
// when Herald took the reports, otherwise HTTP 500 so that Zrwinfo pushes
// them again.
func (h *ReceiptHandler) Acknowledge(w http.ResponseWriter, ok bool) {
	body, status := ackOKBody, http.StatusOK
	if !ok {
		body, status = ackFailBody, ackFailStatus
	}
	w.Header().Set("Content-Type", ackContentType)
	w.WriteHeader(status)
	// The status line is already out; a failed write leaves nothing to do.
	_, _ = io.WriteString(w, body)
}

// chinaTime is the zone of deliverTime. China has kept UTC+8 without
// daylight saving since 1991, so a fixed zone is exact and needs no tzdata.
func chinaTime() *time.Location { return time.FixedZone("CST", 8*60*60) }
