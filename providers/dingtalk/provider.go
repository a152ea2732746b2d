package dingtalk

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/heraldhq/herald/providers"
)

// Kind is the provider kind stored on DingTalk custom robot accounts.
const Kind = "dingtalk"

// Robot rate cap: DingTalk documents 20 messages a minute for one robot;
// going over it blocks the robot for ThrottleBlock.
const (
	RobotRateLimit  = 20
	RobotRatePeriod = time.Minute
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

// WithClock sets the clock used for signature timestamps. The default is
// time.Now.
func WithClock(now func() time.Time) Option {
	return func(s *settings) {
		if now != nil {
			s.now = now
		}
	}
}

// Provider is the DingTalk custom group robot provider kind.
type Provider struct {
	opts []Option
}

// New returns the DingTalk robot provider. Options apply to every sender
// it builds.
func New(opts ...Option) *Provider { return &Provider{opts: opts} }

// Kind returns "dingtalk".
func (p *Provider) Kind() string { return Kind }

// ValidateConfig checks an account's JSON config and names every problem.
func (p *Provider) ValidateConfig(cfg json.RawMessage) error {
	_, err := ParseConfig(cfg)
	return err
}

// NewSender builds the sender for one robot.
func (p *Provider) NewSender(acc providers.Account) (providers.Sender, error) {
	cfg, err := ParseConfig(acc.Config)
	if err != nil {
		return nil, fmt.Errorf("build dingtalk sender for account %d: %w", acc.ID, err)
	}
	s, err := NewSender(cfg, p.opts...)
	if err != nil {
		return nil, fmt.Errorf("build dingtalk sender for account %d: %w", acc.ID, err)
	}
	return s, nil
}

// ReceiptHandler returns nil: a robot has no receipts, acceptance is final.
func (p *Provider) ReceiptHandler() providers.ReceiptHandler { return nil }

// DefaultRate is 20 messages a minute, DingTalk's cap for one robot.
// Pacing must keep every 60-second window at 20 or fewer: a pacer that
// allows a burst of 20 and then refills would let 40 through in the first
// minute and get the robot blocked for ten minutes.
func (p *Provider) DefaultRate(providers.Account) providers.Rate {
	return providers.Rate{Limit: RobotRateLimit, Per: RobotRatePeriod}
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
