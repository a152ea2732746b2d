// Package smtpfake runs a real SMTP server (github.com/emersion/go-smtp) on
// 127.0.0.1 for tests. It speaks ESMTP with ENHANCEDSTATUSCODES, optional
// STARTTLS or implicit TLS with a self-signed certificate made at start
// (trust it through CAPEM), and AUTH PLAIN and LOGIN against configured
// credentials.
//
// Every message the server takes is recorded and parsed (headers, the
// text and HTML parts, attachments), so tests can assert what arrived and
// that it arrived exactly once (Sent). Faults are scripted per message:
// FailNext answers a given reply code at a given stage, Hang holds the
// reply until the client gives up, Drop closes the connection without a
// reply, Down refuses every connection.
//
//	fake := smtpfake.New(t, smtpfake.WithSTARTTLS(), smtpfake.WithAuth("user", "secret"))
//	cfg := smtp.Config{
//		Host:     fake.Host(),
//		Port:     fake.Port(),
//		Username: "user",
//		Password: "secret",
//		From:     "noreply@example.com",
//		CAPEM:    string(fake.CAPEM()),
//	}
package smtpfake

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/mail"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Stage is the point of the SMTP dialogue where a scripted fault strikes.
type Stage string

// Stages.
const (
	// StageConnect is the reply to EHLO (and HELO): the whole session is
	// refused, as a server does for a blocked client or when overloaded.
	StageConnect Stage = "connect"
	// StageMail is the reply to MAIL FROM.
	StageMail Stage = "mail"
	// StageRcpt is the reply to RCPT TO.
	StageRcpt Stage = "rcpt"
	// StageData is the reply after the message data (the final ".").
	StageData Stage = "data"
)

// Attachment is one attachment of a received message, decoded.
type Attachment struct {
	Filename    string
	ContentType string // media type without parameters
	Content     []byte
}

// Message is one message the server took.
type Message struct {
	// Envelope and session.
	MailFrom      string
	RcptTo        []string
	HELO          string
	TLS           bool
	AuthMechanism string // "PLAIN", "LOGIN" or "" without AUTH
	AuthUser      string
	// Raw is the message data as received.
	Raw []byte
	// The parsed message. ParseErr is set when Raw is not a well-formed
	// MIME message; the fields then hold what could be read.
	Header  mail.Header
	Subject string // decoded
	// Text and HTML are the first text/plain and text/html parts that are
	// not attachments, decoded, with LF line ends.
	Text        string
	HTML        string
	Attachments []Attachment
	// Parts lists the media types of the MIME tree depth first, for
	// example multipart/mixed, multipart/alternative, text/plain,
	// text/html, application/pdf.
	Parts    []string
	ParseErr error
	// Answered is false when the server took the message but never said
	// so (Hang, Drop): the client cannot know it was sent.
	Answered bool
	At       time.Time
}

// Option configures a Server.
type Option func(*Server)

// WithSTARTTLS offers STARTTLS on the clear-text port.
func WithSTARTTLS() Option { return func(s *Server) { s.startTLS = true } }

// WithImplicitTLS makes the server speak TLS from the first byte, like
// port 465.
func WithImplicitTLS() Option { return func(s *Server) { s.implicitTLS = true } }

// WithRequireTLS refuses MAIL FROM on a connection that is not encrypted
// with 530 5.7.0, as submission servers do.
func WithRequireTLS() Option { return func(s *Server) { s.requireTLS = true } }

// WithAuth sets the one username and password the server accepts, and
// makes AUTH required: MAIL FROM without it is answered 530 5.7.0. AUTH
// is offered only over TLS, unless the server has no TLS at all.
func WithAuth(username, password string) Option {
	return func(s *Server) { s.username, s.password = username, password }
}

// WithAuthMechanisms sets the AUTH mechanisms offered, from "PLAIN" and
// "LOGIN" (default both, in that order).
func WithAuthMechanisms(mechs ...string) Option {
	return func(s *Server) { s.mechs = mechs }
}

// WithMaxMessageBytes makes the server refuse larger messages with
// 552 5.3.4 and advertise the limit in SIZE.
func WithMaxMessageBytes(n int64) Option { return func(s *Server) { s.maxBytes = n } }

