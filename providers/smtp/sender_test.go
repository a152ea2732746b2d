package smtp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/providers/smtp/smtpfake"
)

const (
	taskID   = "7c2b36f4-6f7e-4d7c-9a53-3d3f0e4b8f11"
	from     = "noreply@example.com"
	receiver = "alice@example.org"
	username = "herald"
	password = "s3cret-passw0rd"
)

var sendTime = time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)

// fakeConfig points an account at fake with the given TLS mode.
func fakeConfig(fake *smtpfake.Server, mode string) Config {
	return Config{
		Host:           fake.Host(),
		Port:           fake.Port(),
		From:           from,
		FromName:       "Herald Alerts",
		TLSMode:        mode,
		CAPEM:          string(fake.CAPEM()),
		TimeoutSeconds: 5,
	}
}

func withAuth(c Config) Config {
	c.Username, c.Password = username, password
	return c
}

func newSender(t *testing.T, cfg Config, opts ...Option) *Sender {
	t.Helper()
	opts = append([]Option{WithClock(func() time.Time { return sendTime })}, opts...)
	s, err := NewSender(cfg, opts...)
	require.NoError(t, err)
	return s
}

func message() providers.Message {
	return providers.Message{
		TaskID:      taskID,
		Attempt:     1,
		Receiver:    receiver,
		Subject:     "Your code",
		Content:     "Your code is 4711.",
		ContentType: "text",
	}
}

func requireClass(t *testing.T, err error, class providers.Class, code string) *providers.Error {
	t.Helper()
	require.Error(t, err)
	var pe *providers.Error
	require.True(t, errors.As(err, &pe), "not a *providers.Error: %v", err)
	require.Equal(t, class, pe.Class, "error: %v", err)
	require.Equal(t, code, pe.Code, "error: %v", err)
	require.NotContains(t, pe.Error(), receiver, "the receiver leaks into the error")
	return pe
}

