package tencent

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/heraldhq/herald/providers"
)

// Kind is the provider kind stored on Tencent accounts.
const Kind = "tencent"

// Compile-time checks that the package meets the provider contract.
var (
	_ providers.Provider       = (*Provider)(nil)
	_ providers.Sender         = (*Sender)(nil)
	_ providers.StatusChecker  = (*Sender)(nil)
	_ providers.ReceiptHandler = (*ReceiptHandler)(nil)
)

// Option adjusts a Provider, Sender or ReceiptHandler.
type Option func(*settings)

type settings struct {
	now       func() time.Time
	transport http.RoundTripper
}

func newSettings(opts []Option) settings {
	s := settings{now: time.Now}
	for _, o := range opts {
		o(&s)
	}
	return s
}

// WithClock sets the clock used for status-query windows, retry hints and
// receipts that carry no time. The default is time.Now.
func WithClock(now func() time.Time) Option {
	return func(s *settings) {
		if now != nil {
			s.now = now
		}
	}
}

// WithTransport sets the HTTP transport under the SDK client. The default
// is a clone of http.DefaultTransport, so proxies from the environment
// apply and nothing is shared with other users of the default transport.
func WithTransport(rt http.RoundTripper) Option {
	return func(s *settings) { s.transport = rt }
}

// Provider is the Tencent Cloud SMS provider kind.
type Provider struct {
	opts []Option
}

// New returns the Tencent provider. Options apply to every sender and
// receipt handler it builds.
func New(opts ...Option) *Provider {
	return &Provider{opts: opts}
}

// Kind returns "tencent".
func (p *Provider) Kind() string { return Kind }

// ValidateConfig checks an account's JSON config and names every problem.
func (p *Provider) ValidateConfig(cfg json.RawMessage) error {
	_, err := ParseConfig(cfg)
	return err
}

// NewSender builds the sender for one account. The returned sender also
// implements providers.StatusChecker.
func (p *Provider) NewSender(acc providers.Account) (providers.Sender, error) {
	cfg, err := ParseConfig(acc.Config)
	if err != nil {
		return nil, fmt.Errorf("build tencent sender for account %d: %w", acc.ID, err)
	}
	s, err := NewSender(cfg, p.opts...)
	if err != nil {
		return nil, fmt.Errorf("build tencent sender for account %d: %w", acc.ID, err)
	}
	return s, nil
}

// ReceiptHandler returns the parser for Tencent's delivery-status pushes.
// The callback URL is set in the Tencent console, not per account.
func (p *Provider) ReceiptHandler() providers.ReceiptHandler {
	return NewReceiptHandler(p.opts...)
}

// SendPolicy gives the account's send timeout.
func (p *Provider) SendPolicy(acc providers.Account) providers.SendPolicy {
	cfg, err := ParseConfig(acc.Config)
	if err != nil {
		return providers.SendPolicy{}
	}
	return providers.SendPolicy{Timeout: cfg.Timeout()}
}
