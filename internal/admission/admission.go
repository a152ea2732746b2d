package admission

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"github.com/heraldhq/herald/internal/traffic"
	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/store"
)

// Wire codes of refusals; they are the API's codes of the same meaning.
const (
	// CodeReceiverCapped: a receiver cap is reached (HTTP 429).
	CodeReceiverCapped = 30001
	// CodeReceiverRefused: the receiver cannot be sent to, because it opted
	// out or no account reaches its country (HTTP 400).
	CodeReceiverRefused = 10005
)

// Failures of a dependency, wrapped with their cause: the caller answers
// them as an outage of that dependency.
var (
	ErrCache = errors.New("admission: redis")
	ErrStore = errors.New("admission: store")
)

// Store is what the service reads and writes of the data layer.
type Store interface {
	// SuppressedKeys returns which receiver keys are suppressed for the
	// app and channel type.
	SuppressedKeys(ctx context.Context, appID, channelType string, keys []string) (map[string]bool, error)
	// AddSuppression records an opt-out; an existing one is kept.
	AddSuppression(ctx context.Context, s *store.Suppression) error
}

var _ Store = (*store.DB)(nil)

// Config tunes the service. The zero value is usable.
type Config struct {
	// KeyPrefix prefixes every Redis key; default "herald:rcap:".
	KeyPrefix string
}

// Deps are the collaborators of the service; all but Now are required.
type Deps struct {
	Store     Store
	Redis     *redis.Client
	Keys      *store.ReceiverKeyer
	Providers *providers.Registry
	// Now defaults to time.Now.
	Now func() time.Time
}

// Service runs the admission checks. It is safe for concurrent use.
type Service struct {
	prefix    string
	store     Store
	redis     *redis.Client
	limiter   *redis_rate.Limiter
	keys      *store.ReceiverKeyer
	providers *providers.Registry
	now       func() time.Time
}