func TestSendOK(t *testing.T) {
	t.Parallel()

	t.Run("PlainNoTLS", func(t *testing.T) {
		t.Parallel()
		fake := smtpfake.New(t)
		s := newSender(t, fakeConfig(fake, TLSNone))
		res, err := s.Send(context.Background(), message())
		require.NoError(t, err)
		require.Equal(t, providers.Result{ProviderMessageID: "<" + taskID + "@herald.invalid>", Delivered: true}, res)

		sent := fake.Sent()
		require.Len(t, sent, 1)
		m := sent[0]
		require.NoError(t, m.ParseErr)
		require.True(t, m.Answered)
		require.False(t, m.TLS)
		require.Empty(t, m.AuthMechanism)
		require.Equal(t, from, m.MailFrom)
		require.Equal(t, []string{receiver}, m.RcptTo)
		require.Equal(t, res.ProviderMessageID, m.Header.Get("Message-ID"))
		require.Equal(t, taskID, m.Header.Get(HeaderTaskID))
		require.Equal(t, `"Herald Alerts" <noreply@example.com>`, m.Header.Get("From"))
		require.Equal(t, "<"+receiver+">", m.Header.Get("To"))
		require.Equal(t, "Your code", m.Subject)
		date, err := m.Header.Date()
		require.NoError(t, err)
		require.True(t, sendTime.Equal(date), "date %v", date)
		require.Empty(t, m.Header.Get("User-Agent"))
		require.Equal(t, []string{"text/plain"}, m.Parts)
		require.Equal(t, "Your code is 4711.", m.Text)
		require.Empty(t, m.HTML)
	})

	t.Run("STARTTLSWithPlainAuth", func(t *testing.T) {
		t.Parallel()
		fake := smtpfake.New(t, smtpfake.WithSTARTTLS(), smtpfake.WithRequireTLS(), smtpfake.WithAuth(username, password))
		s := newSender(t, withAuth(fakeConfig(fake, TLSStartTLS)))
		_, err := s.Send(context.Background(), message())
		require.NoError(t, err)
		sent := fake.Sent()
		require.Len(t, sent, 1)
		require.True(t, sent[0].TLS)
		require.Equal(t, "PLAIN", sent[0].AuthMechanism)
		require.Equal(t, username, sent[0].AuthUser)
	})

	t.Run("STARTTLSWithLoginAuth", func(t *testing.T) {
		t.Parallel()
		fake := smtpfake.New(t, smtpfake.WithSTARTTLS(), smtpfake.WithAuth(username, password), smtpfake.WithAuthMechanisms("LOGIN"))
		s := newSender(t, withAuth(fakeConfig(fake, TLSStartTLS)))
		_, err := s.Send(context.Background(), message())
		require.NoError(t, err)
		sent := fake.Sent()
		require.Len(t, sent, 1)
		require.True(t, sent[0].TLS)
		require.Equal(t, "LOGIN", sent[0].AuthMechanism)
	})

	t.Run("ImplicitTLS", func(t *testing.T) {
		t.Parallel()
		fake := smtpfake.New(t, smtpfake.WithImplicitTLS(), smtpfake.WithAuth(username, password))
		s := newSender(t, withAuth(fakeConfig(fake, TLSImplicit)))
		_, err := s.Send(context.Background(), message())
		require.NoError(t, err)
		sent := fake.Sent()
		require.Len(t, sent, 1)
		require.True(t, sent[0].TLS)
		require.Equal(t, "PLAIN", sent[0].AuthMechanism)
	})

	t.Run("STARTTLSOptionalUpgrades", func(t *testing.T) {
		t.Parallel()
		fake := smtpfake.New(t, smtpfake.WithSTARTTLS())
		s := newSender(t, fakeConfig(fake, TLSStartTLSOptional))
		_, err := s.Send(context.Background(), message())
		require.NoError(t, err)
		require.True(t, fake.Sent()[0].TLS)
	})

	t.Run("STARTTLSOptionalFallsBackToClearText", func(t *testing.T) {
		t.Parallel()
		fake := smtpfake.New(t)
		s := newSender(t, fakeConfig(fake, TLSStartTLSOptional))
		_, err := s.Send(context.Background(), message())
		require.NoError(t, err)
		require.False(t, fake.Sent()[0].TLS)
	})

	t.Run("AuthInClearTextOnLocalhost", func(t *testing.T) {
		t.Parallel()
		fake := smtpfake.New(t, smtpfake.WithAuth(username, password), smtpfake.WithAuthMechanisms("LOGIN"))
		s := newSender(t, withAuth(fakeConfig(fake, TLSNone)))
		_, err := s.Send(context.Background(), message())
		require.NoError(t, err)
		require.Equal(t, "LOGIN", fake.Sent()[0].AuthMechanism)
	})

	t.Run("InsecureSkipVerify", func(t *testing.T) {
		t.Parallel()
		fake := smtpfake.New(t, smtpfake.WithImplicitTLS())
		cfg := fakeConfig(fake, TLSImplicit)
		cfg.CAPEM, cfg.InsecureSkipVerify = "", true
		s := newSender(t, cfg)
		_, err := s.Send(context.Background(), message())
		require.NoError(t, err)
	})

	t.Run("TLSServerName", func(t *testing.T) {
		t.Parallel()
		fake := smtpfake.New(t, smtpfake.WithSTARTTLS(), smtpfake.WithCertNames("relay.internal.test"))
		cfg := fakeConfig(fake, TLSStartTLS)
		cfg.TLSServerName = "relay.internal.test"
		s := newSender(t, cfg)
		_, err := s.Send(context.Background(), message())
		require.NoError(t, err)
	})

	t.Run("HELOName", func(t *testing.T) {
		t.Parallel()
		fake := smtpfake.New(t)
		cfg := fakeConfig(fake, TLSNone)
		cfg.HELOName = "mailer.example.com"
		s := newSender(t, cfg)
		_, err := s.Send(context.Background(), message())
		require.NoError(t, err)
		require.Equal(t, "mailer.example.com", fake.Sent()[0].HELO)
	})

	t.Run("DisplayNameReceiverAndUnicodeSubject", func(t *testing.T) {
		t.Parallel()
		fake := smtpfake.New(t)
		s := newSender(t, fakeConfig(fake, TLSNone))
		msg := message()
		msg.Receiver = "Zoë Example <zoe@example.org>"
		msg.Subject = "Prüfung 验证码\r\nBcc: evil@example.net"
		_, err := s.Send(context.Background(), msg)
		require.NoError(t, err)
		m := fake.Sent()[0]
		require.Equal(t, []string{"zoe@example.org"}, m.RcptTo)
		to, err := m.Header.AddressList("To")
		require.NoError(t, err)
		require.Equal(t, "Zoë Example", to[0].Name)
		require.Equal(t, "Prüfung 验证码  Bcc: evil@example.net", m.Subject)
		require.Empty(t, m.Header.Get("Bcc"))
	})

	t.Run("OneMessageIDPerTask", func(t *testing.T) {
		t.Parallel()
		// Two attempts through two accounts with different from domains:
		// the resend carries the first one's Message-ID.
		fake := smtpfake.New(t)
		first := fakeConfig(fake, TLSNone)
		second := fakeConfig(fake, TLSNone)
		second.From = "alerts@other.example.net"
		msg := message()
		msg.Attempt = 1
		res1, err := newSender(t, first).Send(context.Background(), msg)
		require.NoError(t, err)
		msg.Attempt = 2
		res2, err := newSender(t, second).Send(context.Background(), msg)
		require.NoError(t, err)
		require.Equal(t, "<"+taskID+"@herald.invalid>", res1.ProviderMessageID)
		require.Equal(t, res1.ProviderMessageID, res2.ProviderMessageID)
		sent := fake.Sent()
		require.Len(t, sent, 2)
		require.Equal(t, sent[0].Header.Get("Message-ID"), sent[1].Header.Get("Message-ID"))
		require.Equal(t, res1.ProviderMessageID, sent[0].Header.Get("Message-ID"))
		require.Equal(t, []string{"1", "2"}, []string{sent[0].Header.Get(HeaderAttempt), sent[1].Header.Get(HeaderAttempt)})

		// An account may name the domain.
		third := fakeConfig(fake, TLSNone)
		third.MessageIDDomain = "Mail.Example.COM"
		res3, err := newSender(t, third).Send(context.Background(), msg)
		require.NoError(t, err)
		require.Equal(t, "<"+taskID+"@mail.example.com>", res3.ProviderMessageID)
	})

	t.Run("Concurrent", func(t *testing.T) {
		t.Parallel()
		fake := smtpfake.New(t, smtpfake.WithSTARTTLS(), smtpfake.WithAuth(username, password))
		s := newSender(t, withAuth(fakeConfig(fake, TLSStartTLS)))
		const n = 8
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				msg := message()
				msg.TaskID = fmt.Sprintf("%s-%d", taskID, i)
				_, errs[i] = s.Send(context.Background(), msg)
			}()
		}
		wg.Wait()
		for _, err := range errs {
			require.NoError(t, err)
		}
		ids := map[string]bool{}
		for _, m := range fake.Sent() {
			ids[m.Header.Get("Message-ID")] = true
		}
		require.Len(t, ids, n)
	})
}

