package smtp

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"mime"
	"net"
	netmail "net/mail"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	mail "github.com/wneessen/go-mail"
	gosmtp "github.com/wneessen/go-mail/smtp"

	"github.com/heraldhq/herald/providers"
)

// HeaderTaskID carries Herald's task id on every message, so a bounce or a
// complaint that quotes the headers leads back to the task.
const HeaderTaskID = "X-Herald-Task-Id"

// HeaderAttempt carries the attempt number, which the Message-ID (one per
// task) does not.
const HeaderAttempt = "X-Herald-Attempt"

// quitTimeout bounds the polite QUIT after a send: the outcome is already
// known, so a slow server must not hold the worker.
const quitTimeout = 5 * time.Second

// mailClient is the part of go-mail's Client the sender uses: one
// connection (greeting, EHLO, TLS, AUTH), one transaction, one QUIT.
type mailClient interface {
	DialToSMTPClientWithContext(ctx context.Context) (*gosmtp.Client, error)
	SendWithSMTPClient(client *gosmtp.Client, messages ...*mail.Msg) error
	CloseWithSMTPClient(client *gosmtp.Client) error
}

// Sender sends e-mail through one SMTP account. It opens one connection per
// message and is safe for concurrent use.
type Sender struct {
	cfg       Config
	tlsConfig *tls.Config
	dial      DialFunc
	now       func() time.Time
	// dkim signs each message when the account has DKIM set up.
	dkim *dkimSigning
	// newClient builds the go-mail client for one send. go-mail's client
	// keeps per-connection state (the AUTH mechanism it settles on), so
	// sends do not share one.
	newClient func(dial mail.DialContextFunc) (mailClient, error)
}

// NewSender builds a sender for cfg. Defaults are applied to cfg first.
func NewSender(cfg Config, opts ...Option) (*Sender, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	set := newSettings(opts)
	tc, err := tlsConfig(cfg)
	if err != nil {
		return nil, err
	}
	s := &Sender{cfg: cfg, tlsConfig: tc, dial: set.dial, now: set.now}
	if cfg.DKIM != nil {
		if s.dkim, err = newDKIMSigning(cfg.DKIM, set.now); err != nil {
			return nil, err
		}
	}
	s.newClient = s.goMailClient
	return s, nil
}

func tlsConfig(cfg Config) (*tls.Config, error) {
	tc := &tls.Config{
		MinVersion: tls.VersionTLS12,
		ServerName: cfg.Host,
		// Off unless the account says so; documented as for tests only.
		InsecureSkipVerify: cfg.InsecureSkipVerify, //nolint:gosec // an explicit, documented account setting
	}
	if cfg.TLSServerName != "" {
		tc.ServerName = cfg.TLSServerName
	}
	if cfg.CAPEM != "" {
		pool, err := x509.SystemCertPool()
		if err != nil {
			// No system roots (a minimal container): the private CA alone
			// is what the account asked to trust.
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM([]byte(cfg.CAPEM)) {
			return nil, errors.New("invalid smtp config: ca_pem holds no PEM certificate")
		}
		tc.RootCAs = pool
	}
	return tc, nil
}

// goMailClient builds a go-mail client for one send over dial.
func (s *Sender) goMailClient(dial mail.DialContextFunc) (mailClient, error) {
	opts := []mail.Option{
		mail.WithPort(s.cfg.Port),
		mail.WithTimeout(s.cfg.Timeout()),
		mail.WithDialContextFunc(dial),
		mail.WithTLSConfig(s.tlsConfig),
		// The connection is fresh and is closed right after the message:
		// NOOP before and RSET after would be two wasted round trips.
		mail.WithoutNoop(),
		mail.WithoutRset(),
	}
	switch s.cfg.TLSMode {
	case TLSImplicit:
		// The dialer does the TLS handshake; WithSSL keeps go-mail from
		// attempting STARTTLS inside it.
		opts = append(opts, mail.WithSSL())
	case TLSStartTLSOptional:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSOpportunistic))
	case TLSNone:
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	default:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	}
	if s.cfg.HELOName != "" {
		opts = append(opts, mail.WithHELO(s.cfg.HELOName))
	}
	if s.cfg.Username != "" {
		// PLAIN and LOGIN are what providers support; go-mail refuses both
		// over clear text unless the host is localhost. With tls_mode none
		// the host is on this machine (Validate), so clear text is fine.
		mechs := []mail.SMTPAuthType{mail.SMTPAuthPlain, mail.SMTPAuthLogin}
		if s.cfg.TLSMode == TLSNone {
			mechs = []mail.SMTPAuthType{mail.SMTPAuthPlainNoEnc, mail.SMTPAuthLoginNoEnc}
		}
		opts = append(opts,
			mail.WithOpportunisticSMTPAuth(mechs...),
			mail.WithUsername(s.cfg.Username),
			mail.WithPassword(s.cfg.Password),
		)
	}
	c, err := mail.NewClient(s.cfg.Host, opts...)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Send delivers msg to msg.Receiver over one SMTP connection. The server's
