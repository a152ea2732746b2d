package smtpfake_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/providers/smtp/smtpfake"
)

const rawMessage = "From: Sender <sender@example.com>\r\n" +
	"To: rcpt@example.org\r\n" +
	"Subject: =?UTF-8?q?Gr=C3=BC=C3=9Fe?=\r\n" +
	"Message-ID: <m1@example.com>\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/mixed; boundary=outer\r\n" +
	"\r\n" +
	"--outer\r\n" +
	"Content-Type: multipart/alternative; boundary=inner\r\n" +
	"\r\n" +
	"--inner\r\n" +
	"Content-Type: text/plain; charset=UTF-8\r\n" +
	"Content-Transfer-Encoding: quoted-printable\r\n" +
	"\r\n" +
	"Hello =C3=BC=\r\n" +
	"ber all\r\n" +
	"--inner\r\n" +
	"Content-Type: text/html; charset=UTF-8\r\n" +
	"\r\n" +
	"<p>Hello</p>\r\n" +
	"--inner--\r\n" +
	"--outer\r\n" +
	"Content-Type: application/pdf\r\n" +
	"Content-Transfer-Encoding: base64\r\n" +
	"Content-Disposition: attachment; filename*=UTF-8''%C3%BCber.pdf\r\n" +
	"\r\n" +
	"JVBERi0x\r\n" +
	"LjQK\r\n" +
	"--outer--\r\n"

func trust(t *testing.T, fake *smtpfake.Server) *tls.Config {
	t.Helper()
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(fake.CAPEM()))
	return &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS12}
}

// send runs one transaction on c.
func send(c *smtp.Client, from, to, data string) error {
	if err := c.Mail(from, nil); err != nil {
		return err
	}
	if err := c.Rcpt(to, nil); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write([]byte(data)); err != nil {
		return err
	}
	return w.Close()
}

func requireReply(t *testing.T, err error, code int, enhanced smtp.EnhancedCode) {
	t.Helper()
	var se *smtp.SMTPError
	require.True(t, errors.As(err, &se), "not an SMTP reply: %v", err)
	require.Equal(t, code, se.Code)
	require.Equal(t, enhanced, se.EnhancedCode)
}

func TestReceiveAndParse(t *testing.T) {
	t.Parallel()
	fake := smtpfake.New(t)
	c, err := smtp.Dial(fake.Addr())
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Hello("client.example.com"))
	require.NoError(t, send(c, "sender@example.com", "rcpt@example.org", rawMessage))
	require.NoError(t, c.Quit())

	sent := fake.Sent()
	require.Len(t, sent, 1)
	m := sent[0]
	require.NoError(t, m.ParseErr)
	require.True(t, m.Answered)
	require.False(t, m.TLS)
	require.Equal(t, "client.example.com", m.HELO)
	require.Equal(t, "sender@example.com", m.MailFrom)
	require.Equal(t, []string{"rcpt@example.org"}, m.RcptTo)
	require.Equal(t, rawMessage, string(m.Raw))
	require.Equal(t, "<m1@example.com>", m.Header.Get("Message-ID"))
	require.Equal(t, "Grüße", m.Subject)
	require.Equal(t, []string{"multipart/mixed", "multipart/alternative", "text/plain", "text/html", "application/pdf"}, m.Parts)
	require.Equal(t, "Hello über all", m.Text)
	require.Equal(t, "<p>Hello</p>", m.HTML)
	require.Equal(t, []smtpfake.Attachment{{Filename: "über.pdf", ContentType: "application/pdf", Content: []byte("%PDF-1.4\n")}}, m.Attachments)
}

func TestParseError(t *testing.T) {
	t.Parallel()
	fake := smtpfake.New(t)
	c, err := smtp.Dial(fake.Addr())
	require.NoError(t, err)
	defer c.Close()
	bad := "Subject: x\r\nContent-Type: multipart/mixed\r\n\r\nno boundary\r\n"
	require.NoError(t, send(c, "a@example.com", "b@example.org", bad))
	m := fake.Sent()[0]
	require.ErrorContains(t, m.ParseErr, "without boundary")
}