func TestSendHTMLAndAttachments(t *testing.T) {
	t.Parallel()
	fake := smtpfake.New(t)
	s := newSender(t, fakeConfig(fake, TLSNone))
	pdf := make([]byte, 3000)
	for i := range pdf {
		pdf[i] = byte(i * 7)
	}
	html := `<html><head><title>Reset</title><style>p{color:red}</style></head><body>` +
		`<h1>Hello Alice</h1><p>Click <a href="https://example.com/reset?t=abc&amp;u=1">here</a> to reset.</p>` +
		`<ul><li>One</li><li>Two &amp; three</li></ul></body></html>`
	msg := message()
	msg.ContentType = "html"
	msg.Content = html
	msg.Attachments = []providers.Attachment{
		{Filename: "report.pdf", ContentType: "application/pdf", Content: pdf},
		{Filename: "../notes/Übersicht.txt", ContentType: "text/plain; charset=utf-8", Content: []byte("Grüße\n")},
		{Content: []byte("no name, no type")},
	}
	_, err := s.Send(context.Background(), msg)
	require.NoError(t, err)

	m := fake.Sent()[0]
	require.NoError(t, m.ParseErr)
	require.Equal(t, []string{
		"multipart/mixed", "multipart/alternative", "text/plain", "text/html",
		"application/pdf", "text/plain", "application/octet-stream",
	}, m.Parts)
	require.Equal(t, html, m.HTML)
	require.Equal(t, "Hello Alice\n\nClick here (https://example.com/reset?t=abc&u=1) to reset.\n\n- One\n- Two & three", m.Text)
	require.Len(t, m.Attachments, 3)
	require.Equal(t, smtpfake.Attachment{Filename: "report.pdf", ContentType: "application/pdf", Content: pdf}, m.Attachments[0])
	require.Equal(t, smtpfake.Attachment{Filename: "Übersicht.txt", ContentType: "text/plain", Content: []byte("Grüße\n")}, m.Attachments[1])
	require.Equal(t, smtpfake.Attachment{Filename: "attachment-3", ContentType: "application/octet-stream", Content: []byte("no name, no type")}, m.Attachments[2])
}

