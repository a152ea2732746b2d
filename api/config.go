package api

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/heraldhq/herald/internal/clientip"
)

// Config tunes the HTTP API. Zero fields take the defaults of DefaultConfig.
type Config struct {
	// MaxBodyBytes caps a request body (default 4 MiB).
	MaxBodyBytes int64
	// TimestampWindow is how far X-Timestamp may be from the server clock,
	// either way (default 5 minutes). Nonces are remembered for twice as long.
	TimestampWindow time.Duration
	// DefaultRateLimit is the per-app request rate, per second, for apps
	// that set none (default 100).
	DefaultRateLimit int
	// DefaultMessagesPerMinute caps the messages an app may have accepted
	// per minute, a batch counting one per accepted receiver, for apps
	// that set none. 0 (the default) means no message rate: volume is
	// capped by quotas, and a large batch is not refused by default.
	DefaultMessagesPerMinute int
	// AuthFailureLimit is how many failed authentications a client IP may
	// make within AuthFailureWindow before its requests are refused with
	// 429 without reading their bodies (default 20; negative disables the
	// limit). Signed API requests and provider callbacks count together;
	// a callback with a valid token is never refused.
	AuthFailureLimit int
	// AuthFailureWindow is how long failures are remembered, counted from
	// the latest one (default 1 minute).
	AuthFailureWindow time.Duration
	// MaxAttachmentBytes caps the decoded size of a request's attachments
	// together (default 3 MiB, which fits a 4 MiB body once base64-encoded).
	MaxAttachmentBytes int64
	// BatchMaxSize caps the receivers of one batch (default 100,000).
	BatchMaxSize int
	// BatchMaxBodyBytes caps the body of a batch request, which lists up
	// to BatchMaxSize receivers (default 32 MiB: 100,000 receivers of up
	// to about 250 bytes each, plus attachments within MaxBodyBytes).
	BatchMaxBodyBytes int64
	// MaxScheduleAhead is how far in the future scheduled_at may be
	// (default 30 days).
	MaxScheduleAhead time.Duration
	// DefaultMaxAttempts bounds send attempts for channels that set none
	// (default 5).
	DefaultMaxAttempts int
	// TrustedProxies lists the IPs or CIDR ranges of reverse proxies whose
	// X-Forwarded-For header is believed. Empty means the client IP is
	// always the connection's peer address.
	TrustedProxies []string
}

// Defaults of Config.
const (
	DefaultMaxBodyBytes       = 4 << 20
	DefaultTimestampWindow    = 5 * time.Minute
	DefaultRateLimitPerSecond = 100
	DefaultBatchMaxSize       = 100000
	DefaultBatchMaxBodyBytes  = 32 << 20
	DefaultMaxScheduleAhead   = 30 * 24 * time.Hour
	DefaultMaxAttempts        = 5
	DefaultAuthFailureLimit   = 20
	DefaultAuthFailureWindow  = time.Minute
	DefaultMaxAttachmentBytes = 3 << 20
)

// DefaultConfig returns the configuration used for zero fields.
func DefaultConfig() Config {
	return Config{
		MaxBodyBytes:       DefaultMaxBodyBytes,
		TimestampWindow:    DefaultTimestampWindow,
		DefaultRateLimit:   DefaultRateLimitPerSecond,
		BatchMaxSize:       DefaultBatchMaxSize,
		BatchMaxBodyBytes:  DefaultBatchMaxBodyBytes,
		MaxScheduleAhead:   DefaultMaxScheduleAhead,
		DefaultMaxAttempts: DefaultMaxAttempts,
		AuthFailureLimit:   DefaultAuthFailureLimit,
		AuthFailureWindow:  DefaultAuthFailureWindow,
		MaxAttachmentBytes: DefaultMaxAttachmentBytes,
	}
}

