package smtp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	mail "github.com/wneessen/go-mail"
	gosmtp "github.com/wneessen/go-mail/smtp"

	"github.com/heraldhq/herald/providers"
)

// Codes of failures that are not SMTP replies. A server's reply is kept as
// "SMTP_<code>" or, with an enhanced status code, "SMTP_<code>_<enhanced>",
// for example "SMTP_550_5.1.1".
const (
	// CodeTimeout means the server did not answer within the timeout.
	CodeTimeout = "TIMEOUT"
	// CodeConnect means no SMTP session could be opened: the connection
	// was refused, reset or closed before the greeting.
	CodeConnect = "CONNECT_FAILED"
	// CodeDNS means the server's host name did not resolve.
	CodeDNS = "DNS_FAILED"
	// CodeTLS means the TLS handshake failed, usually because the server
	// certificate was not accepted.
	CodeTLS = "TLS_FAILED"
	// CodeStartTLSUnsupported means tls_mode is starttls but the server
	// does not offer STARTTLS.
	CodeStartTLSUnsupported = "STARTTLS_UNSUPPORTED"
	// CodeAuthUnsupported means the server offers no AUTH mechanism the
	// sender can use (PLAIN or LOGIN, or one go-mail finds on its own).
	CodeAuthUnsupported = "AUTH_UNSUPPORTED"
	// CodeAuthNeedsTLS means the connection is not encrypted and the
	// credentials were therefore not sent.
	CodeAuthNeedsTLS = "AUTH_NEEDS_TLS"
	// CodeConnectionLost means the connection broke during the send.
	CodeConnectionLost = "CONNECTION_LOST"
	// CodeCancelled means the caller's context ended the send.
	CodeCancelled = "CANCELLED"
	// CodeInvalidReceiver means the receiver is not one e-mail address.
	CodeInvalidReceiver = "INVALID_RECEIVER"
	// CodeAttachmentsTooLarge means the attachments together are larger
	// than the account's max_attachment_bytes.
	CodeAttachmentsTooLarge = "ATTACHMENTS_TOO_LARGE"
	// CodeInvalidAttachment means an attachment's content type is invalid.
	CodeInvalidAttachment = "INVALID_ATTACHMENT"
	// CodeClientSetup means the SMTP client could not be set up from the
	// account's config.
	CodeClientSetup = "CLIENT_SETUP_FAILED"
	// CodeDKIM means the message could not be DKIM-signed with the
	// account's key; it was not sent.
	CodeDKIM = "DKIM_FAILED"
)

const codeReplyPrefix = "SMTP_"

// Classify maps an SMTP reply code and its enhanced status code (RFC 3463,
// "5.1.1"; empty when the server gave none) to a failure class.
//
//   - 530 (authentication or STARTTLS required), 534 (mechanism too weak)
//     and 538 (encryption required) are config; 535 (bad credentials) is
//     account.
//   - A reply is transient when its code or its enhanced code starts with
//     4: 421, 450, 451, 452, 454, 432 and the like. Where the two disagree
//     the transient reading wins, since a retry is cheaper than losing a
//     message.
//   - Other 5xx replies are permanent, refined by the enhanced code:
//     x.1.7 and x.1.8 (the sender's address) are config, x.7.9, x.7.10 and
//     x.7.11 (authentication or encryption too weak) are config, and every
//     other x.7.x (security or policy: relaying denied, blocked, rejected
//     as spam) is account.
//   - Anything else is not a refusal Herald knows, and is transient.
func Classify(code int, enhanced string) providers.Class {
	eclass, subject, detail, hasEnhanced := parseEnhanced(enhanced)
	switch code {
	case 530, 534, 538:
		return providers.ClassConfig
	case 535:
		return providers.ClassAccount
	}
	if code/100 == 4 || (hasEnhanced && eclass == 4) {
		return providers.ClassTransient
	}
	if code/100 != 5 && !(hasEnhanced && eclass == 5) {
		return providers.ClassTransient
	}
	if hasEnhanced {
		switch subject {
		case 1:
			if detail == 7 || detail == 8 {
				return providers.ClassConfig
			}
		case 7:
			switch detail {
			case 9, 10, 11:
				return providers.ClassConfig
			}
			return providers.ClassAccount
		}
	}
	return providers.ClassPermanent
}

