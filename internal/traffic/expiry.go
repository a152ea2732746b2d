package traffic

import (
	"fmt"
	"time"
)

// Expiry bounds and defaults.
const (
	// MaxTTL is the longest a message may stay unsent after it is due.
	MaxTTL = 30 * 24 * time.Hour
	// DefaultChannelTTL is the expiry of a message whose request, template
	// and channel set none.
	DefaultChannelTTL = 24 * time.Hour
	// VerificationTTL is the expiry of messages of a verification
	// template that sets no ttl_seconds of its own: a code that arrives
	// later than this is useless. TemplateTTL applies it.
	VerificationTTL = 10 * time.Minute
)

// ExpiryRequest is what a send request says about its expiry: at most one
// of an absolute ExpiresAt and a TTL counted from when the message is due.
type ExpiryRequest struct {
	ExpiresAt  *time.Time
	TTLSeconds *int
}

// TemplateTTL is the default expiry of a template's messages: its own
// ttl_seconds, else VerificationTTL for a verification template, else 0
// (the channel decides).
func TemplateTTL(ttlSeconds int, verification bool) time.Duration {
	if ttlSeconds > 0 {
		return time.Duration(ttlSeconds) * time.Second
	}
	if verification {
		return VerificationTTL
	}
	return 0
}

// ChannelTTL is a channel's default expiry: its default_ttl_seconds, or
// DefaultChannelTTL when that is 0.
func ChannelTTL(defaultTTLSeconds int) time.Duration {
	if defaultTTLSeconds > 0 {
		return time.Duration(defaultTTLSeconds) * time.Second
	}
	return DefaultChannelTTL
}

// ExpiryError is a request's expiry that cannot be used; Field names the
// request field at fault.
type ExpiryError struct {
	Field   string
	Message string
}

func (e *ExpiryError) Error() string { return e.Field + ": " + e.Message }

// ResolveExpiry returns when a message accepted at now and due at due
// (its scheduled time, or now) expires: the request's expires_at, else due
// plus its ttl_seconds, else due plus templateTTL when positive, else due
// plus channelTTL. A request's expiry must lie after both now and due and
// at most MaxTTL after due; otherwise the error is an *ExpiryError.
func ResolveExpiry(now, due time.Time, req ExpiryRequest, templateTTL, channelTTL time.Duration) (time.Time, error) {
	if due.Before(now) {
		due = now
	}
	switch {
	case req.ExpiresAt != nil && req.TTLSeconds != nil:
		return time.Time{}, &ExpiryError{Field: "expires_at", Message: "give expires_at or ttl_seconds, not both"}
	case req.ExpiresAt != nil:
		at := *req.ExpiresAt
		if !at.After(now) {
			return time.Time{}, &ExpiryError{Field: "expires_at", Message: "must be in the future"}
		}
		if !at.After(due) {
			return time.Time{}, &ExpiryError{Field: "expires_at", Message: "must be after scheduled_at"}
		}
		if at.Sub(due) > MaxTTL {
			return time.Time{}, &ExpiryError{Field: "expires_at", Message: fmt.Sprintf("must be at most %d days after the message is due", int(MaxTTL/(24*time.Hour)))}
		}
		return at, nil
	case req.TTLSeconds != nil:
		ttl := *req.TTLSeconds
		if ttl <= 0 || time.Duration(ttl)*time.Second > MaxTTL {
			return time.Time{}, &ExpiryError{Field: "ttl_seconds", Message: fmt.Sprintf("must be between 1 and %d", int(MaxTTL/time.Second))}
		}
		return due.Add(time.Duration(ttl) * time.Second), nil
	case templateTTL > 0:
		return due.Add(templateTTL), nil
	}
	return due.Add(channelTTL), nil
}
