package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Standard Webhooks header names. http.Header canonicalises them
// ("Webhook-Id"); HTTP header names are case-insensitive, so receivers that
// look up the lower-case spelling find them.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// SecretPrefix starts every symmetric Standard Webhooks secret.
const SecretPrefix = "whsec_"

// DefaultTolerance is how far a webhook-timestamp may be from the
// receiver's clock, in either direction, when Verify is given no tolerance.
const DefaultTolerance = 5 * time.Minute

// Key sizes accepted by NewSigner. The Standard Webhooks specification
// describes secrets of 24 to 64 random bytes; GenerateSecret makes 32.
const (
	minKeyBytes      = 24
	maxKeyBytes      = 64
	generateKeyBytes = 32
)

// signatureVersion tags an HMAC-SHA256 signature in webhook-signature.
const signatureVersion = "v1"

// Verification failures. Verify wraps them with detail; match with
// errors.Is.
var (
	// ErrMissingHeader means one of the webhook-* headers is absent.
	ErrMissingHeader = errors.New("missing webhook header")
	// ErrInvalidTimestamp means webhook-timestamp is not integer seconds.
	ErrInvalidTimestamp = errors.New("invalid webhook timestamp")
	// ErrTimestampTooOld means the message was signed longer ago than the
	// tolerance allows (a replay, or a very slow delivery).
	ErrTimestampTooOld = errors.New("webhook timestamp too old")
	// ErrTimestampTooNew means the message claims to be signed further in
	// the future than the tolerance allows.
	ErrTimestampTooNew = errors.New("webhook timestamp too new")
	// ErrNoMatchingSignature means no v1 signature in webhook-signature
	// matches the body under this secret.
	ErrNoMatchingSignature = errors.New("no matching webhook signature")
)

// Signer signs and verifies Standard Webhooks v1 (HMAC-SHA256) messages
// with one secret. It is safe for concurrent use. Its String and GoString
// methods hide the key, so printing a Signer never leaks the secret.
type Signer struct {
	key []byte
}

// GenerateSecret returns a new random secret: "whsec_" followed by the
// standard base64 encoding of 32 random bytes.
func GenerateSecret() (string, error) {
	key := make([]byte, generateKeyBytes)
	if _, err := rand.Read(key); err != nil {
		return "", fmt.Errorf("generate webhook secret: %w", err)
	}
	return SecretPrefix + base64.StdEncoding.EncodeToString(key), nil
}

// NewSigner returns a Signer for secret, which must be "whsec_" followed by
// the base64 encoding of 24 to 64 bytes. The HMAC key is the decoded bytes,
// as the Standard Webhooks specification requires. Errors never repeat the
// secret.
func NewSigner(secret string) (*Signer, error) {
	encoded, ok := strings.CutPrefix(secret, SecretPrefix)
	if !ok {
		return nil, fmt.Errorf("webhook secret must start with %q", SecretPrefix)
	}
	key, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		// Some tools strip the padding; the key is the same.
		key, err = base64.RawStdEncoding.DecodeString(encoded)
	}
	if err != nil {
		return nil, fmt.Errorf("webhook secret: the part after %q is not valid base64", SecretPrefix)
	}
	if len(key) < minKeyBytes || len(key) > maxKeyBytes {
		return nil, fmt.Errorf("webhook secret must encode %d to %d bytes, got %d", minKeyBytes, maxKeyBytes, len(key))
	}
	return &Signer{key: key}, nil
}

// String hides the key.
func (s *Signer) String() string { return "webhook.Signer{key:redacted}" }

// GoString hides the key from %#v as well.
func (s *Signer) GoString() string { return s.String() }

// Sign returns the "v1,<base64>" signature of body sent as message id at ts.
// The signed content is "<id>.<unix seconds>.<body>"; id must not contain a
// dot, or the signed content becomes ambiguous.
func (s *Signer) Sign(id string, ts time.Time, body []byte) string {
	return signatureVersion + "," + base64.StdEncoding.EncodeToString(s.mac(id, strconv.FormatInt(ts.Unix(), 10), body))
}

// Headers returns the webhook-id, webhook-timestamp and webhook-signature
// headers for body sent as message id at ts.
func (s *Signer) Headers(id string, ts time.Time, body []byte) http.Header {
	h := make(http.Header, 3)
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(HeaderSignature, s.Sign(id, ts, body))
	return h
}

// Verify checks that h carries a valid signature of body under this secret
// and that its timestamp is within tolerance of now, in either direction
// (tolerance <= 0 means DefaultTolerance). webhook-signature may list
// several space-separated signatures, as a sender does while rotating
// secrets; one match is enough. Signatures of other schemes (v1a) are
// ignored. Comparison is constant-time. Verify the raw body before parsing
// it: re-encoded JSON no longer matches.
//
// The returned error wraps ErrMissingHeader, ErrInvalidTimestamp,
// ErrTimestampTooOld, ErrTimestampTooNew or ErrNoMatchingSignature.
func (s *Signer) Verify(h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	id := h.Get(HeaderID)
	rawTS := h.Get(HeaderTimestamp)
	sigs := strings.Join(h.Values(HeaderSignature), " ")
	var missing []string
	for _, f := range []struct{ name, value string }{{HeaderID, id}, {HeaderTimestamp, rawTS}, {HeaderSignature, sigs}} {
		if strings.TrimSpace(f.value) == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("verify webhook: %w: %s", ErrMissingHeader, strings.Join(missing, ", "))
	}

	secs, err := strconv.ParseInt(rawTS, 10, 64)
	if err != nil {
		return fmt.Errorf("verify webhook: %w: want integer unix seconds", ErrInvalidTimestamp)
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	ts := time.Unix(secs, 0)
	if age := now.Sub(ts); age > tolerance {
		return fmt.Errorf("verify webhook: %w: signed %s ago, tolerance %s", ErrTimestampTooOld, age.Truncate(time.Second), tolerance)
	}
	if ahead := ts.Sub(now); ahead > tolerance {
		return fmt.Errorf("verify webhook: %w: signed %s ahead, tolerance %s", ErrTimestampTooNew, ahead.Truncate(time.Second), tolerance)
	}

	want := s.mac(id, rawTS, body)
	for _, entry := range strings.Fields(sigs) {
		version, encoded, ok := strings.Cut(entry, ",")
		if !ok || version != signatureVersion {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(encoded)
		if err != nil {
			continue
		}
		if hmac.Equal(got, want) {
			return nil
		}
	}
	return fmt.Errorf("verify webhook: %w", ErrNoMatchingSignature)
}

// mac computes HMAC-SHA256 over "<id>.<ts>.<body>". Verify passes the
// timestamp exactly as received, so a sender's formatting is what is signed.
func (s *Signer) mac(id, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}