// IsHardBounce reports whether a vendor code is a permanent refusal of
// the receiver's address: a 5xx reply whose enhanced status code is 5.1.x
// (5.1.1 no such mailbox, 5.1.2 no such domain, 5.1.3 malformed address,
// 5.1.6 mailbox moved, 5.1.10 the domain accepts no mail, ...). 5.1.7 and
// 5.1.8 are about the sender's address, not the receiver's. A refusal for
// policy or spam (5.7.x) says nothing about the address, a 4xx reply or a
// 4.x.x code may pass, and a reply without an enhanced code is too vague
// to stop sending to someone.
func IsHardBounce(code string) bool {
	rest, ok := strings.CutPrefix(code, codeReplyPrefix)
	if !ok {
		return false
	}
	reply, enhanced, ok := strings.Cut(rest, "_")
	if !ok || len(reply) != 3 || reply[0] != '5' {
		return false
	}
	if _, err := strconv.Atoi(reply); err != nil {
		return false
	}
	class, subject, detail, ok := parseEnhanced(enhanced)
	return ok && class == 5 && subject == 1 && detail != 7 && detail != 8
}

// parseEnhanced reads an RFC 3463 status code: class 2, 4 or 5, then a
// subject and a detail of one to three digits each.
func parseEnhanced(s string) (class, subject, detail int, ok bool) {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return 0, 0, 0, false
	}
	var n [3]int
	for i, p := range parts {
		if p == "" || len(p) > 3 || (i == 0 && len(p) != 1) {
			return 0, 0, 0, false
		}
		for j := 0; j < len(p); j++ {
			if p[j] < '0' || p[j] > '9' {
				return 0, 0, 0, false
			}
		}
		n[i], _ = strconv.Atoi(p)
	}
	if n[0] != 2 && n[0] != 4 && n[0] != 5 {
		return 0, 0, 0, false
	}
	return n[0], n[1], n[2], true
}

// enhancedFromText reads the enhanced status code that starts a reply's
// text ("5.7.8 Authentication failed").
func enhancedFromText(text string) string {
	first := text
	if i := strings.IndexFunc(text, unicode.IsSpace); i >= 0 {
		first = text[:i]
	}
	if _, _, _, ok := parseEnhanced(first); ok {
		return first
	}
	return ""
}

func replyCode(code int, enhanced string) string {
	if enhanced == "" {
		return fmt.Sprintf("%s%d", codeReplyPrefix, code)
	}
	return fmt.Sprintf("%s%d_%s", codeReplyPrefix, code, enhanced)
}

// phase is the part of the SMTP dialogue a reply answered.
type phase int

const (
	phaseSession phase = iota // greeting, EHLO, STARTTLS, AUTH
	phaseMail
	phaseRcpt
	phaseData
)

func (p phase) String() string {
	switch p {
	case phaseSession:
		return "session refused"
	case phaseMail:
		return "MAIL FROM refused"
	case phaseRcpt:
		return "RCPT TO refused"
	default:
		return "message refused"
	}
}

// replyError classifies a server reply. A permanent refusal before the
// receiver is named cannot be about the message: during the session it is
// the account's (an IP block, a disabled account), and at MAIL FROM it is
// the configured sender address, unless it is about size (552).
func replyError(ph phase, code int, enhanced, text string) *providers.Error {
	class := Classify(code, enhanced)
	if class == providers.ClassPermanent {
		switch {
		case ph == phaseSession:
			class = providers.ClassAccount
		case ph == phaseMail && code != 552:
			class = providers.ClassConfig
		}
	}
	return &providers.Error{
		Class:   class,
		Code:    replyCode(code, enhanced),
		Message: fmt.Sprintf("send e-mail: %s: %s", ph, summarize(text)),
	}
}

// sessionError classifies a failure to open the SMTP session: dialling,
// the greeting, EHLO, STARTTLS or AUTH. Nothing of the message was sent,
// so no failure here is an unknown outcome.
func sessionError(ctx context.Context, tr *connTracker, err error) *providers.Error {
	var te *textproto.Error
	if errors.As(err, &te) {
		return replyError(phaseSession, te.Code, enhancedFromText(te.Msg), te.Error())
	}
	msg := err.Error()
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		return &providers.Error{Class: providers.ClassTransient, Code: CodeCancelled,
			Message: "send e-mail: cancelled while connecting", Err: err}
	case isTLSFailure(err):
		return &providers.Error{Class: providers.ClassConfig, Code: CodeTLS,
			Message: "send e-mail: TLS handshake with the server failed (certificate, tls_server_name, ca_pem or tls_mode)", Err: err}
	case strings.Contains(msg, "does not support STARTTLS"):
		// go-mail has no sentinel for this; the test suite pins the text.
		return &providers.Error{Class: providers.ClassConfig, Code: CodeStartTLSUnsupported,
			Message: "send e-mail: the server does not offer STARTTLS (tls_mode starttls requires it)", Err: err}
	case errors.Is(err, gosmtp.ErrUnencrypted):
		return &providers.Error{Class: providers.ClassConfig, Code: CodeAuthNeedsTLS,
			Message: "send e-mail: credentials are not sent over an unencrypted connection", Err: err}
	case errors.Is(err, mail.ErrNoSupportedAuthDiscovered), strings.Contains(msg, "does not support SMTP AUTH"):
		return &providers.Error{Class: providers.ClassConfig, Code: CodeAuthUnsupported,
			Message: "send e-mail: the server offers no usable AUTH mechanism", Err: err}
	case tr.timedOut.Load() || isTimeout(err) || errors.Is(ctx.Err(), context.DeadlineExceeded):
		return &providers.Error{Class: providers.ClassTransient, Code: CodeTimeout,
			Message: "send e-mail: the server did not answer in time while connecting", Err: err}
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return &providers.Error{Class: providers.ClassTransient, Code: CodeDNS,
			Message: "send e-mail: the server's host name did not resolve", Err: err}
	}
	return &providers.Error{Class: providers.ClassTransient, Code: CodeConnect,
		Message: "send e-mail: could not open an SMTP session", Err: err}
}

