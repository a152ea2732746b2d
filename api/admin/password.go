package admin

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Argon2Params are the cost of an argon2id hash. Memory is in KiB.
type Argon2Params struct {
	Memory  uint32
	Time    uint32
	Threads uint8
}

// DefaultArgon2 follows the OWASP minimum for argon2id: 19 MiB, two
// passes, one lane. With the default concurrency bound the hashes of a
// login flood hold at most 2 × GOMAXPROCS × 19 MiB.
var DefaultArgon2 = Argon2Params{Memory: 19 * 1024, Time: 2, Threads: 1}

const (
	argonSaltLen = 16
	argonKeyLen  = 32
)

// ErrHashBusy is returned when every hashing slot and queue place is
// taken, or a queued hash waited too long: the caller answers 503.
var ErrHashBusy = errors.New("password hashing is at capacity")

// Hasher hashes and checks passwords with argon2id, never running more
// than a fixed number at once and refusing quickly beyond a bounded queue,
// so a flood of logins costs bounded memory and CPU.
type Hasher struct {
	params Argon2Params
	// tickets holds one place per running or waiting hash; slots one per
	// running hash.
	tickets chan struct{}
	slots   chan struct{}
	wait    time.Duration
	// key is argon2.IDKey; tests replace it to watch the bound.
	key   func(password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte
	dummy string
}

// NewHasher returns a hasher for new hashes of cost p under limits.
func NewHasher(p Argon2Params, limits HashLimits) (*Hasher, error) {
	limits = limits.withDefaults()
	if p == (Argon2Params{}) {
		p = DefaultArgon2
	}
	h := &Hasher{
		params:  p,
		tickets: make(chan struct{}, limits.Concurrency+limits.Queue),
		slots:   make(chan struct{}, limits.Concurrency),
		wait:    limits.Wait,
		key:     argon2.IDKey,
	}
	// An unknown username is checked against this hash, so it costs what
	// a known one does and answers in the same time.
	dummy, err := h.encode([]byte("unknown user"))
	if err != nil {
		return nil, err
	}
	h.dummy = dummy
	return h, nil
}

// acquire takes a hashing slot, waiting in the bounded queue for at most
// the configured time.
func (h *Hasher) acquire(ctx context.Context) (func(), error) {
	select {
	case h.tickets <- struct{}{}:
	default:
		return nil, ErrHashBusy
	}
	timer := time.NewTimer(h.wait)
	defer timer.Stop()
	select {
	case h.slots <- struct{}{}:
		return func() { <-h.slots; <-h.tickets }, nil
	case <-timer.C:
		<-h.tickets
		return nil, ErrHashBusy
	case <-ctx.Done():
		<-h.tickets
		return nil, ctx.Err()
	}
}

// Hash returns the PHC string of a password:
// $argon2id$v=19$m=...,t=...,p=...$salt$hash.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	release, err := h.acquire(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	return h.encode([]byte(password))
}

func (h *Hasher) encode(password []byte) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: salt: %w", err)
	}
	p := h.params
	sum := h.key(password, salt, p.Time, p.Memory, p.Threads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(sum)), nil
}

// Verify reports whether password matches encoded, comparing in constant
// time. An empty encoded (an unknown user) is checked against a dummy hash
// of the same cost and never matches.
func (h *Hasher) Verify(ctx context.Context, encoded, password string) (bool, error) {
	known := encoded != ""
	if !known {
		encoded = h.dummy
	}
	p, salt, want, err := decodeHash(encoded)
	if err != nil {
		return false, err
	}
	release, err := h.acquire(ctx)
	if err != nil {
		return false, err
	}
	defer release()
	got := h.key([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1 && known, nil
}

// decodeHash parses a PHC argon2id string.
func decodeHash(encoded string) (Argon2Params, []byte, []byte, error) {
	bad := errors.New("stored password hash is not an argon2id hash")
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return Argon2Params{}, nil, nil, bad
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return Argon2Params{}, nil, nil, bad
	}
	var p Argon2Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil || p.Time == 0 || p.Threads == 0 {
		return Argon2Params{}, nil, nil, bad
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil {
		return Argon2Params{}, nil, nil, bad
	}
	sum, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(sum) == 0 {
		return Argon2Params{}, nil, nil, bad
	}
	return p, salt, sum, nil
}

// Password rules.
const (
	MinPasswordLength = 12
	// MaxPasswordBytes bounds the hash input; longer adds no strength.
	MaxPasswordBytes = 256
)

// ValidatePassword checks a new password against the minimum rules and
// says what to fix.
func ValidatePassword(username, password string) error {
	switch {
	case utf8.RuneCountInString(password) < MinPasswordLength:
		return fmt.Errorf("password must be at least %d characters long (a few unrelated words make a good one)", MinPasswordLength)
	case len(password) > MaxPasswordBytes:
		return fmt.Errorf("password must be at most %d bytes long", MaxPasswordBytes)
	case strings.EqualFold(strings.TrimSpace(password), username):
		return errors.New("password must not be the username")
	case strings.Count(password, password[:1]) == len(password):
		return errors.New("password must not repeat one character")
	}
	return nil
}

// NormalizeUsername is the form usernames are stored and looked up in.
func NormalizeUsername(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// ValidateUsername checks a new (normalized) username.
func ValidateUsername(s string) error {
	if s == "" || len(s) > 64 {
		return errors.New("username must be 1 to 64 characters long")
	}
	for i, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || i > 0 && (r == '.' || r == '_' || r == '-')
		if !ok {
			return errors.New("username may hold only lower-case letters, digits, '.', '_' and '-', and must start with a letter or digit")
		}
	}
	return nil
}