func TestTLS(t *testing.T) {
	t.Parallel()

	t.Run("STARTTLS", func(t *testing.T) {
		t.Parallel()
		fake := smtpfake.New(t, smtpfake.WithSTARTTLS())
		c, err := smtp.DialStartTLS(fake.Addr(), trust(t, fake))
		require.NoError(t, err)
		defer c.Close()
		require.NoError(t, send(c, "a@example.com", "b@example.org", rawMessage))
		require.True(t, fake.Sent()[0].TLS)
	})

	t.Run("STARTTLSUntrusted", func(t *testing.T) {
		t.Parallel()
		fake := smtpfake.New(t, smtpfake.WithSTARTTLS())
		c, err := smtp.DialStartTLS(fake.Addr(), &tls.Config{ServerName: "localhost", MinVersion: tls.VersionTLS12})
		require.NoError(t, err)
		defer c.Close()
		// The handshake runs with the first command after STARTTLS.
		err = c.Mail("a@example.com", nil)
		var verr *tls.CertificateVerificationError
		require.ErrorAs(t, err, &verr)
	})

	t.Run("NoSTARTTLSUnlessAsked", func(t *testing.T) {
		t.Parallel()
		fake := smtpfake.New(t)
		c, err := smtp.Dial(fake.Addr())
		require.NoError(t, err)
		defer c.Close()
		require.NoError(t, c.Hello("localhost"))
		ok, _ := c.Extension("STARTTLS")
		require.False(t, ok)
		ok, _ = c.Extension("ENHANCEDSTATUSCODES")
		require.True(t, ok)
	})

	t.Run("Implicit", func(t *testing.T) {
		t.Parallel()
		fake := smtpfake.New(t, smtpfake.WithImplicitTLS(), smtpfake.WithCertNames("mail.example.test"))
		cfg := trust(t, fake)
		cfg.ServerName = "mail.example.test"
		c, err := smtp.DialTLS(fake.Addr(), cfg)
		require.NoError(t, err)
		defer c.Close()
		require.NoError(t, send(c, "a@example.com", "b@example.org", rawMessage))
		require.True(t, fake.Sent()[0].TLS)
	})

	t.Run("RequireTLS", func(t *testing.T) {
		t.Parallel()
		fake := smtpfake.New(t, smtpfake.WithSTARTTLS(), smtpfake.WithRequireTLS())
		c, err := smtp.Dial(fake.Addr())
		require.NoError(t, err)
		defer c.Close()
		err = c.Mail("a@example.com", nil)
		requireReply(t, err, 530, smtp.EnhancedCode{5, 7, 0})
	})
}

