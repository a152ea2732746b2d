package httpsend

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"sync/atomic"

	"github.com/heraldhq/herald/providers"
)

// Codes of failures that got no answer. Providers keep their own names for
// them (dingtalk.CodeTimeout, ...) as aliases of these.
const (
	// CodeTimeout means no answer came within the timeout.
	CodeTimeout = "TIMEOUT"
	// CodeConnect means no connection could be made (refused, reset, no
	// route).
	CodeConnect = "CONNECT_FAILED"
	// CodeDNS means the host name did not resolve.
	CodeDNS = "DNS_FAILED"
	// CodeTLS means the server's certificate was not accepted.
	CodeTLS = "TLS_FAILED"
	// CodeConnectionLost means the connection broke after the request was
	// sent.
	CodeConnectionLost = "CONNECTION_LOST"
	// CodeCancelled means the caller gave up before the request was sent.
	CodeCancelled = "CANCELLED"
)

// Doer is the part of *http.Client that Do uses.
type Doer interface {
	Do(req *http.Request) (*http.Response, error)
}

// Do sends req with client, as client.Do does, and reports whether the
// whole request was written to the connection. wrote matters only when err
// is not nil: pass both to Classify. The error is client.Do's own, whose
// text may quote the URL; Classify and StripURL drop it.
func Do(client Doer, req *http.Request) (resp *http.Response, wrote bool, err error) {
	var written atomic.Bool
	ctx := TraceWrite(req.Context(), func() { written.Store(true) })
	resp, err = client.Do(req.WithContext(ctx))
	return resp, written.Load(), err
}

// TraceWrite returns ctx with an HTTP client trace that calls wrote once a
// request made with it has been written in full. It is for callers that
// cannot use Do, such as a RoundTripper under a vendor SDK's own client;
// wrote may be called from another goroutine, and more than once if the
// transport sends the request again.
//
// net/http reports a request written once the whole of it is in the
// connection's buffer, just before flushing it, so a flush that fails after
// that counts as written: the safe side, since an unknown outcome is
// settled by asking rather than by sending again.
func TraceWrite(ctx context.Context, wrote func()) context.Context {
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			if info.Err == nil {
				wrote()
			}
		},
	})
}

// Classify classifies err, the error of a request to vendor that got no
// answer; wrote is what Do reported. vendor names the other side in the
// message ("dingtalk", "the endpoint").
//
// Once the request was written, a timeout is CodeTimeout and anything else
// (a reset, a closed connection, a cancelled context) is
// CodeConnectionLost, both providers.ClassUnknownOutcome. Before that, a
// rejected certificate is CodeTLS, providers.ClassConfig (an operator has
// to fix a CA or the URL); a timeout is CodeTimeout, a cancelled context
// CodeCancelled, a failed name lookup CodeDNS and anything else
// CodeConnect, all providers.ClassTransient.
//
// The returned error's Err is err without its *url.Error wrapper, so
// neither its Message nor its Err quotes the URL.
func Classify(err error, wrote bool, vendor string) *providers.Error {
	cause := StripURL(err)
	var ne net.Error
	timeout := errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())

	if wrote {
		if timeout {
			return &providers.Error{Class: providers.ClassUnknownOutcome, Code: CodeTimeout,
				Message: vendor + " did not answer within the timeout after the request was sent; the request may have been acted on", Err: cause}
		}
		return &providers.Error{Class: providers.ClassUnknownOutcome, Code: CodeConnectionLost,
			Message: "connection to " + vendor + " lost after the request was sent; the request may have been acted on", Err: cause}
	}

	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	switch {
	case errors.As(err, &certErr):
		return &providers.Error{Class: providers.ClassConfig, Code: CodeTLS,
			Message: vendor + "'s certificate was not accepted", Err: cause}
	case timeout:
		return &providers.Error{Class: providers.ClassTransient, Code: CodeTimeout,
			Message: vendor + " could not be reached within the timeout", Err: cause}
	case errors.Is(err, context.Canceled):
		return &providers.Error{Class: providers.ClassTransient, Code: CodeCancelled,
			Message: "cancelled before the request to " + vendor + " was sent", Err: cause}
	case errors.As(err, &dnsErr):
		return &providers.Error{Class: providers.ClassTransient, Code: CodeDNS,
			Message: vendor + "'s host name did not resolve", Err: cause}
	default:
		return &providers.Error{Class: providers.ClassTransient, Code: CodeConnect,
			Message: "could not connect to " + vendor, Err: cause}
	}
}

// StripURL returns err without the *url.Error that net/http wraps around
// transport errors: its text quotes the URL, and with it any token, key or
// signature in the query or the path.
func StripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