// transactionError classifies a failure between MAIL FROM and the reply
// to the message data. go-mail reports it as *mail.SendError, which keeps
// the reply code and enhanced code but not the underlying error, so the
// connection's own record tells a timeout from a broken connection.
//
// The error text is not kept in Err: it lists the receiver's address.
// goMailDKIMFailure starts go-mail's error for a message it could not
// sign; go-mail has no sentinel for it, and the tests pin the text.
const goMailDKIMFailure = "failed to DKIM sign message"

func transactionError(ctx context.Context, tr *connTracker, err error) *providers.Error {
	var se *mail.SendError
	if !errors.As(err, &se) {
		// Not go-mail's own report; nothing says whether the server took
		// the message.
		return &providers.Error{Class: providers.ClassUnknownOutcome, Code: CodeConnectionLost,
			Message: "send e-mail: " + summarize(fmt.Sprint(err))}
	}
	ph := phaseData
	switch se.Reason {
	case mail.ErrSMTPMailFrom:
		ph = phaseMail
	case mail.ErrSMTPRcptTo:
		ph = phaseRcpt
	}
	if code := se.ErrorCode(); code != 0 {
		text := se.Error()
		// go-mail appends the receiver and the Message-ID; the reply is
		// what matters.
		if i := strings.Index(text, ", affected "); i >= 0 {
			text = text[:i]
		}
		return replyError(ph, code, se.EnhancedStatusCode(), text)
	}

	if se.Reason == mail.ErrWriteContent && strings.Contains(se.Error(), goMailDKIMFailure) {
		// go-mail signs as it writes the message data; the server drops
		// the unfinished data, so nothing was sent, and a retry would fail
		// the same way.
		return &providers.Error{Class: providers.ClassConfig, Code: CodeDKIM,
			Message: "send e-mail: the message could not be DKIM-signed with the account's key", Err: err}
	}
	code, what := CodeConnectionLost, "the connection broke"
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		code, what = CodeCancelled, "the send was cancelled"
	case tr.timedOut.Load() || errors.Is(ctx.Err(), context.DeadlineExceeded):
		code, what = CodeTimeout, "the server did not answer in time"
	}
	if se.Reason == mail.ErrSMTPDataClose {
		// The end-of-data mark may have reached the server, which may
		// have queued the message: resending could duplicate it.
		return &providers.Error{Class: providers.ClassUnknownOutcome, Code: code,
			Message: "send e-mail: " + what + " after the message data was sent"}
	}
	// Before the end of the data the server discards what it got.
	return &providers.Error{Class: providers.ClassTransient, Code: code,
		Message: fmt.Sprintf("send e-mail: %s during %s", what, se.Reason)}
}

// isTLSFailure recognises handshake failures: an implicit-TLS handshake
// (marked by the dialer), a rejected certificate, a peer that does not
// speak TLS, or an alert sent or received.
func isTLSFailure(err error) bool {
	var hs *tlsHandshakeError
	var cert *tls.CertificateVerificationError
	var rec tls.RecordHeaderError
	var alert tls.AlertError
	if errors.As(err, &hs) || errors.As(err, &cert) || errors.As(err, &rec) || errors.As(err, &alert) {
		return true
	}
	var op *net.OpError
	return errors.As(err, &op) && (op.Op == "remote error" || op.Op == "local error")
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// addressPattern matches what looks like an e-mail address in a reply.
func addressPattern() *regexp.Regexp {
	return regexp.MustCompile(`[^\s<>()\[\],;:"']+@[^\s<>()\[\],;:"']+`)
}

// maxSummary bounds the server text kept in an error message.
const maxSummary = 300

// summarize keeps a server's text for the timeline without the e-mail
// addresses it may quote (the receiver, the Message-ID).
func summarize(s string) string {
	s = addressPattern().ReplaceAllString(oneLine(s), "[address]")
	if len(s) <= maxSummary {
		return s
	}
	cut := maxSummary
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}