func TestSendBeforeConnecting(t *testing.T) {
	t.Parallel()
	var dials atomic.Int32
	countingDialer := WithDialer(func(context.Context, string, string) (net.Conn, error) {
		dials.Add(1)
		return nil, errors.New("dial must not happen")
	})
	cfg := Config{Host: "127.0.0.1", Port: 2525, From: from, TLSMode: TLSNone, MaxAttachmentBytes: 1000}
	s := newSender(t, cfg, countingDialer)

	tests := []struct {
		name  string
		edit  func(*providers.Message)
		class providers.Class
		code  string
	}{
		{"AttachmentsTooLarge", func(m *providers.Message) {
			m.Attachments = []providers.Attachment{{Filename: "a", Content: make([]byte, 600)}, {Filename: "b", Content: make([]byte, 401)}}
		}, providers.ClassPermanent, CodeAttachmentsTooLarge},
		{"InvalidAttachmentType", func(m *providers.Message) {
			m.Attachments = []providers.Attachment{{Filename: "a", ContentType: "text/plain\r\nX-Evil: 1", Content: []byte("x")}}
		}, providers.ClassPermanent, CodeInvalidAttachment},
		{"QuotedLineBreakInAttachmentType", func(m *providers.Message) {
			m.Attachments = []providers.Attachment{{Filename: "a", ContentType: "text/plain; x=\"a\r\nX-Evil: 1\"", Content: []byte("x")}}
		}, providers.ClassPermanent, CodeInvalidAttachment},
		{"EmptyReceiver", func(m *providers.Message) { m.Receiver = "" }, providers.ClassPermanent, CodeInvalidReceiver},
		{"NotAnAddress", func(m *providers.Message) { m.Receiver = "alice" }, providers.ClassPermanent, CodeInvalidReceiver},
		{"TwoReceivers", func(m *providers.Message) { m.Receiver = "a@example.org, b@example.org" }, providers.ClassPermanent, CodeInvalidReceiver},
		{"Cancelled", nil, providers.ClassTransient, CodeCancelled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			msg := message()
			if tc.edit != nil {
				tc.edit(&msg)
			} else {
				var cancel context.CancelFunc
				ctx, cancel = context.WithCancel(ctx)
				cancel()
			}
			_, err := s.Send(ctx, msg)
			requireClass(t, err, tc.class, tc.code)
		})
	}
	t.Run("AtTheLimit", func(t *testing.T) {
		t.Parallel()
		msg := message()
		msg.Attachments = []providers.Attachment{{Filename: "a", Content: make([]byte, 1000)}}
		_, err := s.Send(context.Background(), msg)
		// Past the size check, it dials.
		requireClass(t, err, providers.ClassTransient, CodeConnect)
	})
	t.Cleanup(func() { require.Equal(t, int32(1), dials.Load()) })
}

func TestSendRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		stage    smtpfake.Stage
		code     int
		enhanced string
		class    providers.Class
	}{
		{smtpfake.StageConnect, 421, "4.3.2", providers.ClassTransient},
		{smtpfake.StageConnect, 554, "5.7.1", providers.ClassAccount},
		{smtpfake.StageConnect, 554, "", providers.ClassAccount},
		{smtpfake.StageMail, 421, "4.7.0", providers.ClassTransient},
		{smtpfake.StageMail, 451, "4.3.0", providers.ClassTransient},
		{smtpfake.StageMail, 530, "5.7.0", providers.ClassConfig},
		{smtpfake.StageMail, 553, "5.1.8", providers.ClassConfig},
		{smtpfake.StageMail, 550, "", providers.ClassConfig},
		{smtpfake.StageMail, 550, "5.7.1", providers.ClassAccount},
		{smtpfake.StageMail, 552, "5.3.4", providers.ClassPermanent},
		{smtpfake.StageRcpt, 450, "4.2.1", providers.ClassTransient},
		{smtpfake.StageRcpt, 452, "4.5.3", providers.ClassTransient},
		{smtpfake.StageRcpt, 550, "5.1.1", providers.ClassPermanent},
		{smtpfake.StageRcpt, 551, "5.1.6", providers.ClassPermanent},
		{smtpfake.StageRcpt, 553, "5.1.3", providers.ClassPermanent},
		{smtpfake.StageRcpt, 550, "", providers.ClassPermanent},
		{smtpfake.StageRcpt, 550, "5.7.1", providers.ClassAccount},
		{smtpfake.StageData, 421, "4.4.2", providers.ClassTransient},
		{smtpfake.StageData, 451, "4.3.0", providers.ClassTransient},
		{smtpfake.StageData, 452, "4.3.1", providers.ClassTransient},
		{smtpfake.StageData, 552, "5.3.4", providers.ClassPermanent},
		{smtpfake.StageData, 554, "5.6.0", providers.ClassPermanent},
		{smtpfake.StageData, 554, "5.7.1", providers.ClassAccount},
	}
	for _, tc := range tests {
		code := fmt.Sprintf("SMTP_%d", tc.code)
		if tc.enhanced != "" {
			code += "_" + tc.enhanced
		}
		t.Run(fmt.Sprintf("%s_%s", tc.stage, code), func(t *testing.T) {
			t.Parallel()
			fake := smtpfake.New(t, smtpfake.WithSTARTTLS())
			fake.FailNext(1, tc.stage, tc.code, tc.enhanced)
			s := newSender(t, fakeConfig(fake, TLSStartTLS))
			_, err := s.Send(context.Background(), message())
			pe := requireClass(t, err, tc.class, code)
			require.Contains(t, pe.Message, fmt.Sprint(tc.code))
			require.Empty(t, fake.Sent())

			// The fault was for one message only.
			_, err = s.Send(context.Background(), message())
			require.NoError(t, err)
			require.Len(t, fake.Sent(), 1)
		})
	}

	t.Run("MessageTooLargeForServer", func(t *testing.T) {
		t.Parallel()
		fake := smtpfake.New(t, smtpfake.WithMaxMessageBytes(2000))
		s := newSender(t, fakeConfig(fake, TLSNone))
		msg := message()
		msg.Attachments = []providers.Attachment{{Filename: "big.bin", Content: make([]byte, 4000)}}
		_, err := s.Send(context.Background(), msg)
		requireClass(t, err, providers.ClassPermanent, "SMTP_552_5.3.4")
	})
}

