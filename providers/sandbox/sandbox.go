package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/heraldhq/herald/providers"
)

// Kind is the provider kind stored on sandbox accounts.
const Kind = "sandbox"

// Receipt push policy: how often and how patiently a receipt is offered to
// the callback URL before it is dropped.
const (
	pushAttempts = 5
	pushBackoff  = 200 * time.Millisecond
	pushTimeout  = 10 * time.Second
)

// DefaultMaxRecords is how many accepted messages the sandbox remembers for
// CheckStatus before it forgets the oldest; it bounds memory in long
// benchmarks.
const DefaultMaxRecords = 100_000

// Clock is the sandbox's source of time. Tests replace it to run without
// waiting.
type Clock interface {
	Now() time.Time
	// Sleep waits for d or until ctx is done, whichever comes first, and
	// returns ctx.Err() in the second case.
	Sleep(ctx context.Context, d time.Duration) error
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Option configures a Provider.
type Option func(*Provider)

// WithHTTPClient sets the client that pushes receipts (default: a client
// with a 10 s timeout).
func WithHTTPClient(c *http.Client) Option { return func(p *Provider) { p.client = c } }

// WithClock replaces the wall clock for latency, receipt delays, push
// back-off and timestamps.
func WithClock(c Clock) Option { return func(p *Provider) { p.clock = c } }

// WithLogger sets where failed receipt pushes are reported (default: no
// logging). Receivers and callback URLs are never logged.
func WithLogger(l *zap.Logger) Option { return func(p *Provider) { p.logger = l } }

// WithMaxRecords sets how many accepted messages are remembered for
// CheckStatus (default DefaultMaxRecords).
func WithMaxRecords(n int) Option {
	return func(p *Provider) {
		if n > 0 {
			p.records.limit = n
		}
	}
}

// Provider is the "sandbox" provider kind: a simulated SMS-like provider
// that accepts messages, fails on demand and pushes receipts to Herald's
// callback URL. It owns the goroutines that push receipts; Close stops them.
type Provider struct {
	client *http.Client
	clock  Clock
	logger *zap.Logger

	// ctx is cancelled by Close and bounds every pending receipt push.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	closed bool
	// rngs keeps one random stream per seeded account, so senders rebuilt
	// for the same account continue its sequence instead of replaying it.
	rngs map[rngKey]*lockedRand

	records *recordStore
}

var _ providers.Provider = (*Provider)(nil)

type rngKey struct {
	accountID int64
	seed      int64
}

// New returns the sandbox provider kind. Call Close when done with it.
func New(opts ...Option) *Provider {
	ctx, cancel := context.WithCancel(context.Background())
	p := &Provider{
		client:  &http.Client{Timeout: pushTimeout},
		clock:   realClock{},
		logger:  zap.NewNop(),
		ctx:     ctx,
		cancel:  cancel,
		rngs:    make(map[rngKey]*lockedRand),
		records: newRecordStore(DefaultMaxRecords),
	}
	for _, opt := range opts {
		opt(p)
	}
	return p
}

// Kind returns Kind.
func (p *Provider) Kind() string { return Kind }

// ValidateConfig checks an account config, naming every problem.
func (p *Provider) ValidateConfig(cfg json.RawMessage) error {
	_, err := ParseConfig(cfg)
	return err
}

// NewSender builds a sender for acc. Receipts go to acc.CallbackURL; with
// no callback URL the sandbox accepts messages but pushes nothing.
func (p *Provider) NewSender(acc providers.Account) (providers.Sender, error) {
	cfg, err := ParseConfig(acc.Config)
	if err != nil {
		return nil, fmt.Errorf("sandbox account %d: %w", acc.ID, err)
	}
	if acc.CallbackURL != "" {
		// The URL carries the account's receipt token, so it stays out of
		// the error.
		u, err := url.Parse(acc.CallbackURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("sandbox account %d: callback URL must be an absolute http or https URL", acc.ID)
		}
	}
	return &Sender{
		p:           p,
		accountID:   acc.ID,
		callbackURL: acc.CallbackURL,
		cfg:         cfg,
		rng:         p.rngFor(acc.ID, cfg.Seed),
	}, nil
}

// ReceiptHandler returns the parser for the sandbox's receipt pushes.
func (p *Provider) ReceiptHandler() providers.ReceiptHandler { return receiptHandler{} }

// Close cancels pending receipt pushes (waiting ones are dropped, in-flight
// requests are aborted) and waits for their goroutines to end. Sends after
// Close fail as transient. Close is safe to call more than once.
func (p *Provider) Close() error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.cancel()
	p.wg.Wait()
	return nil
}

