package feishu

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/heraldhq/herald/providers"
)

// Kind is the provider kind stored on Feishu custom bot accounts.
const Kind = "feishu"

// Bot rate caps Feishu documents for one custom bot: 100 messages a
// minute and 5 a second.
const (
	BotRatePerMinute = 100
	BotRatePerSecond = 5
)

// Compile-time checks that the package meets the provider contract.
var (
	_ providers.Provider = (*Provider)(nil)
	_ providers.Paced    = (*Provider)(nil)
	_ providers.Sender   = (*Sender)(nil)
)

// Option adjusts a Provider or Sender.
type Option func(*settings)

type settings struct {
	client *http.Client
	now    func() time.Time
}

func newSettings(opts []Option) settings {
	s := settings{now: time.Now}
	for _, o := range opts {
		o(&s)
	}
	return s
}

// WithHTTPClient makes senders use a copy of c. Senders never follow
// redirects, whatever c.CheckRedirect says, and always bound a send by the
// account's timeout.
func WithHTTPClient(c *http.Client) Option {
	return func(s *settings) { s.client = c }
}

// WithClock sets the clock used for signature timestamps and rate-limit
// reset hints. The default is time.Now.
func WithClock(now func() time.Time) Option {
	return func(s *settings) {
		if now != nil {
			s.now = now
		}
	}
}

// Provider is the Feishu / Lark custom bot provider kind.
type Provider struct {
	opts []Option
}

// New returns the Feishu custom bot provider. Options apply to every
// sender it builds.
func New(opts ...Option) *Provider { return &Provider{opts: opts} }

// Kind returns "feishu".
func (p *Provider) Kind() string { return Kind }

// ValidateConfig checks an account's JSON config and names every problem.
func (p *Provider) ValidateConfig(cfg json.RawMessage) error {
	_, err := ParseConfig(cfg)
	return err
}

// NewSender builds the sender for one bot.
func (p *Provider) NewSender(acc providers.Account) (providers.Sender, error) {
	cfg, err := ParseConfig(acc.Config)
	if err != nil {
		return nil, fmt.Errorf("build feishu sender for account %d: %w", acc.ID, err)
	}
	s, err := NewSender(cfg, p.opts...)
	if err != nil {
		return nil, fmt.Errorf("build feishu sender for account %d: %w", acc.ID, err)
	}
	return s, nil
}

// ReceiptHandler returns nil: a custom bot has no receipts, acceptance is
// final.
func (p *Provider) ReceiptHandler() providers.ReceiptHandler { return nil }

// DefaultRate is 5 messages every 3 seconds. That is Feishu's 100 a minute,
// and a pacer that keeps every 3-second window at 5 or fewer also keeps
// every second at 5 or fewer, so both documented caps hold with the one
// rate the contract allows.
func (p *Provider) DefaultRate(providers.Account) providers.Rate {
	return providers.Rate{Limit: BotRatePerSecond, Per: time.Minute * BotRatePerSecond / BotRatePerMinute}
}

// SendPolicy gives the account's send timeout and what to do after a send
// whose outcome is unknown.
func (p *Provider) SendPolicy(acc providers.Account) providers.SendPolicy {
	cfg, err := ParseConfig(acc.Config)
	if err != nil {
		return providers.SendPolicy{}
	}
	outcome, _ := providers.ParseUnknownOutcome(cfg.OnUnknownOutcome, providers.OnUnknownFail)
	return providers.SendPolicy{Timeout: cfg.Timeout(), OnUnknownOutcome: outcome}
}
