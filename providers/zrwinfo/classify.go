package zrwinfo

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"

	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/providers/httpsend"
)

// codeOK is Zrwinfo's success code. Every answer carries "code" as a
// string; anything else is a failure.
const codeOK = "0"

// Zrwinfo result codes Herald knows.
const (
	// CodeTooFrequent (超频) says requests came too fast.
	CodeTooFrequent = "9006"
)

// Codes of failures found before or around the request, with no Zrwinfo
// code. Failures with an HTTP status other than 200 use "HTTP_<status>".
const (
	// CodeInvalidReceiver means the receiver is not a Chinese mainland
	// mobile number, the only kind the domestic API sends to.
	CodeInvalidReceiver = "INVALID_RECEIVER"
	// CodeInvalidParam means a template variable cannot be sent: Zrwinfo
	// joins variables with "##" (or "$$"), so a value holding either would
	// shift every later variable.
	CodeInvalidParam = "INVALID_PARAM"
	// CodeNoTemplate means the message has no Zrwinfo template id.
	CodeNoTemplate = "NO_TEMPLATE"
	// CodeNoSignature means neither the message nor the account has a
	// signature.
	CodeNoSignature = "NO_SIGNATURE"
	// CodeBatchMixed marks a batch item left out because its template or
	// signature differs from the batch's: one request carries one of each.
	CodeBatchMixed = "BATCH_MIXED"
	// CodeDuplicateReceiver marks a batch item left out because an earlier
	// item has the same number: receipts of a batch are told apart by
	// number only.
	CodeDuplicateReceiver = "DUPLICATE_RECEIVER"
	// CodeBatchTooLarge means a batch had more items than MaxBatch.
	CodeBatchTooLarge = "BATCH_TOO_LARGE"
	// CodeBadAnswer means Zrwinfo answered HTTP 200 with a body that is not
	// its JSON result, or a success without the message or batch id.
	CodeBadAnswer = "BAD_ANSWER"
	// CodeTimeout means no answer came within the timeout. It and the
	// codes below are the ones package httpsend gives a request that got no
	// answer.
	CodeTimeout = httpsend.CodeTimeout
	// CodeConnect means no connection could be made.
	CodeConnect = httpsend.CodeConnect
	// CodeDNS means the API host name did not resolve.
	CodeDNS = httpsend.CodeDNS
	// CodeTLS means the API's certificate was not accepted.
	CodeTLS = httpsend.CodeTLS
	// CodeConnectionLost means the connection broke after the request was
	// sent.
	CodeConnectionLost = httpsend.CodeConnectionLost
	// CodeCancelled means the caller gave up before the request was sent.
	CodeCancelled = httpsend.CodeCancelled
)

// Classify maps a Zrwinfo result code to a failure class.
//
// Zrwinfo publishes no list of its codes. The one seen in the wild, 9006
// (超频, too frequent), is throttling. Every other code is transient: an
// unknown fault should not fail a message for good, and the code is kept on
// the error so rules can match it. An account's code_classes config
// overrides this for codes learnt later (for example a balance or template
// code), without a new release.
func Classify(code string) providers.Class {
	switch code {
	case CodeTooFrequent:
		return providers.ClassThrottled
	}
	return providers.ClassTransient
}

// classify is Classify with the account's overrides applied.
func (s *Sender) classify(code string) providers.Class {
	if c, ok := s.cfg.CodeClasses[code]; ok {
		return c
	}
	return Classify(code)
}

// vendorError builds the error for a failure code Zrwinfo answered with.
func (s *Sender) vendorError(op, code, msg string) *providers.Error {
	return &providers.Error{
		Class:   s.classify(code),
		Code:    code,
		Message: fmt.Sprintf("%s: zrwinfo answered code %s: %s", op, code, redactNumbers(msg)),
	}
}

// classifyStatus maps an answer other than HTTP 200. Zrwinfo itself always
// answers 200 with a JSON result; other statuses come from what stands in
// front of it, so they say whether the request reached the service, not
// what became of the message. The body is not quoted: it may echo the
// request.
func classifyStatus(op string, status int) *providers.Error {
	e := &providers.Error{
		Code:    "HTTP_" + strconv.Itoa(status),
		Message: fmt.Sprintf("%s: HTTP %d %s", op, status, http.StatusText(status)),
	}
	switch {
	case status >= 300 && status < 400:
		e.Class = providers.ClassConfig
		e.Message += "; redirects are not followed, check base_url (http or https?)"
	case status == http.StatusNotFound, status == http.StatusMethodNotAllowed:
		e.Class = providers.ClassConfig
		e.Message += "; check base_url"
	case status == http.StatusUnauthorized, status == http.StatusForbidden:
		e.Class = providers.ClassAccount
		e.Message += "; the account or this host's address may be blocked"
	case status == http.StatusTooManyRequests:
		e.Class = providers.ClassThrottled
	case status == http.StatusServiceUnavailable:
		// The conventional "not taken, come back later".
		e.Class = providers.ClassTransient
	case status >= 400 && status < 500:
		e.Class = providers.ClassPermanent
	default:
		// A 500, 502 or 504 may come after the service acted on the request.
		e.Class = providers.ClassUnknownOutcome
		e.Message += "; the request may have been acted on"
	}
	return e
}

// redactNumbers masks phone-number-like digit runs in a vendor message,
// which ends up in the message timeline and logs. It runs only on
// failures, so compiling the pattern each time costs nothing that matters.
func redactNumbers(s string) string {
	return regexp.MustCompile(`\d{7,}`).ReplaceAllString(s, "***")
}
