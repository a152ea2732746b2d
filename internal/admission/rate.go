package admission

import (
	"context"
	"fmt"
	"net/http"

	"github.com/go-redis/redis_rate/v10"
)

// RateLimitedError refuses a whole request: the receivers the other checks
// admitted do not fit in the app's message rate. Nothing of the request
// was counted (its receiver caps were given back).
type RateLimitedError struct {
	Refusal
}

// Error returns the refusal's message.
func (e *RateLimitedError) Error() string { return e.Message }

// messageRateKey is the GCRA key of an app's message rate; the API used
// the same key before the check moved here, so a rolling deploy keeps one
// budget.
func messageRateKey(appID string) string { return "herald:app-messages:" + appID }

// takeMessages takes n messages from the app's message rate of perMinute,
// refusing them all when they do not fit.
func (s *Service) takeMessages(ctx context.Context, appID string, perMinute, n int) error {
	if perMinute <= 0 || n == 0 {
		return nil
	}
	if n > perMinute {
		return &RateLimitedError{Refusal{Status: http.StatusTooManyRequests, Code: CodeReceiverCapped, Rule: "message_rate",
			Message: fmt.Sprintf("message rate limit of %d messages per minute exceeded: this request has %d receivers, more than the limit allows at once; split it", perMinute, n)}}
	}
	res, err := s.limiter.AllowN(ctx, messageRateKey(appID), redis_rate.PerMinute(perMinute), n)
	if err != nil {
		return fmt.Errorf("%w: message rate: %w", ErrCache, err)
	}
	if res.Allowed == 0 {
		return &RateLimitedError{Refusal{Status: http.StatusTooManyRequests, Code: CodeReceiverCapped, Rule: "message_rate", RetryAfter: res.RetryAfter,
			Message: fmt.Sprintf("message rate limit of %d messages per minute exceeded: this request has %d receivers", perMinute, n)}}
	}
	return nil
}