// WithCertNames adds DNS names to the server certificate, which always
// covers localhost, 127.0.0.1 and ::1.
func WithCertNames(names ...string) Option {
	return func(s *Server) { s.certNames = append(s.certNames, names...) }
}

// fault is one scripted misbehaviour for one message.
type fault struct {
	stage    Stage
	kind     faultKind
	code     int
	enhanced smtp.EnhancedCode
}

type faultKind int

const (
	faultReply faultKind = iota
	faultHang
	faultDrop
)

// Server is a running fake SMTP server. All methods are safe for
// concurrent use.
type Server struct {
	// Fixed at construction.
	startTLS, implicitTLS, requireTLS bool
	username, password                string
	mechs                             []string
	maxBytes                          int64
	certNames                         []string
	caPEM                             []byte

	srv       *smtp.Server
	ln        *gateListener
	addr      *net.TCPAddr
	served    chan struct{}
	ctx       context.Context // canceled by Close; ends holds
	cancel    context.CancelFunc
	closeOnce sync.Once

	mu      sync.Mutex
	faults  []fault
	refused map[*smtp.Conn]fault // connections refused at StageConnect
	sent    []Message
}

// New starts a server on 127.0.0.1 and closes it when the test ends.
func New(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		mechs:   []string{sasl.Plain, sasl.Login},
		served:  make(chan struct{}),
		ctx:     ctx,
		cancel:  cancel,
		refused: map[*smtp.Conn]fault{},
	}
	for _, o := range opts {
		o(s)
	}
	cert, caPEM, err := selfSigned(s.certNames)
	if err != nil {
		tb.Fatalf("smtpfake: %v", err)
	}
	s.caPEM = caPEM
	tlsConfig := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}

	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("smtpfake: listen: %v", err)
	}
	s.addr = raw.Addr().(*net.TCPAddr)
	s.ln = &gateListener{Listener: raw}
	var ln net.Listener = s.ln
	if s.implicitTLS {
		ln = tls.NewListener(ln, tlsConfig)
	}

	srv := smtp.NewServer(backend{s})
	srv.Domain = "localhost"
	srv.ErrorLog = log.New(io.Discard, "", 0)
	// Bounds for idle connections; Hang controls its own waiting.
	srv.ReadTimeout = 5 * time.Minute
	srv.WriteTimeout = 30 * time.Second
	srv.MaxMessageBytes = s.maxBytes
	if s.startTLS || s.implicitTLS {
		srv.TLSConfig = tlsConfig
	}
	// A server without any TLS may only authenticate in clear text.
	srv.AllowInsecureAuth = !s.startTLS && !s.implicitTLS
	s.srv = srv
	go func() {
		defer close(s.served)
		_ = srv.Serve(ln)
	}()
	tb.Cleanup(s.Close)
	return s
}

// Host is the address the server listens on, "127.0.0.1".
func (s *Server) Host() string { return s.addr.IP.String() }

// Port is the server's port.
func (s *Server) Port() int { return s.addr.Port }

// Addr is "127.0.0.1:<port>".
func (s *Server) Addr() string { return net.JoinHostPort(s.Host(), strconv.Itoa(s.Port())) }

// CAPEM is the server certificate in PEM. It is self-signed, so it is its
// own CA: a client that trusts it accepts the server.
func (s *Server) CAPEM() []byte { return bytes.Clone(s.caPEM) }

// Close stops the server and releases held replies. It is safe to call
// more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.cancel()
		_ = s.srv.Close()
		// go-smtp closes only the listeners Serve has registered; if Close
		// comes before Serve got going, this one ends it.
		_ = s.ln.Close()
		<-s.served
	})
}

// FailNext makes the next n messages fail at stage with the reply code and
// enhanced status code ("5.1.1"; empty for none). Scripted faults queue up
// in order; each strikes when a message reaches its stage. A fault at
// StageConnect refuses every EHLO and HELO of one connection.
func (s *Server) FailNext(n int, at Stage, code int, enhanced string) {
	ec := smtp.NoEnhancedCode
	if enhanced != "" {
		var err error
		if ec, err = parseEnhanced(enhanced); err != nil {
			panic(fmt.Sprintf("smtpfake: FailNext: %v", err))
		}
	}
	s.push(n, fault{stage: at, kind: faultReply, code: code, enhanced: ec})
}