func (p *Provider) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

func (p *Provider) rngFor(accountID int64, seed *int64) *lockedRand {
	if seed == nil {
		return &lockedRand{r: mrand.New(mrand.NewPCG(mrand.Uint64(), mrand.Uint64()))}
	}
	key := rngKey{accountID: accountID, seed: *seed}
	p.mu.Lock()
	defer p.mu.Unlock()
	r, ok := p.rngs[key]
	if !ok {
		r = &lockedRand{r: mrand.New(mrand.NewPCG(uint64(*seed), uint64(*seed)))}
		p.rngs[key] = r
	}
	return r
}

// schedulePush delivers rep to callbackURL after delay, in the background.
// Adding to the wait group under mu, only while open, keeps Close's Wait
// from racing a new Add.
func (p *Provider) schedulePush(callbackURL string, rep Report, delay time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.push(callbackURL, rep, delay)
	}()
}

func (p *Provider) push(callbackURL string, rep Report, delay time.Duration) {
	if p.clock.Sleep(p.ctx, delay) != nil {
		return
	}
	body, err := json.Marshal([]Report{rep})
	if err != nil {
		p.logger.Error("encode sandbox receipt", zap.String("message_id", rep.MessageID), zap.Error(err))
		return
	}
	backoff := pushBackoff
	var lastErr error
	for attempt := 1; attempt <= pushAttempts; attempt++ {
		if attempt > 1 {
			if p.clock.Sleep(p.ctx, backoff) != nil {
				return
			}
			backoff *= 2
		}
		if lastErr = p.post(callbackURL, body); lastErr == nil {
			return
		}
		if p.ctx.Err() != nil {
			return
		}
	}
	p.logger.Warn("sandbox receipt push failed",
		zap.String("message_id", rep.MessageID),
		zap.String("task_id", rep.TaskID),
		zap.Int("attempts", pushAttempts),
		zap.Error(lastErr))
}

// post makes one push. Errors leave out the URL, which carries the
// account's receipt token.
func (p *Provider) post(callbackURL string, body []byte) error {
	ctx, cancel := context.WithTimeout(p.ctx, pushTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, callbackURL, bytes.NewReader(body))
	if err != nil {
		return errors.New("build receipt push request")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Herald-Sandbox/1")
	resp, err := p.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("push receipt: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("push receipt: callback answered %d", resp.StatusCode)
	}
	return nil
}

// lockedRand is a random stream shared by concurrent sends.
type lockedRand struct {
	mu sync.Mutex
	r  *mrand.Rand
}

// draws returns the three numbers one send consumes, always all three and
// in one go, so a seeded account's outcomes depend only on the order of
// its sends.
func (l *lockedRand) draws() (failure, noReceipt, receiptFailure float64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Float64(), l.r.Float64(), l.r.Float64()
}

// SendPolicy gives the account's send timeout.
func (p *Provider) SendPolicy(acc providers.Account) providers.SendPolicy {
	cfg, err := ParseConfig(acc.Config)
	if err != nil {
		return providers.SendPolicy{}
	}
	// The simulated latency is the sandbox's only wait.
	return providers.SendPolicy{Timeout: time.Duration(cfg.LatencyMS) * time.Millisecond}
}
