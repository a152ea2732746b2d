package dingtalk

import "github.com/heraldhq/herald/providers/httpsend"

// Codes of failures that carry no DingTalk errcode. All but CodeBadAnswer
// are the codes package httpsend gives a request that got no answer.
const (
	// CodeTimeout means no answer came within the timeout.
	CodeTimeout = httpsend.CodeTimeout
	// CodeConnect means no connection could be made.
	CodeConnect = httpsend.CodeConnect
	// CodeDNS means the host name did not resolve.
	CodeDNS = httpsend.CodeDNS
	// CodeTLS means the server's certificate was not accepted.
	CodeTLS = httpsend.CodeTLS
	// CodeConnectionLost means the connection broke after the request was
	// sent.
	CodeConnectionLost = httpsend.CodeConnectionLost
	// CodeCancelled means the caller gave up before the request was sent.
	CodeCancelled = httpsend.CodeCancelled
	// CodeBadAnswer means an answer came that holds no errcode.
	CodeBadAnswer = "BAD_ANSWER"
)
