package aliyun

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/heraldhq/herald/providers"
)

// Kind is the provider kind stored on Aliyun accounts.
const Kind = "aliyun"

// Compile-time checks that the package meets the provider contract.
var (
	_ providers.Provider       = (*Provider)(nil)
	_ providers.ReplyProvider  = (*Provider)(nil)
	_ providers.Sender         = (*Sender)(nil)
	_ providers.BatchSender    = (*Sender)(nil)
	_ providers.StatusChecker  = (*Sender)(nil)
	_ providers.ReceiptHandler = (*ReceiptHandler)(nil)
	_ providers.ReplyHandler   = (*ReplyHandler)(nil)
)

// Option adjusts a Provider, Sender, ReceiptHandler or ReplyHandler.
//
// There is no HTTP client or transport option: the official SDK builds its
// own transport (in a process-wide pool keyed by host and timeouts) and
// offers no way to replace it. Point Config.Endpoint and Config.Protocol at
// a local server instead, as the tests do with package aliyunfake.
type Option func(*settings)

type settings struct {
	now func() time.Time
}

func newSettings(opts []Option) settings {
	s := settings{now: time.Now}
	for _, o := range opts {
		o(&s)
	}
	return s
}

// WithClock sets the clock used for status-query dates, retry hints and
// pushes that carry no time. The default is time.Now. The SDK signs
// requests with its own clock.
func WithClock(now func() time.Time) Option {
	return func(s *settings) {
		if now != nil {
			s.now = now
		}
	}
}

// Provider is the Aliyun SMS provider kind.
type Provider struct {
	opts []Option
}

// New returns the Aliyun provider. Options apply to every sender and
// handler it builds.
func New(opts ...Option) *Provider {
	return &Provider{opts: opts}
}

// Kind returns "aliyun".
func (p *Provider) Kind() string { return Kind }

// ValidateConfig checks an account's JSON config and names every problem.
func (p *Provider) ValidateConfig(cfg json.RawMessage) error {
	_, err := ParseConfig(cfg)
	return err
}

// NewSender builds the sender for one account. The returned sender also
// implements providers.BatchSender and providers.StatusChecker.
func (p *Provider) NewSender(acc providers.Account) (providers.Sender, error) {
	cfg, err := ParseConfig(acc.Config)
	if err != nil {
		return nil, fmt.Errorf("build aliyun sender for account %d: %w", acc.ID, err)
	}
	s, err := NewSender(cfg, p.opts...)
	if err != nil {
		return nil, fmt.Errorf("build aliyun sender for account %d: %w", acc.ID, err)
	}
	return s, nil
}

// ReceiptHandler returns the parser for Aliyun's SmsReport HTTP batch
// push. The receiving URL is set in the Aliyun console, not per request.
func (p *Provider) ReceiptHandler() providers.ReceiptHandler {
	return NewReceiptHandler(p.opts...)
}

// ReplyHandler returns the parser for Aliyun's SmsUp HTTP batch push.
func (p *Provider) ReplyHandler() providers.ReplyHandler {
	return NewReplyHandler(p.opts...)
}

// SendPolicy gives the account's send timeout.
func (p *Provider) SendPolicy(acc providers.Account) providers.SendPolicy {
	cfg, err := ParseConfig(acc.Config)
	if err != nil {
		return providers.SendPolicy{}
	}
	return providers.SendPolicy{Timeout: cfg.Timeout()}
}