func TestSendAuth(t *testing.T) {
	t.Parallel()

	t.Run("WrongPassword", func(t *testing.T) {
		t.Parallel()
		fake := smtpfake.New(t, smtpfake.WithSTARTTLS(), smtpfake.WithAuth(username, password))
		cfg := withAuth(fakeConfig(fake, TLSStartTLS))
		cfg.Password = "wrong"
		_, err := newSender(t, cfg).Send(context.Background(), message())
		pe := requireClass(t, err, providers.ClassAccount, "SMTP_535_5.7.8")
		require.NotContains(t, pe.Error(), "wrong")
		require.Empty(t, fake.Sent())
	})

	t.Run("WrongPasswordLogin", func(t *testing.T) {
		t.Parallel()
		fake := smtpfake.New(t, smtpfake.WithImplicitTLS(), smtpfake.WithAuth(username, password), smtpfake.WithAuthMechanisms("LOGIN"))
		cfg := withAuth(fakeConfig(fake, TLSImplicit))
		cfg.Username = "someone-else"
		_, err := newSender(t, cfg).Send(context.Background(), message())
		requireClass(t, err, providers.ClassAccount, "SMTP_535_5.7.8")
	})

	t.Run("NoCredentials", func(t *testing.T) {
		t.Parallel()
		fake := smtpfake.New(t, smtpfake.WithSTARTTLS(), smtpfake.WithAuth(username, password))
		_, err := newSender(t, fakeConfig(fake, TLSStartTLS)).Send(context.Background(), message())
		requireClass(t, err, providers.ClassConfig, "SMTP_530_5.7.0")
	})

	t.Run("MustIssueSTARTTLS", func(t *testing.T) {
		t.Parallel()
		fake := smtpfake.New(t, smtpfake.WithSTARTTLS(), smtpfake.WithRequireTLS())
		_, err := newSender(t, fakeConfig(fake, TLSNone)).Send(context.Background(), message())
		requireClass(t, err, providers.ClassConfig, "SMTP_530_5.7.0")
	})

	t.Run("NoUsableMechanism", func(t *testing.T) {
		t.Parallel()
		// A server with TLS offers AUTH only after STARTTLS; tls_mode none
		// never gets there.
		fake := smtpfake.New(t, smtpfake.WithSTARTTLS(), smtpfake.WithAuth(username, password))
		_, err := newSender(t, withAuth(fakeConfig(fake, TLSNone))).Send(context.Background(), message())
		requireClass(t, err, providers.ClassConfig, CodeAuthUnsupported)
	})

	t.Run("NoCredentialsInClearText", func(t *testing.T) {
		t.Parallel()
		// A remote host (reached here through the dialer) that offers
		// AUTH without STARTTLS gets no password.
		fake := smtpfake.New(t, smtpfake.WithAuth(username, password))
		cfg := withAuth(fakeConfig(fake, TLSStartTLSOptional))
		cfg.Host, cfg.Port = "mail.example.test", 587
		var d net.Dialer
		redirect := WithDialer(func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, fake.Addr())
		})
		_, err := newSender(t, cfg, redirect).Send(context.Background(), message())
		requireClass(t, err, providers.ClassConfig, CodeAuthNeedsTLS)
		require.Empty(t, fake.Sent())
	})
}

func TestSendTLSFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		fake []smtpfake.Option
		mode string
		edit func(*Config)
		code string
	}{
		{"STARTTLSUnknownCA", []smtpfake.Option{smtpfake.WithSTARTTLS()}, TLSStartTLS,
			func(c *Config) { c.CAPEM = "" }, CodeTLS},
		{"ImplicitUnknownCA", []smtpfake.Option{smtpfake.WithImplicitTLS()}, TLSImplicit,
			func(c *Config) { c.CAPEM = "" }, CodeTLS},
		{"WrongServerName", []smtpfake.Option{smtpfake.WithSTARTTLS()}, TLSStartTLS,
			func(c *Config) { c.TLSServerName = "other.example.com" }, CodeTLS},
		{"ImplicitAgainstClearText", nil, TLSImplicit, nil, CodeTLS},
		{"STARTTLSNotOffered", nil, TLSStartTLS, nil, CodeStartTLSUnsupported},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fake := smtpfake.New(t, tc.fake...)
			cfg := fakeConfig(fake, tc.mode)
			if tc.edit != nil {
				tc.edit(&cfg)
			}
			_, err := newSender(t, cfg).Send(context.Background(), message())
			requireClass(t, err, providers.ClassConfig, tc.code)
			require.Empty(t, fake.Sent())
		})
	}
}