// 250 after the message data is final: the result is Delivered, with the
// generated Message-ID as ProviderMessageID.
//
// Failures are *providers.Error. Replies keep their codes as
// "SMTP_<code>[_<enhanced>]" and are classified with Classify, except that
// a permanent refusal before MAIL FROM is an account problem and one of
// MAIL FROM (other than 552) a config problem, since neither concerns the
// message. A message that cannot be built (bad receiver, attachments over
// the account's limit) fails as permanent before connecting. Connection
// and TLS problems are classified by the Code* constants; a timeout or a
// lost connection after the message data was sent is ClassUnknownOutcome.
func (s *Sender) Send(ctx context.Context, msg providers.Message) (providers.Result, error) {
	m, messageID, perr := s.compose(msg)
	if perr != nil {
		return providers.Result{}, perr
	}
	if err := ctx.Err(); err != nil {
		return providers.Result{}, &providers.Error{Class: providers.ClassTransient, Code: CodeCancelled,
			Message: "send e-mail: cancelled before connecting", Err: err}
	}

	tr := &connTracker{ctx: ctx}
	defer tr.release()
	mc, err := s.newClient(s.dialFunc(tr))
	if err != nil {
		return providers.Result{}, &providers.Error{Class: providers.ClassConfig, Code: CodeClientSetup,
			Message: "send e-mail: set up smtp client", Err: err}
	}
	client, err := mc.DialToSMTPClientWithContext(ctx)
	if err != nil {
		return providers.Result{}, sessionError(ctx, tr, err)
	}
	err = mc.SendWithSMTPClient(client, m)
	// The 250 after the data is what counts; a failure after it (there
	// is no RSET, but go-mail may still report one) changes nothing.
	if m.IsDelivered() {
		quit(mc, client)
		return providers.Result{ProviderMessageID: messageID, Delivered: true}, nil
	}
	perr = transactionError(ctx, tr, err)
	if strings.HasPrefix(perr.Code, codeReplyPrefix) {
		// The server answered, so the connection is still in order.
		quit(mc, client)
	}
	return providers.Result{}, perr
}

func quit(mc mailClient, c *gosmtp.Client) {
	// Best effort: the outcome is known, and tracker.release closes the
	// connection whatever happens here.
	_ = c.UpdateDeadline(quitTimeout)
	_ = mc.CloseWithSMTPClient(c)
}

// compose builds the go-mail message and its Message-ID (with angle
// brackets, as in the header). Problems with the message itself are
// permanent and found before connecting.
func (s *Sender) compose(msg providers.Message) (*mail.Msg, string, *providers.Error) {
	to, err := parseReceiver(msg.Receiver)
	if err != nil {
		return nil, "", &providers.Error{Class: providers.ClassPermanent, Code: CodeInvalidReceiver,
			Message: "send e-mail: receiver is not a single e-mail address", Err: err}
	}
	var total int64
	for _, a := range msg.Attachments {
		total += int64(len(a.Content))
	}
	if total > s.cfg.MaxAttachmentBytes {
		return nil, "", providers.Errorf(providers.ClassPermanent, CodeAttachmentsTooLarge,
			"send e-mail: attachments total %d bytes, over the account's limit of %d", total, s.cfg.MaxAttachmentBytes)
	}

	m := mail.NewMsg(mail.WithNoDefaultUserAgent())
	m.FromMailAddress(&netmail.Address{Name: s.cfg.FromName, Address: s.cfg.From})
	m.ToMailAddress(to)
	m.Subject(oneLine(msg.Subject))
	id := messageID(msg, s.cfg.messageIDDomain())
	m.SetMessageIDWithValue(id)
	m.SetDateWithValue(s.now())
	if msg.TaskID != "" {
		m.SetGenHeader(mail.Header(HeaderTaskID), oneLine(msg.TaskID))
		m.SetGenHeader(mail.Header(HeaderAttempt), strconv.Itoa(msg.Attempt))
	}

	if isHTML(msg.ContentType) {
		m.SetBodyString(mail.TypeTextPlain, htmlToText(msg.Content))
		m.AddAlternativeString(mail.TypeTextHTML, msg.Content)
	} else {
		m.SetBodyString(mail.TypeTextPlain, msg.Content)
	}

	for i, a := range msg.Attachments {
		ct, err := attachmentType(a.ContentType)
		if err != nil {
			return nil, "", &providers.Error{Class: providers.ClassPermanent, Code: CodeInvalidAttachment,
				Message: fmt.Sprintf("send e-mail: attachment %d has an invalid content type", i+1), Err: err}
		}
		m.AttachReadSeeker(attachmentName(a.Filename, i), bytes.NewReader(a.Content),
			mail.WithFileContentType(mail.ContentType(ct)))
	}
	if s.dkim != nil {
		// go-mail signs while writing the message out, after every
		// header above is in place. Its checks run here too, so a signer
		// it would refuse fails the send before connecting rather than in
		// the middle of the message data.
		sg := s.dkim.signer()
		if err := sg.ValidateConfig(); err != nil {
			return nil, "", &providers.Error{Class: providers.ClassConfig, Code: CodeDKIM,
				Message: "send e-mail: the account's DKIM settings cannot sign", Err: err}
		}
		m.SetDKIM(sg)
	}
	return m, "<" + id + ">", nil
}

