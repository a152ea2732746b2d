package admin

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/heraldhq/herald/store"
)

// accessKeyLabel derives the access-token signing key from the master key.
const accessKeyLabel = "herald admin access token key v1"

const (
	tokenIssuer   = "herald"
	tokenAudience = "herald-admin"
)

// accessClaims are the claims of an access token: sub is the user id.
type accessClaims struct {
	Role string `json:"role"`
	// TokenVersion is the user's token version at issue; a token whose
	// version is no longer the user's is refused.
	TokenVersion int `json:"tv"`
	jwt.RegisteredClaims
}

// tokens issues and checks access tokens.
type tokens struct {
	key []byte
	ttl time.Duration
	now func() time.Time
}

func newTokens(master []byte, ttl time.Duration, now func() time.Time) *tokens {
	return &tokens{key: store.DeriveKey(master, accessKeyLabel), ttl: ttl, now: now}
}

func (t *tokens) issue(u *store.AdminUser) (string, error) {
	jti, err := randomToken(16)
	if err != nil {
		return "", err
	}
	now := t.now()
	claims := accessClaims{
		Role:         u.Role,
		TokenVersion: u.TokenVersion,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    tokenIssuer,
			Subject:   strconv.FormatInt(u.ID, 10),
			Audience:  jwt.ClaimStrings{tokenAudience},
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(t.ttl)),
			ID:        jti,
		},
	}
	signed, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(t.key)
	if err != nil {
		return "", fmt.Errorf("sign access token: %w", err)
	}
	return signed, nil
}

// errTokenExpired tells an expired token from a bad one.
var errTokenExpired = errors.New("access token expired")

// parse checks a token's signature, algorithm, issuer, audience and
// expiry, and returns the user id and claims.
func (t *tokens) parse(raw string) (int64, *accessClaims, error) {
	var claims accessClaims
	_, err := jwt.ParseWithClaims(raw, &claims, func(*jwt.Token) (any, error) { return t.key, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(tokenIssuer),
		jwt.WithAudience(tokenAudience),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(t.now),
	)
	if errors.Is(err, jwt.ErrTokenExpired) {
		return 0, nil, errTokenExpired
	}
	if err != nil {
		return 0, nil, fmt.Errorf("access token: %w", err)
	}
	id, err := strconv.ParseInt(claims.Subject, 10, 64)
	if err != nil || id <= 0 {
		return 0, nil, errors.New("access token: bad subject")
	}
	return id, &claims, nil
}

// randomToken returns n random bytes, base64url-encoded.
func randomToken(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// hashRefreshToken is how a refresh token is stored and looked up. The
// token has 256 random bits, so an unsalted fast hash is enough: it
// cannot be guessed, only stolen, and the table alone does not give it.
func hashRefreshToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