func TestAuth(t *testing.T) {
	t.Parallel()
	const user, pass = "user", "pa55"

	dial := func(t *testing.T, opts ...smtpfake.Option) (*smtpfake.Server, *smtp.Client) {
		t.Helper()
		fake := smtpfake.New(t, append([]smtpfake.Option{smtpfake.WithSTARTTLS(), smtpfake.WithAuth(user, pass)}, opts...)...)
		c, err := smtp.DialStartTLS(fake.Addr(), trust(t, fake))
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close() })
		return fake, c
	}

	t.Run("Plain", func(t *testing.T) {
		t.Parallel()
		fake, c := dial(t)
		require.NoError(t, c.Auth(sasl.NewPlainClient("", user, pass)))
		require.NoError(t, send(c, "a@example.com", "b@example.org", rawMessage))
		m := fake.Sent()[0]
		require.Equal(t, "PLAIN", m.AuthMechanism)
		require.Equal(t, user, m.AuthUser)
	})

	t.Run("Login", func(t *testing.T) {
		t.Parallel()
		fake, c := dial(t)
		require.NoError(t, c.Auth(sasl.NewLoginClient(user, pass)))
		require.NoError(t, send(c, "a@example.com", "b@example.org", rawMessage))
		require.Equal(t, "LOGIN", fake.Sent()[0].AuthMechanism)
	})

	t.Run("PlainWrongPassword", func(t *testing.T) {
		t.Parallel()
		_, c := dial(t)
		requireReply(t, c.Auth(sasl.NewPlainClient("", user, "nope")), 535, smtp.EnhancedCode{5, 7, 8})
	})

	t.Run("LoginWrongUser", func(t *testing.T) {
		t.Parallel()
		_, c := dial(t)
		requireReply(t, c.Auth(sasl.NewLoginClient("other", pass)), 535, smtp.EnhancedCode{5, 7, 8})
	})

	t.Run("MechanismNotOffered", func(t *testing.T) {
		t.Parallel()
		_, c := dial(t, smtpfake.WithAuthMechanisms("LOGIN"))
		require.False(t, c.SupportsAuth("PLAIN"))
		require.True(t, c.SupportsAuth("LOGIN"))
		require.Error(t, c.Auth(sasl.NewPlainClient("", user, pass)))
	})

	t.Run("Required", func(t *testing.T) {
		t.Parallel()
		fake, c := dial(t)
		requireReply(t, c.Mail("a@example.com", nil), 530, smtp.EnhancedCode{5, 7, 0})
		require.Empty(t, fake.Sent())
	})

	t.Run("OnlyAfterTLS", func(t *testing.T) {
		t.Parallel()
		fake := smtpfake.New(t, smtpfake.WithSTARTTLS(), smtpfake.WithAuth(user, pass))
		c, err := smtp.Dial(fake.Addr())
		require.NoError(t, err)
		defer c.Close()
		require.NoError(t, c.Hello("localhost"))
		ok, _ := c.Extension("AUTH")
		require.False(t, ok)
	})

	t.Run("ClearTextWhenNoTLS", func(t *testing.T) {
		t.Parallel()
		fake := smtpfake.New(t, smtpfake.WithAuth(user, pass))
		c, err := smtp.Dial(fake.Addr())
		require.NoError(t, err)
		defer c.Close()
		require.NoError(t, c.Hello("localhost"))
		require.True(t, c.SupportsAuth("PLAIN"))
	})
}

