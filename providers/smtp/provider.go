package smtp

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"time"

	"github.com/heraldhq/herald/providers"
)

// Kind is the provider kind stored on SMTP accounts.
const Kind = "smtp"

// Compile-time checks that the package meets the provider contract.
var (
	_ providers.Provider         = (*Provider)(nil)
	_ providers.Sender           = (*Sender)(nil)
	_ providers.BounceClassifier = (*Provider)(nil)
)

// DialFunc opens the TCP connection to the SMTP server. TLS, when the
// account asks for it, is layered on top by the sender.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// Option adjusts a Provider or Sender.
type Option func(*settings)

type settings struct {
	now  func() time.Time
	dial DialFunc
}

func newSettings(opts []Option) settings {
	s := settings{now: time.Now}
	for _, o := range opts {
		o(&s)
	}
	if s.dial == nil {
		var d net.Dialer
		s.dial = d.DialContext
	}
	return s
}

// WithClock sets the clock used for the Date header. The default is
// time.Now.
func WithClock(now func() time.Time) Option {
	return func(s *settings) {
		if now != nil {
			s.now = now
		}
	}
}

// WithDialer sets how the TCP connection is opened, for example through a
// proxy; it is the transport of this provider. The default is a plain
// net.Dialer. The context passed to dial carries the account's timeout.
func WithDialer(dial DialFunc) Option {
	return func(s *settings) { s.dial = dial }
}

// Provider is the SMTP provider kind.
type Provider struct {
	opts []Option
}

// New returns the SMTP provider. Options apply to every sender it builds.
func New(opts ...Option) *Provider {
	return &Provider{opts: opts}
}

// HardBounce reports whether a failed send's vendor code is a hard bounce
// of the receiver's address (see IsHardBounce).
func (p *Provider) HardBounce(code string) bool { return IsHardBounce(code) }

// Kind returns "smtp".
func (p *Provider) Kind() string { return Kind }

// ValidateConfig checks an account's JSON config and names every problem.
func (p *Provider) ValidateConfig(cfg json.RawMessage) error {
	_, err := ParseConfig(cfg)
	return err
}

// NewSender builds the sender for one account.
func (p *Provider) NewSender(acc providers.Account) (providers.Sender, error) {
	cfg, err := ParseConfig(acc.Config)
	if err != nil {
		return nil, fmt.Errorf("build smtp sender for account %d: %w", acc.ID, err)
	}
	s, err := NewSender(cfg, p.opts...)
	if err != nil {
		return nil, fmt.Errorf("build smtp sender for account %d: %w", acc.ID, err)
	}
	return s, nil
}

// ReceiptHandler returns nil: e-mail has no delivery receipts, and the
// server's acceptance of the message is final.
func (p *Provider) ReceiptHandler() providers.ReceiptHandler { return nil }

// SendPolicy gives the account's send timeout and what to do after a send
// whose outcome is unknown.
func (p *Provider) SendPolicy(acc providers.Account) providers.SendPolicy {
	cfg, err := ParseConfig(acc.Config)
	if err != nil {
		return providers.SendPolicy{}
	}
	// One timeout bounds connecting (TLS, AUTH), another the mail
	// transaction.
	outcome, _ := providers.ParseUnknownOutcome(cfg.OnUnknownOutcome, providers.OnUnknownFail)
	return providers.SendPolicy{Timeout: 2 * cfg.Timeout(), OnUnknownOutcome: outcome}
}