// Hang makes the server take the next n messages (they are recorded, not
// answered) and hold the reply to the data until the client closes the
// connection or the server closes. This is how a timeout with an unknown
// outcome looks.
func (s *Server) Hang(n int) { s.HangAt(n, StageData) }

// HangAt holds the reply at stage for the next n messages. Before
// StageData nothing is recorded.
func (s *Server) HangAt(n int, at Stage) { s.push(n, fault{stage: at, kind: faultHang}) }

// Drop makes the server take the next n messages (recorded, not answered)
// and close the connection instead of replying to the data.
func (s *Server) Drop(n int) { s.push(n, fault{stage: StageData, kind: faultDrop}) }

// Down makes the server close every new connection before the greeting,
// until Up.
func (s *Server) Down() { s.ln.down.Store(true) }

// Up ends Down.
func (s *Server) Up() { s.ln.down.Store(false) }

// Sent returns the messages taken so far, oldest first.
func (s *Server) Sent() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, len(s.sent))
	copy(out, s.sent)
	return out
}

func (s *Server) push(n int, f fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults = append(s.faults, f)
	}
}

// take pops the next fault if it is for stage.
func (s *Server) take(stage Stage) (fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.faults) == 0 || s.faults[0].stage != stage {
		return fault{}, false
	}
	f := s.faults[0]
	s.faults = s.faults[1:]
	return f, true
}

func (s *Server) record(m Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = append(s.sent, m)
}

// hold waits until the client closes c or the server closes. A client
// waiting for a reply sends nothing, so any read that does not time out
// means the connection is gone.
func (s *Server) hold(c net.Conn) {
	buf := make([]byte, 512)
	for s.ctx.Err() == nil {
		_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		if _, err := c.Read(buf); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			return
		}
	}
}

// apply carries out a fault at a stage other than the data, returning the
// reply to give.
func (s *Server) apply(f fault, conn *smtp.Conn) error {
	switch f.kind {
	case faultHang:
		s.hold(conn.Conn())
		return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 4, 2}, Message: "Timeout"}
	case faultDrop:
		_ = conn.Conn().Close()
		return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 4, 0}, Message: "Dropped"}
	}
	return replyError(f)
}

func replyError(f fault) *smtp.SMTPError {
	return &smtp.SMTPError{Code: f.code, EnhancedCode: f.enhanced, Message: replyText(f.code)}
}

// replyText is the usual text of a reply code (RFC 5321, RFC 4954).
func replyText(code int) string {
	switch code {
	case 421:
		return "Service not available, closing transmission channel"
	case 432:
		return "A password transition is needed"
	case 450:
		return "Requested mail action not taken: mailbox unavailable"
	case 451:
		return "Requested action aborted: local error in processing"
	case 452:
		return "Requested action not taken: insufficient system storage"
	case 454:
		return "Temporary authentication failure"
	case 500:
		return "Syntax error, command unrecognized"
	case 501:
		return "Syntax error in parameters or arguments"
	case 502:
		return "Command not implemented"
	case 503:
		return "Bad sequence of commands"
	case 504:
		return "Command parameter not implemented"
	case 530:
		return "Authentication required"
	case 534:
		return "Authentication mechanism is too weak"
	case 535:
		return "Authentication credentials invalid"
	case 538:
		return "Encryption required for requested authentication mechanism"
	case 550:
		return "Requested action not taken: mailbox unavailable"
	case 551:
		return "User not local"
	case 552:
		return "Requested mail action aborted: exceeded storage allocation"
	case 553:
		return "Requested action not taken: mailbox name not allowed"
	case 554:
		return "Transaction failed"
	}
	return "Scripted reply"
}

func parseEnhanced(s string) (smtp.EnhancedCode, error) {
	var ec smtp.EnhancedCode
	if _, err := fmt.Sscanf(s, "%d.%d.%d", &ec[0], &ec[1], &ec[2]); err != nil {
		return ec, fmt.Errorf("enhanced code %q is not like 5.1.1", s)
	}
	if ec[0] != 2 && ec[0] != 4 && ec[0] != 5 {
		return ec, fmt.Errorf("enhanced code %q must start with 2, 4 or 5", s)
	}
	return ec, nil
}