func TestFaults(t *testing.T) {
	t.Parallel()

	t.Run("FailNextPerStage", func(t *testing.T) {
		t.Parallel()
		fake := smtpfake.New(t)
		fake.FailNext(1, smtpfake.StageMail, 451, "4.3.0")
		fake.FailNext(1, smtpfake.StageRcpt, 550, "5.1.1")
		fake.FailNext(1, smtpfake.StageData, 554, "5.7.1")
		fake.FailNext(1, smtpfake.StageData, 552, "")

		c, err := smtp.Dial(fake.Addr())
		require.NoError(t, err)
		defer c.Close()
		requireReply(t, send(c, "a@example.com", "b@example.org", rawMessage), 451, smtp.EnhancedCode{4, 3, 0})
		require.NoError(t, c.Reset())
		requireReply(t, send(c, "a@example.com", "b@example.org", rawMessage), 550, smtp.EnhancedCode{5, 1, 1})
		require.NoError(t, c.Reset())
		requireReply(t, send(c, "a@example.com", "b@example.org", rawMessage), 554, smtp.EnhancedCode{5, 7, 1})
		// Without an enhanced code in the reply the client reads zeros.
		requireReply(t, send(c, "a@example.com", "b@example.org", rawMessage), 552, smtp.EnhancedCode{})
		require.Empty(t, fake.Sent())
		require.NoError(t, send(c, "a@example.com", "b@example.org", rawMessage))
		require.Len(t, fake.Sent(), 1)
	})

	t.Run("FailNextConnect", func(t *testing.T) {
		t.Parallel()
		fake := smtpfake.New(t)
		fake.FailNext(1, smtpfake.StageConnect, 421, "4.7.0")
		c, err := smtp.Dial(fake.Addr())
		require.NoError(t, err)
		defer c.Close()
		// EHLO and the HELO fallback are both refused.
		requireReply(t, c.Hello("localhost"), 421, smtp.EnhancedCode{4, 7, 0})

		c2, err := smtp.Dial(fake.Addr())
		require.NoError(t, err)
		defer c2.Close()
		require.NoError(t, c2.Hello("localhost"))
	})

	t.Run("FailNextBadEnhancedCodePanics", func(t *testing.T) {
		t.Parallel()
		fake := smtpfake.New(t)
		require.Panics(t, func() { fake.FailNext(1, smtpfake.StageData, 550, "5.1") })
		require.Panics(t, func() { fake.FailNext(1, smtpfake.StageData, 550, "3.1.1") })
	})

	t.Run("Hang", func(t *testing.T) {
		t.Parallel()
		fake := smtpfake.New(t)
		fake.Hang(1)
		c, err := smtp.Dial(fake.Addr())
		require.NoError(t, err)
		defer c.Close()
		c.SubmissionTimeout = 500 * time.Millisecond
		err = send(c, "a@example.com", "b@example.org", rawMessage)
		var ne net.Error
		require.ErrorAs(t, err, &ne)
		require.True(t, ne.Timeout())
		sent := fake.Sent()
		require.Len(t, sent, 1)
		require.False(t, sent[0].Answered)
	})

	t.Run("HangReleasedByClose", func(t *testing.T) {
		t.Parallel()
		fake := smtpfake.New(t)
		fake.Hang(1)
		c, err := smtp.Dial(fake.Addr())
		require.NoError(t, err)
		defer c.Close()
		done := make(chan error, 1)
		go func() { done <- send(c, "a@example.com", "b@example.org", rawMessage) }()
		require.Eventually(t, func() bool { return len(fake.Sent()) == 1 }, 5*time.Second, 10*time.Millisecond)
		start := time.Now()
		fake.Close()
		fake.Close() // idempotent
		require.Error(t, <-done)
		require.Less(t, time.Since(start), 2*time.Second)
	})

	t.Run("Drop", func(t *testing.T) {
		t.Parallel()
		fake := smtpfake.New(t)
		fake.Drop(1)
		c, err := smtp.Dial(fake.Addr())
		require.NoError(t, err)
		defer c.Close()
		err = send(c, "a@example.com", "b@example.org", rawMessage)
		require.Error(t, err)
		var se *smtp.SMTPError
		require.False(t, errors.As(err, &se), "a dropped connection gives no reply: %v", err)
		require.Len(t, fake.Sent(), 1)
	})

	t.Run("DownAndUp", func(t *testing.T) {
		t.Parallel()
		fake := smtpfake.New(t)
		fake.Down()
		c, err := smtp.Dial(fake.Addr())
		require.NoError(t, err, "the TCP connection is accepted")
		require.Error(t, c.Hello("localhost"), "and closed before the greeting")
		_ = c.Close()
		fake.Up()
		c, err = smtp.Dial(fake.Addr())
		require.NoError(t, err)
		require.NoError(t, c.Hello("localhost"))
		require.NoError(t, c.Close())
	})

	t.Run("MaxMessageBytes", func(t *testing.T) {
		t.Parallel()
		fake := smtpfake.New(t, smtpfake.WithMaxMessageBytes(100))
		c, err := smtp.Dial(fake.Addr())
		require.NoError(t, err)
		defer c.Close()
		err = send(c, "a@example.com", "b@example.org", rawMessage+strings.Repeat("x", 200))
		requireReply(t, err, 552, smtp.EnhancedCode{5, 3, 4})
		require.Empty(t, fake.Sent())
	})
}