// withDefaults fills zero fields from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = d.MaxBodyBytes
	}
	if c.TimestampWindow == 0 {
		c.TimestampWindow = d.TimestampWindow
	}
	if c.DefaultRateLimit == 0 {
		c.DefaultRateLimit = d.DefaultRateLimit
	}
	if c.BatchMaxSize == 0 {
		c.BatchMaxSize = d.BatchMaxSize
	}
	if c.BatchMaxBodyBytes == 0 {
		c.BatchMaxBodyBytes = max(d.BatchMaxBodyBytes, c.MaxBodyBytes)
	}
	if c.MaxScheduleAhead == 0 {
		c.MaxScheduleAhead = d.MaxScheduleAhead
	}
	if c.DefaultMaxAttempts == 0 {
		c.DefaultMaxAttempts = d.DefaultMaxAttempts
	}
	if c.AuthFailureLimit == 0 {
		c.AuthFailureLimit = d.AuthFailureLimit
	}
	if c.AuthFailureWindow == 0 {
		c.AuthFailureWindow = d.AuthFailureWindow
	}
	if c.MaxAttachmentBytes == 0 {
		c.MaxAttachmentBytes = min(d.MaxAttachmentBytes, c.MaxBodyBytes*3/4)
	}
	return c
}

// Validate reports every invalid field in one error. Zero fields are valid:
// they mean the default.
func (c Config) Validate() error {
	var errs []error
	if c.MaxBodyBytes < 0 {
		errs = append(errs, fmt.Errorf("MaxBodyBytes must not be negative, got %d", c.MaxBodyBytes))
	}
	if c.TimestampWindow < 0 {
		errs = append(errs, fmt.Errorf("TimestampWindow must not be negative, got %s", c.TimestampWindow))
	}
	if c.TimestampWindow > 0 && c.TimestampWindow < time.Second {
		errs = append(errs, fmt.Errorf("TimestampWindow must be at least 1s, got %s", c.TimestampWindow))
	}
	if c.DefaultRateLimit < 0 {
		errs = append(errs, fmt.Errorf("DefaultRateLimit must not be negative, got %d", c.DefaultRateLimit))
	}
	if c.DefaultMessagesPerMinute < 0 {
		errs = append(errs, fmt.Errorf("DefaultMessagesPerMinute must not be negative, got %d", c.DefaultMessagesPerMinute))
	}
	if c.AuthFailureWindow < 0 {
		errs = append(errs, fmt.Errorf("AuthFailureWindow must not be negative, got %s", c.AuthFailureWindow))
	}
	if c.MaxAttachmentBytes < 0 {
		errs = append(errs, fmt.Errorf("MaxAttachmentBytes must not be negative, got %d", c.MaxAttachmentBytes))
	}
	if c.MaxAttachmentBytes > 0 && c.MaxBodyBytes > 0 && c.MaxAttachmentBytes >= c.MaxBodyBytes {
		errs = append(errs, fmt.Errorf("MaxAttachmentBytes (%d) must be below MaxBodyBytes (%d): attachments travel base64-encoded in the body", c.MaxAttachmentBytes, c.MaxBodyBytes))
	}
	if c.BatchMaxSize < 0 {
		errs = append(errs, fmt.Errorf("BatchMaxSize must not be negative, got %d", c.BatchMaxSize))
	}
	if c.BatchMaxBodyBytes < 0 {
		errs = append(errs, fmt.Errorf("BatchMaxBodyBytes must not be negative, got %d", c.BatchMaxBodyBytes))
	}
	if c.BatchMaxBodyBytes > 0 && c.MaxBodyBytes > 0 && c.BatchMaxBodyBytes < c.MaxBodyBytes {
		errs = append(errs, fmt.Errorf("BatchMaxBodyBytes (%d) must be at least MaxBodyBytes (%d): a batch carries what a single send does, and its receivers", c.BatchMaxBodyBytes, c.MaxBodyBytes))
	}
	if c.MaxScheduleAhead < 0 {
		errs = append(errs, fmt.Errorf("MaxScheduleAhead must not be negative, got %s", c.MaxScheduleAhead))
	}
	if c.DefaultMaxAttempts < 0 {
		errs = append(errs, fmt.Errorf("DefaultMaxAttempts must not be negative, got %d", c.DefaultMaxAttempts))
	}
	if _, err := parsePrefixes(c.TrustedProxies); err != nil {
		errs = append(errs, fmt.Errorf("TrustedProxies: %w", err))
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid api config: %w", errors.Join(errs...))
	}
	return nil
}

// parsePrefixes parses the trusted proxies (clientip.ParsePrefixes).
func parsePrefixes(entries []string) ([]netip.Prefix, error) { return clientip.ParsePrefixes(entries) }
