package wechatwork

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/providers/httpsend"
)

// Codes of failures that carry no WeCom errcode. Failures with an HTTP
// status but no readable answer use "HTTP_<status>", for example
// "HTTP_502". The transport codes are package httpsend's.
const (
	// CodeTimeout means WeCom did not answer within the timeout.
	CodeTimeout = httpsend.CodeTimeout
	// CodeConnect means no connection could be made.
	CodeConnect = httpsend.CodeConnect
	// CodeDNS means the API host name did not resolve.
	CodeDNS = httpsend.CodeDNS
	// CodeTLS means the API host's certificate was not accepted.
	CodeTLS = httpsend.CodeTLS
	// CodeConnectionLost means the connection broke after the request was
	// sent.
	CodeConnectionLost = httpsend.CodeConnectionLost
	// CodeCancelled means the caller gave up before the request was sent.
	CodeCancelled = httpsend.CodeCancelled
	// CodeBadAnswer means WeCom answered HTTP 200 with a body that is not
	// its JSON answer.
	CodeBadAnswer = "BAD_ANSWER"
	// CodeInvalidReceiver means the receiver string does not parse; see
	// ParseReceiver and ParseMentions.
	CodeInvalidReceiver = "INVALID_RECEIVER"
	// CodeInvalidMessage means the message lacks what its type needs (a
	// textcard without a title or url, empty content).
	CodeInvalidMessage = "INVALID_MESSAGE"
	// CodeUnsupportedContentType means the message's content type has no
	// WeCom message type here.
	CodeUnsupportedContentType = "UNSUPPORTED_CONTENT_TYPE"
)

// maxAnswerBytes bounds how much of an answer is read; WeCom answers are
// small JSON objects.
const maxAnswerBytes = 64 << 10

// exchange is what came back from one HTTP request.
type exchange struct {
	status int
	body   []byte
}

// transportError is a request that got no HTTP answer. wrote tells
// whether the whole request had reached the wire.
type transportError struct {
	err   error
	wrote bool
}

func (e *transportError) Error() string { return e.err.Error() }
func (e *transportError) Unwrap() error { return e.err }

// do sends one request bounded by timeout and reads its answer. A request
// without an answer comes back as *transportError.
func do(ctx context.Context, client *http.Client, timeout time.Duration, method, target string, body []byte) (exchange, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		// Only a malformed base URL gets here, and ParseConfig rejects
		// those; the error is not quoted because it holds the URL.
		return exchange{}, &transportError{err: errors.New("build request: invalid URL")}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
	req.Header.Set("Accept", "application/json")
	// Whether the request reached the wire decides between "nothing was
	// sent, try again" and "WeCom may have acted on it". The URL, which
	// holds the access token, secret or robot key, is never quoted.
	resp, wrote, err := httpsend.Do(client, req)
	if err != nil {
		return exchange{}, &transportError{err: httpsend.StripURL(err), wrote: wrote}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	if err != nil {
		// The status line came but the body broke off: the request was
		// certainly received.
		return exchange{}, &transportError{err: httpsend.StripURL(err), wrote: true}
	}
	return exchange{status: resp.StatusCode, body: data}, nil
}

// classifyTransport classifies a request that got no answer. For a request
// that may have sent a message (send) the failure is unknown_outcome once
// the request was written; for any other request (gettoken), nothing was
// sent, so it is transient. Those rules, and a refused certificate being
// transient here, are why this is not httpsend.Classify.
func classifyTransport(op string, err error, send bool) *providers.Error {
	var te *transportError
	wrote := false
	cause := err
	if errors.As(err, &te) {
		wrote, cause = te.wrote, te.err
	}
	var ne net.Error
	timeout := errors.Is(cause, context.DeadlineExceeded) || (errors.As(cause, &ne) && ne.Timeout())

	if wrote && send {
		if timeout {
			return &providers.Error{Class: providers.ClassUnknownOutcome, Code: CodeTimeout,
				Message: op + ": no answer within the timeout after the request was sent; the message may have been sent", Err: cause}
		}
		return &providers.Error{Class: providers.ClassUnknownOutcome, Code: CodeConnectionLost,
			Message: op + ": connection lost after the request was sent; the message may have been sent", Err: cause}
	}

	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	switch {
	case errors.As(cause, &certErr):
		return &providers.Error{Class: providers.ClassTransient, Code: CodeTLS,
			Message: op + ": the API host's certificate was not accepted", Err: cause}
	case timeout:
		return &providers.Error{Class: providers.ClassTransient, Code: CodeTimeout,
			Message: op + ": no answer within the timeout", Err: cause}
	case errors.Is(cause, context.Canceled):
		return &providers.Error{Class: providers.ClassTransient, Code: CodeCancelled,
			Message: op + ": cancelled before an answer came", Err: cause}
	case errors.As(cause, &dnsErr):
		return &providers.Error{Class: providers.ClassTransient, Code: CodeDNS,
			Message: op + ": the API host name did not resolve", Err: cause}
	case wrote:
		return &providers.Error{Class: providers.ClassTransient, Code: CodeConnectionLost,
			Message: op + ": connection lost before an answer came", Err: cause}
	default:
		return &providers.Error{Class: providers.ClassTransient, Code: CodeConnect,
			Message: op + ": could not connect to the API host", Err: cause}
	}
}

// badAnswer classifies an answer that is not WeCom's JSON: an error page
// from a gateway, say. After a send it is unknown whether WeCom took the
// message. The body is not quoted: it may echo the request.
func badAnswer(op string, ex exchange, send bool) *providers.Error {
	if ex.status >= 300 && ex.status < 400 {
		// Redirects are not followed, so nothing reached WeCom.
		return &providers.Error{Class: providers.ClassConfig, Code: "HTTP_" + strconv.Itoa(ex.status),
			Message: fmt.Sprintf("%s: answered HTTP %d; redirects are not followed, set base_url or webhook_url to the final address", op, ex.status)}
	}
	class := providers.ClassTransient
	if send {
		class = providers.ClassUnknownOutcome
	}
	if ex.status != http.StatusOK {
		return &providers.Error{Class: class, Code: "HTTP_" + strconv.Itoa(ex.status),
			Message: fmt.Sprintf("%s: answered HTTP %d %s without a WeCom answer", op, ex.status, http.StatusText(ex.status))}
	}
	return &providers.Error{Class: class, Code: CodeBadAnswer,
		Message: op + ": answered HTTP 200 with a body that is not a WeCom answer"}
}

// apiStatus is the part every WeCom answer has. ErrCode is a pointer so an
// answer without it is told apart from a success.
type apiStatus struct {
	ErrCode *int   `json:"errcode"`
	ErrMsg  string `json:"errmsg"`
}

// decodeAnswer reads a WeCom JSON answer into v, which embeds apiStatus.
// It reports false when the body is not such an answer.
func decodeAnswer(body []byte, v any, st *apiStatus) bool {
	if err := json.Unmarshal(body, v); err != nil {
		return false
	}
	return st.ErrCode != nil
}

// encodeJSON marshals v without escaping <, > and &: WeCom's text messages
// carry <a href="..."> links and markdown carries <@userid> mentions, and
// the readable form is what its documentation shows.
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}
