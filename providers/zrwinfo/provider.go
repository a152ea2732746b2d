package zrwinfo

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/heraldhq/herald/providers"
)

// Kind is the provider kind stored on Zrwinfo accounts.
const Kind = "zrwinfo"

// Compile-time checks that the package meets the provider contract.
var (
	_ providers.Provider       = (*Provider)(nil)
	_ providers.Sender         = (*Sender)(nil)
	_ providers.BatchSender    = (*Sender)(nil)
	_ providers.StatusChecker  = (*Sender)(nil)
	_ providers.ReceiptHandler = (*ReceiptHandler)(nil)
)

// Option adjusts a Provider, Sender or ReceiptHandler.
type Option func(*settings)

type settings struct {
	client *http.Client
	now    func() time.Time
	sink   func(accountID int64, receipts []providers.Receipt)
}

func newSettings(opts []Option) settings {
	s := settings{now: time.Now}
	for _, o := range opts {
		o(&s)
	}
	return s
}

// WithHTTPClient makes senders use c instead of a client of their own.
// Senders never follow redirects, whatever c.CheckRedirect says, and always
// bound a request by the account's timeout.
func WithHTTPClient(c *http.Client) Option {
	return func(s *settings) { s.client = c }
}

// WithClock sets the clock used for receipts that carry no time and for the
// age of pulled reports. The default is time.Now.
func WithClock(now func() time.Time) Option {
	return func(s *settings) {
		if now != nil {
			s.now = now
		}
	}
}

// WithPulledReceipts hands every report a status pull returns to fn, with
// the id of the account it was pulled for. Zrwinfo's pull is a queue: a
// report it returns is never returned again, so reports of other messages
// that CheckStatus pulls are lost unless they go somewhere. fn is called
// synchronously from CheckStatus and PullReceipts and must not block for
// long. Senders built by NewSender, outside a Provider, use account id 0.
func WithPulledReceipts(fn func(accountID int64, receipts []providers.Receipt)) Option {
	return func(s *settings) { s.sink = fn }
}

// Provider is the Zrwinfo SMS provider kind. It keeps, per Zrwinfo
// account, the reports that status pulls have taken off Zrwinfo's queue, so
// every sender of that account can find them.
type Provider struct {
	opts []Option

	mu    sync.Mutex
	books map[string]*reportBook
}

// New returns the Zrwinfo provider. Options apply to every sender and
// receipt handler it builds.
func New(opts ...Option) *Provider {
	return &Provider{opts: opts, books: make(map[string]*reportBook)}
}

// Kind returns "zrwinfo".
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
		return nil, fmt.Errorf("build zrwinfo sender for account %d: %w", acc.ID, err)
	}
	return newSender(cfg, acc.ID, p.book(cfg), newSettings(p.opts)), nil
}

// SupportsCountry reports whether Zrwinfo delivers to a region: it sends
// to mainland China (+86) only.
func (p *Provider) SupportsCountry(region string) bool { return region == "CN" }

var _ providers.CountryLimiter = (*Provider)(nil)

// ReceiptHandler returns the parser for Zrwinfo's status-report pushes.
func (p *Provider) ReceiptHandler() providers.ReceiptHandler {
	return NewReceiptHandler(p.opts...)
}

// book returns the pulled-report store of the Zrwinfo account cfg names.
// Two Herald accounts with the same access key share one Zrwinfo queue, so
// they share the store too.
func (p *Provider) book(cfg Config) *reportBook {
	key := cfg.BaseURL + "\x00" + cfg.AccessKey
	p.mu.Lock()
	defer p.mu.Unlock()
	b, ok := p.books[key]
	if !ok {
		b = newReportBook()
		p.books[key] = b
	}
	return b
}

// SendPolicy gives the account's send timeout and what to do after a send
// whose outcome is unknown.
func (p *Provider) SendPolicy(acc providers.Account) providers.SendPolicy {
	cfg, err := ParseConfig(acc.Config)
	if err != nil {
		return providers.SendPolicy{}
	}
	// A batch send's reports come off the status pull once, to whichever
	// check takes them first, so a batch send is not checked.
	outcome, _ := providers.ParseUnknownOutcome(cfg.OnUnknownOutcome, providers.OnUnknownFail)
	return providers.SendPolicy{Timeout: cfg.Timeout(), OnUnknownOutcome: outcome, BatchUnchecked: true}
}