// New builds a service; it returns an error naming every missing
// dependency.
func New(cfg Config, deps Deps) (*Service, error) {
	var missing []error
	if deps.Store == nil {
		missing = append(missing, errors.New("Store is required"))
	}
	if deps.Redis == nil {
		missing = append(missing, errors.New("Redis is required"))
	}
	if deps.Keys == nil {
		missing = append(missing, errors.New("Keys is required"))
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("new admission service: %w", errors.Join(missing...))
	}
	s := &Service{
		prefix: cfg.KeyPrefix, store: deps.Store, redis: deps.Redis, limiter: redis_rate.NewLimiter(deps.Redis),
		keys: deps.Keys, providers: deps.Providers, now: deps.Now,
	}
	if s.prefix == "" {
		s.prefix = "herald:rcap:"
	}
	if s.providers == nil {
		s.providers = providers.NewRegistry()
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// Request is one send request, checked against its channel already.
type Request struct {
	AppID    string
	Channel  *store.Channel
	Template *store.Template
	// Pool is the channel's account pool, as the caller loaded it.
	Pool []store.PoolMember
	// Receivers are normalised (E.164 phone numbers, e-mail addresses,
	// user ids); a receiver given twice is counted twice.
	Receivers []string
	// Priority is the message priority ("critical" or empty); no check
	// depends on it yet.
	Priority string
	// MessagesPerMinute is the app's message rate (0: none): the receivers
	// admitted by the other checks are taken from it together, or the
	// request is refused whole.
	MessagesPerMinute int
}

// Refusal says why a receiver is not accepted.
type Refusal struct {
	// Status is the HTTP status of a single send refused for this.
	Status int
	// Code is the wire code.
	Code int
	// RetryAfter, when positive, is when trying again may succeed.
	RetryAfter time.Duration
	// Rule names the check: "receiver_cap", "suppression" or "country".
	Rule string
	// Message names the rule for the client; it never holds the receiver.
	Message string
}

// Admit checks every receiver of r and returns a verdict per receiver,
// aligned with r.Receivers: nil for accepted, else the refusal. Accepted
// receivers have been counted against their caps and the app's message
// rate; refused ones against neither. A *RateLimitedError refuses the
// whole request (its receivers do not fit in the message rate) and
// counts nothing. An error wrapping ErrCache or ErrStore means a
// dependency failed and nothing may be accepted.
func (s *Service) Admit(ctx context.Context, r Request) ([]*Refusal, error) {
	out := make([]*Refusal, len(r.Receivers))
	keys := make([]string, len(r.Receivers))
	for i, rc := range r.Receivers {
		keys[i] = s.keys.Key(r.Channel.Type, rc)
	}
	s.checkCountries(r, out)
	if err := s.checkSuppressed(ctx, r, keys, out); err != nil {
		return nil, err
	}
	counted, err := s.checkCaps(ctx, r, keys, out)
	if err != nil {
		return nil, err
	}
	// The message rate comes last so that it counts only receivers every
	// other check admitted.
	admitted := 0
	for _, v := range out {
		if v == nil {
			admitted++
		}
	}
	if err := s.takeMessages(ctx, r.AppID, r.MessagesPerMinute, admitted); err != nil {
		// A refused request must not use up its receivers' caps.
		if uerr := s.uncount(ctx, counted); uerr != nil {
			err = errors.Join(err, uerr)
		}
		return nil, err
	}
	return out, nil
}

// checkCountries refuses SMS receivers that no enabled account reaches
// (its provider's countries and its own countries setting both let the
// number through) or that the channel's allowed countries leave out.
func (s *Service) checkCountries(r Request, out []*Refusal) {
	if r.Channel.Type != store.ChannelSMS {
		return
	}
	type reach struct {
		p         providers.Provider
		countries []string
	}
	var accounts []reach
	unlimited := false
	for _, m := range r.Pool {
		if !m.Account.Enabled || m.Weight <= 0 {
			continue
		}
		p, err := s.providers.Get(m.Account.Kind)
		if err != nil {
			// An account of an unknown kind fails at send time with a
			// clear error; it is not a reason to refuse here.
			unlimited = true
			continue
		}
		if _, limited := p.(providers.CountryLimiter); !limited && len(m.Account.Countries) == 0 {
			// This account reaches every region (traffic.AccountReaches).
			unlimited = true
		}
		accounts = append(accounts, reach{p, m.Account.Countries})
	}
	if len(accounts) == 0 {
		// No enabled account: the caller refuses the whole request for
		// that (30006) before asking about receivers.
		unlimited = true
	}
	if unlimited && len(r.Channel.AllowedCountries) == 0 {
		// Every receiver is reachable: no number needs its region, which
		// costs a parse per receiver of a 100,000-receiver batch.
		return
	}
	reachable := func(region string) bool {
		return unlimited || slices.ContainsFunc(accounts, func(a reach) bool { return traffic.AccountReaches(a.p, a.countries, region) })
	}
	for i, rc := range r.Receivers {
		if out[i] != nil {
			continue
		}
		region := traffic.RegionOf(rc)
		switch {
		case len(r.Channel.AllowedCountries) > 0 && !slices.Contains(r.Channel.AllowedCountries, region):
			out[i] = refused("country", "receiver's country (%s) is not allowed on channel %d, which sends only to %s",
				regionName(region), r.Channel.ID, strings.Join(r.Channel.AllowedCountries, ", "))
		case !reachable(region):
			out[i] = refused("country", "receiver's country (%s) is reached by no enabled provider account of channel %d",
				regionName(region), r.Channel.ID)
		}
	}
}

func regionName(region string) string {
	if region == "" {
		return "unknown"
	}
	return region
}

func refused(rule, format string, args ...any) *Refusal {
	return &Refusal{Status: http.StatusBadRequest, Code: CodeReceiverRefused, Rule: rule, Message: fmt.Sprintf(format, args...)}
}

// checkSuppressed refuses receivers who opted out, unless the template is
// a verification template: a one-time code is asked for by the receiver.
func (s *Service) checkSuppressed(ctx context.Context, r Request, keys []string, out []*Refusal) error {
	if r.Template != nil && r.Template.Kind == store.TemplateKindVerification {
		return nil
	}
	var ask []string
	for i, k := range keys {
		if out[i] == nil {
			ask = append(ask, k)
		}
	}
	if len(ask) == 0 {
		return nil
	}
	suppressed, err := s.store.SuppressedKeys(ctx, r.AppID, r.Channel.Type, ask)
	if err != nil {
		return fmt.Errorf("%w: look up suppressions: %w", ErrStore, err)
	}
	for i, k := range keys {
		if out[i] == nil && suppressed[k] {
			out[i] = refused("suppression", "receiver has opted out of %s from this app", r.Channel.Type)
		}
	}
	return nil
}

// OptOut records that a receiver opted out of a channel type from an app.
// Recording it twice keeps the first entry.
func (s *Service) OptOut(ctx context.Context, appID, channelType, receiver, reason, source string) error {
	err := s.store.AddSuppression(ctx, &store.Suppression{
		AppID: appID, ChannelType: channelType,
		ReceiverKey:    s.keys.Key(channelType, receiver),
		ReceiverMasked: store.MaskReceiver(channelType, receiver),
		Reason:         reason, Source: source,
	})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrStore, err)
	}
	return nil
}

// optOutWords are the SMS replies that mean "stop sending me messages":
// 退订 and its initials TD or T, which Chinese operators require senders
// to honour, and STOP.
var optOutWords = []string{"TD", "T", "退订", "STOP"}

// IsOptOutReply reports whether an SMS reply asks to stop messages: one of
// TD, T, 退订 or STOP, ignoring case and surrounding space.
func IsOptOutReply(content string) bool {
	c := strings.TrimSpace(content)
	return slices.ContainsFunc(optOutWords, func(w string) bool { return strings.EqualFold(c, w) })
}
