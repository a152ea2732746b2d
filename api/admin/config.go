package admin

import (
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/labstack/echo/v4"
	"go.temporal.io/sdk/converter"
	"go.uber.org/zap"

	"github.com/heraldhq/herald/internal/clientip"
	"github.com/heraldhq/herald/store"
)

// Config tunes the admin server. Zero fields take the defaults.
type Config struct {
	// MasterKey is Herald's master key; access tokens are signed with a
	// subkey derived from it. Required.
	MasterKey []byte
	// TrustedProxies are the reverse proxies whose X-Forwarded-For and
	// X-Forwarded-Proto are believed (the client API's list).
	TrustedProxies []string
	// MaxBodyBytes caps a request body (default 1 MiB).
	MaxBodyBytes int64
	// AccessTokenTTL is an access token's lifetime (default 15 minutes).
	AccessTokenTTL time.Duration
	// RefreshIdleTTL ends a sign-in not refreshed for this long (default
	// 12 hours).
	RefreshIdleTTL time.Duration
	// RefreshMaxTTL ends a sign-in this long after the login, however
	// active (default 7 days).
	RefreshMaxTTL time.Duration
	// LoginFreeFailures is how many failed logins of one (username,
	// client IP) pass before back-off starts (default 3).
	LoginFreeFailures int
	// LoginBaseDelay is the first back-off; each further failure doubles
	// it (default 1 second) up to LoginMaxDelay (default 15 minutes).
	LoginBaseDelay time.Duration
	LoginMaxDelay  time.Duration
	// LoginFailureMemory is how long failures are remembered after the
	// latest one (default 24 hours).
	LoginFailureMemory time.Duration
	// Hashing bounds password hashing (see HashLimits).
	Hashing HashLimits
	// Argon2 sets the cost of new password hashes (default
	// DefaultArgon2).
	Argon2 Argon2Params
	// CodecOrigins are the browser origins (scheme://host[:port]) of the
	// Temporal Web UIs that may call the codec server with credentials.
	CodecOrigins []string
}

// HashLimits bound the memory password hashing can take: at most
// Concurrency hashes run at once, at most Queue more wait, each for at
// most Wait; anything beyond is refused at once with 503.
type HashLimits struct {
	// Concurrency defaults to 2 × GOMAXPROCS.
	Concurrency int
	// Queue defaults to 4 × Concurrency.
	Queue int
	// Wait defaults to 5 seconds.
	Wait time.Duration
}

// Defaults of Config.
const (
	DefaultMaxBodyBytes       = 1 << 20
	DefaultAccessTokenTTL     = 15 * time.Minute
	DefaultRefreshIdleTTL     = 12 * time.Hour
	DefaultRefreshMaxTTL      = 7 * 24 * time.Hour
	DefaultLoginFreeFailures  = 3
	DefaultLoginBaseDelay     = time.Second
	DefaultLoginMaxDelay      = 15 * time.Minute
	DefaultLoginFailureMemory = 24 * time.Hour
	DefaultHashWait           = 5 * time.Second
)

func (c Config) withDefaults() Config {
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.AccessTokenTTL == 0 {
		c.AccessTokenTTL = DefaultAccessTokenTTL
	}
	if c.RefreshIdleTTL == 0 {
		c.RefreshIdleTTL = DefaultRefreshIdleTTL
	}
	if c.RefreshMaxTTL == 0 {
		c.RefreshMaxTTL = DefaultRefreshMaxTTL
	}
	if c.LoginFreeFailures == 0 {
		c.LoginFreeFailures = DefaultLoginFreeFailures
	}
	if c.LoginBaseDelay == 0 {
		c.LoginBaseDelay = DefaultLoginBaseDelay
	}
	if c.LoginMaxDelay == 0 {
		c.LoginMaxDelay = DefaultLoginMaxDelay
	}
	if c.LoginFailureMemory == 0 {
		c.LoginFailureMemory = DefaultLoginFailureMemory
	}
	c.Hashing = c.Hashing.withDefaults()
	if c.Argon2 == (Argon2Params{}) {
		c.Argon2 = DefaultArgon2
	}
	return c
}

func (h HashLimits) withDefaults() HashLimits {
	if h.Concurrency == 0 {
		h.Concurrency = 2 * runtime.GOMAXPROCS(0)
	}
	if h.Queue == 0 {
		h.Queue = 4 * h.Concurrency
	}
	if h.Wait == 0 {
		h.Wait = DefaultHashWait
	}
	return h
}

// Validate reports every invalid field at once.
func (c Config) Validate() error {
	var errs []error
	if len(c.MasterKey) != store.MasterKeySize {
		errs = append(errs, fmt.Errorf("MasterKey must be %d bytes, got %d", store.MasterKeySize, len(c.MasterKey)))
	}
	if _, err := clientip.ParsePrefixes(c.TrustedProxies); err != nil {
		errs = append(errs, fmt.Errorf("TrustedProxies: %w", err))
	}
	for name, d := range map[string]time.Duration{
		"AccessTokenTTL": c.AccessTokenTTL, "RefreshIdleTTL": c.RefreshIdleTTL, "RefreshMaxTTL": c.RefreshMaxTTL,
		"LoginBaseDelay": c.LoginBaseDelay, "LoginMaxDelay": c.LoginMaxDelay, "LoginFailureMemory": c.LoginFailureMemory,
		"Hashing.Wait": c.Hashing.Wait,
	} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("%s must not be negative, got %s", name, d))
		}
	}
	if c.RefreshIdleTTL > 0 && c.RefreshMaxTTL > 0 && c.RefreshIdleTTL > c.RefreshMaxTTL {
		errs = append(errs, fmt.Errorf("RefreshIdleTTL (%s) must not exceed RefreshMaxTTL (%s)", c.RefreshIdleTTL, c.RefreshMaxTTL))
	}
	if _, err := codecOrigins(c.CodecOrigins); err != nil {
		errs = append(errs, fmt.Errorf("CodecOrigins: %w", err))
	}
	if c.MaxBodyBytes < 0 || c.LoginFreeFailures < 0 || c.Hashing.Concurrency < 0 || c.Hashing.Queue < 0 {
		errs = append(errs, errors.New("MaxBodyBytes, LoginFreeFailures, Hashing.Concurrency and Hashing.Queue must not be negative"))
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid admin api config: %w", errors.Join(errs...))
	}
	return nil
}

// Deps are the collaborators of the server.
type Deps struct {
	// Store holds users, sessions and the audit log. Required.
	Store *store.DB
	// Routes are mounted on the authenticated /admin/api/v1 group, in
	// order.
	Routes []func(g *echo.Group)
	// OpenAPIFragments document the Routes: YAML with "paths" and
	// "components", merged into the served document.
	OpenAPIFragments [][]byte
	// Codec, when set, is served at CodecPrefix to operators and admins
	// (the Temporal codec server protocol), so the Temporal Web UI shows
	// the payloads it encrypted in clear to them.
	Codec converter.PayloadCodec
	// Logger defaults to a no-op logger.
	Logger *zap.Logger
	// Now defaults to time.Now.
	Now func() time.Time
}