// parseReceiver reads one address, bare or with a display name.
func parseReceiver(r string) (*netmail.Address, error) {
	r = strings.TrimSpace(r)
	if r == "" {
		return nil, errors.New("receiver is empty")
	}
	addr, err := netmail.ParseAddress(r)
	if err != nil {
		return nil, fmt.Errorf("parse receiver: %w", err)
	}
	at := strings.LastIndexByte(addr.Address, '@')
	if at <= 0 || at == len(addr.Address)-1 {
		return nil, errors.New("receiver has no domain")
	}
	return addr, nil
}

// messageID is "<task>@<domain>" without the brackets: one per task, the
// same on every attempt and through every account, so a resend after an
// unknown outcome is recognisable downstream as the same message (mail
// clients and archives thread or drop it). A message without a task id
// (a test send) gets a random one.
func messageID(msg providers.Message, domain string) string {
	task := msg.TaskID
	if task == "" {
		task = uuid.NewString()
	}
	var b strings.Builder
	for _, r := range task {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		default:
			// Keeps the id a dot-atom whatever the task id holds.
			b.WriteByte('-')
		}
	}
	return b.String() + "@" + domain
}

func isHTML(contentType string) bool {
	ct := strings.ToLower(strings.TrimSpace(contentType))
	return ct == "html" || ct == "text/html" || strings.HasPrefix(ct, "text/html;")
}

// oneLine turns line breaks and other control characters into spaces, so
// a value cannot start a header of its own.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// attachmentType checks a content type and drops any "name" parameter,
// which go-mail writes itself from the file name.
func attachmentType(ct string) (string, error) {
	if strings.TrimSpace(ct) == "" {
		return "application/octet-stream", nil
	}
	if hasControl(ct) {
		// go-mail writes the type into the header as it is.
		return "", errors.New("content type contains a control character")
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return "", fmt.Errorf("parse content type: %w", err)
	}
	if !strings.Contains(mt, "/") {
		return "", fmt.Errorf("content type %q has no subtype", mt)
	}
	delete(params, "name")
	out := mime.FormatMediaType(mt, params)
	if out == "" {
		return "", fmt.Errorf("content type %q cannot be written back", mt)
	}
	return out, nil
}

// attachmentName keeps the last path element of a file name; an empty
// name becomes "attachment-<n>".
func attachmentName(name string, i int) string {
	if j := strings.LastIndexAny(name, `/\`); j >= 0 {
		name = name[j+1:]
	}
	name = strings.TrimSpace(oneLine(name))
	if name == "" || name == "." || name == ".." {
		return fmt.Sprintf("attachment-%d", i+1)
	}
	return name
}

// dialFunc dials the server for go-mail, doing the TLS handshake itself
// in implicit mode so that a handshake failure is told apart from a
// connection failure.
func (s *Sender) dialFunc(tr *connTracker) mail.DialContextFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		raw, err := s.dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		conn := tr.attach(raw)
		if s.cfg.TLSMode != TLSImplicit {
			return conn, nil
		}
		tc := tls.Client(conn, s.tlsConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, &tlsHandshakeError{err: err}
		}
		return tc, nil
	}
}

// tlsHandshakeError marks a failed implicit-TLS handshake.
type tlsHandshakeError struct{ err error }

func (e *tlsHandshakeError) Error() string { return "tls handshake: " + e.err.Error() }
func (e *tlsHandshakeError) Unwrap() error { return e.err }

// connTracker owns the TCP connection of one send. It closes it when the
// caller's context ends (go-mail only watches the context while dialling)
// and when the send is over (go-mail leaves it open on some failures), and
// it remembers whether a read or write ran into the deadline.
type connTracker struct {
	ctx      context.Context
	timedOut atomic.Bool

	mu   sync.Mutex
	conn net.Conn
	stop func() bool
}

func (t *connTracker) attach(c net.Conn) net.Conn {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.conn = c
	t.stop = context.AfterFunc(t.ctx, func() { _ = c.Close() })
	return &trackedConn{Conn: c, t: t}
}

func (t *connTracker) release() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stop != nil {
		t.stop()
	}
	if t.conn != nil {
		_ = t.conn.Close()
	}
}

// trackedConn notes deadline errors. TLS, when used, sits on top of it,
// so the deadlines go-mail sets reach it unchanged.
type trackedConn struct {
	net.Conn
	t *connTracker
}

func (c *trackedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.note(err)
	return n, err
}

func (c *trackedConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.note(err)
	return n, err
}

func (c *trackedConn) note(err error) {
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		c.t.timedOut.Store(true)
	}
}
