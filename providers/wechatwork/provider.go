package wechatwork

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/heraldhq/herald/providers"
)

// Provider kinds stored on accounts.
const (
	// Kind is the application-message kind: messages sent by one WeCom
	// application (corp id + secret + agent id) to members, departments
	// and tags.
	Kind = "wechatwork"
	// RobotKind is the group-robot kind: messages posted to one group chat
	// through the robot's webhook.
	RobotKind = "wechatwork_robot"
)

// Documented send-rate caps, used as the accounts' default pacing.
const (
	// AppMessagesPerMinute is WeCom's cap of application messages one
	// member may receive from one application per minute; messages over it
	// are dropped silently, without an error. Pacing a whole account to it
	// means no member can ever be over it. (The other per-member cap, 1000
	// an hour, is only reached by an account that messages one member at
	// the full rate for over half an hour; such an account should set its
	// own rate of 16 a minute.)
	AppMessagesPerMinute = 30
	// RobotMessagesPerMinute is WeCom's cap on one group robot.
	RobotMessagesPerMinute = 20
)

// Compile-time checks that the package meets the provider contract.
var (
	_ providers.Provider = (*Provider)(nil)
	_ providers.Paced    = (*Provider)(nil)
	_ providers.Sender   = (*Sender)(nil)
	_ providers.Provider = (*RobotProvider)(nil)
	_ providers.Paced    = (*RobotProvider)(nil)
	_ providers.Sender   = (*RobotSender)(nil)
)

// Option adjusts a provider or a sender.
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

// WithHTTPClient makes senders use c instead of a client of their own.
// Senders never follow redirects, whatever c.CheckRedirect says, and
// always bound each request by the account's timeout.
func WithHTTPClient(c *http.Client) Option {
	return func(s *settings) { s.client = c }
}

// WithClock sets the clock used for access-token expiry. The default is
// time.Now.
func WithClock(now func() time.Time) Option {
	return func(s *settings) {
		if now != nil {
			s.now = now
		}
	}
}

// httpClient copies the configured client (or a zero one, which uses
// http.DefaultTransport) and turns redirects off: a redirect is a
// misconfigured base URL, and following it would carry the access token or
// robot key to another host.
func (s settings) httpClient() *http.Client {
	var c http.Client
	if s.client != nil {
		c = *s.client
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// Provider is the "wechatwork" kind: WeCom application messages. Access
// tokens are cached per application across all the senders it builds, so
// rebuilding a sender (after an account edit) does not cost a gettoken
// call, and two accounts of one application share one token.
type Provider struct {
	set    settings
	tokens *tokenCache
}

// New returns the application-message provider. Options apply to every
// sender it builds.
func New(opts ...Option) *Provider {
	return &Provider{set: newSettings(opts), tokens: newTokenCache()}
}

// Kind returns "wechatwork".
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
		return nil, fmt.Errorf("build wechatwork sender for account %d: %w", acc.ID, err)
	}
	return newSender(cfg, p.set, p.tokens), nil
}

// ReceiptHandler returns nil: WeCom reports no delivery of application
// messages, so acceptance is final.
func (p *Provider) ReceiptHandler() providers.ReceiptHandler { return nil }

// DefaultRate is AppMessagesPerMinute a minute.
func (p *Provider) DefaultRate(providers.Account) providers.Rate {
	return providers.Rate{Limit: AppMessagesPerMinute, Per: time.Minute}
}

// RobotProvider is the "wechatwork_robot" kind: group robot webhooks.
type RobotProvider struct {
	set settings
}

// NewRobot returns the group-robot provider. Options apply to every sender
// it builds.
func NewRobot(opts ...Option) *RobotProvider {
	return &RobotProvider{set: newSettings(opts)}
}

// Kind returns "wechatwork_robot".
func (p *RobotProvider) Kind() string { return RobotKind }

// ValidateConfig checks an account's JSON config and names every problem.
func (p *RobotProvider) ValidateConfig(cfg json.RawMessage) error {
	_, err := ParseRobotConfig(cfg)
	return err
}

// NewSender builds the sender for one robot.
func (p *RobotProvider) NewSender(acc providers.Account) (providers.Sender, error) {
	cfg, err := ParseRobotConfig(acc.Config)
	if err != nil {
		return nil, fmt.Errorf("build wechatwork_robot sender for account %d: %w", acc.ID, err)
	}
	return newRobotSender(cfg, p.set), nil
}

// ReceiptHandler returns nil: a robot post has no receipt.
func (p *RobotProvider) ReceiptHandler() providers.ReceiptHandler { return nil }

// DefaultRate is RobotMessagesPerMinute a minute.
func (p *RobotProvider) DefaultRate(providers.Account) providers.Rate {
	return providers.Rate{Limit: RobotMessagesPerMinute, Per: time.Minute}
}

// SendPolicy gives the account's send timeout and what to do after a send
// whose outcome is unknown.
func (p *Provider) SendPolicy(acc providers.Account) providers.SendPolicy {
	cfg, err := ParseConfig(acc.Config)
	if err != nil {
		return providers.SendPolicy{}
	}
	// A send may fetch an access token first: two requests.
	def := providers.OnUnknownFail
	if cfg.EnableDuplicateCheck {
		// WeCom drops the resend as a duplicate if the first one arrived.
		def = providers.OnUnknownResend
	}
	outcome, _ := providers.ParseUnknownOutcome(cfg.OnUnknownOutcome, def)
	return providers.SendPolicy{Timeout: 2 * cfg.Timeout(), OnUnknownOutcome: outcome}
}

// SendPolicy gives the account's send timeout and what to do after a send
// whose outcome is unknown.
func (p *RobotProvider) SendPolicy(acc providers.Account) providers.SendPolicy {
	cfg, err := ParseRobotConfig(acc.Config)
	if err != nil {
		return providers.SendPolicy{}
	}
	outcome, _ := providers.ParseUnknownOutcome(cfg.OnUnknownOutcome, providers.OnUnknownFail)
	return providers.SendPolicy{Timeout: cfg.Timeout(), OnUnknownOutcome: outcome}
}
