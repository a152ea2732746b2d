package feishu

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/url"

	"github.com/heraldhq/herald/providers"
)

// Codes of failures that carry no Feishu code.
const (
	// CodeTimeout means no answer came within the timeout.
	CodeTimeout = "TIMEOUT"
	// CodeConnect means no connection could be made.
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
	// CodeBadAnswer means an answer came that holds no code.
	CodeBadAnswer = "BAD_ANSWER"
)

// transportError classifies a request that got no answer. What matters is
// whether the request left this process: if it did not, nothing can have
// been posted; if it did, the bot may have posted it. The *url.Error
// wrapper is dropped because it quotes the URL, which holds the hook id.
func transportError(err error, wrote bool) *providers.Error {
	cause := err
	var ue *url.Error
	if errors.As(err, &ue) {
		cause = ue.Err
	}
	var ne net.Error
	timeout := errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())

	if wrote {
		if timeout {
			return &providers.Error{Class: providers.ClassUnknownOutcome, Code: CodeTimeout,
				Message: "feishu did not answer within the timeout after the request was sent; the message may have been posted", Err: cause}
		}
		return &providers.Error{Class: providers.ClassUnknownOutcome, Code: CodeConnectionLost,
			Message: "connection to feishu lost after the request was sent; the message may have been posted", Err: cause}
	}

	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	switch {
	case errors.As(err, &certErr):
		return &providers.Error{Class: providers.ClassConfig, Code: CodeTLS,
			Message: "feishu's certificate was not accepted", Err: cause}
	case timeout:
		return &providers.Error{Class: providers.ClassTransient, Code: CodeTimeout,
			Message: "feishu could not be reached within the timeout", Err: cause}
	case errors.Is(err, context.Canceled):
		return &providers.Error{Class: providers.ClassTransient, Code: CodeCancelled,
			Message: "send cancelled before the request was sent", Err: cause}
	case errors.As(err, &dnsErr):
		return &providers.Error{Class: providers.ClassTransient, Code: CodeDNS,
			Message: "feishu's host name did not resolve", Err: cause}
	}
	return &providers.Error{Class: providers.ClassTransient, Code: CodeConnect,
		Message: "could not connect to feishu", Err: cause}
}