func TestSendConnectionFailures(t *testing.T) {
	t.Parallel()

	t.Run("HangAfterData", func(t *testing.T) {
		t.Parallel()
		fake := smtpfake.New(t, smtpfake.WithSTARTTLS())
		fake.Hang(1)
		cfg := fakeConfig(fake, TLSStartTLS)
		cfg.TimeoutSeconds = 1
		_, err := newSender(t, cfg).Send(context.Background(), message())
		requireClass(t, err, providers.ClassUnknownOutcome, CodeTimeout)
		sent := fake.Sent()
		require.Len(t, sent, 1)
		require.False(t, sent[0].Answered)
	})

	t.Run("HangAfterDataImplicitTLS", func(t *testing.T) {
		t.Parallel()
		fake := smtpfake.New(t, smtpfake.WithImplicitTLS())
		fake.Hang(1)
		cfg := fakeConfig(fake, TLSImplicit)
		cfg.TimeoutSeconds = 1
		_, err := newSender(t, cfg).Send(context.Background(), message())
		requireClass(t, err, providers.ClassUnknownOutcome, CodeTimeout)
	})

	t.Run("DropAfterData", func(t *testing.T) {
		t.Parallel()
		fake := smtpfake.New(t)
		fake.Drop(1)
		_, err := newSender(t, fakeConfig(fake, TLSNone)).Send(context.Background(), message())
		requireClass(t, err, providers.ClassUnknownOutcome, CodeConnectionLost)
		require.Len(t, fake.Sent(), 1)
	})

	t.Run("ContextDeadlineAfterData", func(t *testing.T) {
		t.Parallel()
		fake := smtpfake.New(t)
		fake.Hang(1)
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := newSender(t, fakeConfig(fake, TLSNone)).Send(ctx, message())
		requireClass(t, err, providers.ClassUnknownOutcome, CodeTimeout)
		require.Less(t, time.Since(start), 3*time.Second, "the context must end the send, not the 5s timeout")
	})

	t.Run("CancelledAfterData", func(t *testing.T) {
		t.Parallel()
		fake := smtpfake.New(t)
		fake.Hang(1)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		time.AfterFunc(300*time.Millisecond, cancel)
		_, err := newSender(t, fakeConfig(fake, TLSNone)).Send(ctx, message())
		requireClass(t, err, providers.ClassUnknownOutcome, CodeCancelled)
	})

	t.Run("HangAtMail", func(t *testing.T) {
		t.Parallel()
		fake := smtpfake.New(t)
		fake.HangAt(1, smtpfake.StageMail)
		cfg := fakeConfig(fake, TLSNone)
		cfg.TimeoutSeconds = 1
		_, err := newSender(t, cfg).Send(context.Background(), message())
		requireClass(t, err, providers.ClassTransient, CodeTimeout)
		require.Empty(t, fake.Sent())
	})

	t.Run("HangAtConnect", func(t *testing.T) {
		t.Parallel()
		fake := smtpfake.New(t)
		fake.HangAt(1, smtpfake.StageConnect)
		cfg := fakeConfig(fake, TLSNone)
		cfg.TimeoutSeconds = 1
		_, err := newSender(t, cfg).Send(context.Background(), message())
		requireClass(t, err, providers.ClassTransient, CodeTimeout)
	})

	t.Run("Down", func(t *testing.T) {
		t.Parallel()
		fake := smtpfake.New(t)
		fake.Down()
		s := newSender(t, fakeConfig(fake, TLSNone))
		_, err := s.Send(context.Background(), message())
		requireClass(t, err, providers.ClassTransient, CodeConnect)
		fake.Up()
		_, err = s.Send(context.Background(), message())
		require.NoError(t, err)
	})

	t.Run("DNS", func(t *testing.T) {
		t.Parallel()
		cfg := Config{Host: "mail.example.invalid", From: from}
		noSuchHost := WithDialer(func(context.Context, string, string) (net.Conn, error) {
			return nil, &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "mail.example.invalid", IsNotFound: true}}
		})
		_, err := newSender(t, cfg, noSuchHost).Send(context.Background(), message())
		requireClass(t, err, providers.ClassTransient, CodeDNS)
	})
}

func TestProvider(t *testing.T) {
	t.Parallel()
	p := New()
	require.Equal(t, "smtp", p.Kind())
	require.Nil(t, p.ReceiptHandler())

	fake := smtpfake.New(t)
	raw := fmt.Sprintf(`{"host":%q,"port":%d,"from":%q,"tls_mode":"none"}`, fake.Host(), fake.Port(), from)
	require.NoError(t, p.ValidateConfig([]byte(raw)))
	s, err := p.NewSender(providers.Account{ID: 9, Kind: Kind, Config: []byte(raw)})
	require.NoError(t, err)
	res, err := s.Send(context.Background(), message())
	require.NoError(t, err)
	require.True(t, res.Delivered)

	err = p.ValidateConfig([]byte(`{"host":"smtp.example.com","from":"x","passwd":"p"}`))
	require.ErrorContains(t, err, `unknown field "passwd"`)
	require.ErrorContains(t, err, "from is not an e-mail address")
	_, err = p.NewSender(providers.Account{ID: 9, Kind: Kind, Config: []byte(`{}`)})
	require.ErrorContains(t, err, "account 9")
}