// backend creates a session per EHLO, refusing the connection when a
// StageConnect fault is due.
type backend struct{ s *Server }

func (b backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	s := b.s
	s.mu.Lock()
	f, refused := s.refused[c]
	s.mu.Unlock()
	if !refused {
		f, refused = s.take(StageConnect)
		if refused {
			s.mu.Lock()
			s.refused[c] = f
			s.mu.Unlock()
		}
	}
	if refused {
		return nil, s.apply(f, c)
	}
	return &session{s: s, conn: c}, nil
}

// session is one EHLO's worth of SMTP state.
type session struct {
	s        *Server
	conn     *smtp.Conn
	authMech string
	authUser string
	from     string
	to       []string
}

var (
	_ smtp.Session     = (*session)(nil)
	_ smtp.AuthSession = (*session)(nil)
)

func (ss *session) AuthMechanisms() []string {
	if ss.s.username == "" {
		return nil
	}
	return ss.s.mechs
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	if ss.s.username == "" {
		return nil, smtp.ErrAuthUnsupported
	}
	check := func(user, pass string) error {
		if user != ss.s.username || pass != ss.s.password {
			return smtp.ErrAuthFailed
		}
		ss.authMech, ss.authUser = mech, user
		return nil
	}
	for _, m := range ss.s.mechs {
		if m != mech {
			continue
		}
		switch mech {
		case sasl.Plain:
			return sasl.NewPlainServer(func(identity, user, pass string) error {
				if identity != "" && identity != user {
					return smtp.ErrAuthFailed
				}
				return check(user, pass)
			}), nil
		case sasl.Login:
			return &loginServer{check: check}, nil
		}
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	_, isTLS := ss.conn.TLSConnectionState()
	if ss.s.requireTLS && !isTLS {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Must issue a STARTTLS command first"}
	}
	if ss.s.username != "" && ss.authUser == "" {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}
	}
	if f, ok := ss.s.take(StageMail); ok {
		return ss.s.apply(f, ss.conn)
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if f, ok := ss.s.take(StageRcpt); ok {
		return ss.s.apply(f, ss.conn)
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		// Over MaxMessageBytes: go-smtp's own 552 5.3.4.
		return err
	}
	f, faulty := ss.s.take(StageData)
	if faulty && f.kind == faultReply {
		return replyError(f)
	}
	m := ss.message(raw)
	m.Answered = !faulty
	ss.s.record(m)
	if faulty {
		return ss.s.apply(f, ss.conn)
	}
	return nil
}

func (ss *session) message(raw []byte) Message {
	_, isTLS := ss.conn.TLSConnectionState()
	m := Message{
		MailFrom:      ss.from,
		RcptTo:        append([]string(nil), ss.to...),
		HELO:          ss.conn.Hostname(),
		TLS:           isTLS,
		AuthMechanism: ss.authMech,
		AuthUser:      ss.authUser,
		Raw:           raw,
		At:            time.Now(),
	}
	parseInto(&m)
	return m
}

func (ss *session) Reset() {
	ss.from = ""
	ss.to = nil
}

func (ss *session) Logout() error { return nil }

// loginServer is the server side of AUTH LOGIN (draft-murchison-sasl-login):
// it asks for the username, then the password. go-sasl has no server for
// it.
type loginServer struct {
	step  int
	user  string
	check func(user, pass string) error
}

func (l *loginServer) Next(response []byte) (challenge []byte, done bool, err error) {
	switch l.step {
	case 0:
		if response != nil {
			// The username came as an initial response.
			l.user, l.step = string(response), 2
			return []byte("Password:"), false, nil
		}
		l.step = 1
		return []byte("Username:"), false, nil
	case 1:
		l.user, l.step = string(response), 2
		return []byte("Password:"), false, nil
	case 2:
		l.step = 3
		return nil, true, l.check(l.user, string(response))
	}
	return nil, false, sasl.ErrUnexpectedClientResponse
}

// gateListener closes accepted connections while the server is down.
type gateListener struct {
	net.Listener
	down atomic.Bool
}

func (l *gateListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if !l.down.Load() {
			return c, nil
		}
		_ = c.Close()
	}
}
