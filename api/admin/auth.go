package admin

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/heraldhq/herald/internal/adminhttp"
	"github.com/heraldhq/herald/internal/clientip"
	"github.com/heraldhq/herald/store"
)

// RefreshCookie is the cookie browsers keep the refresh token in; only
// the auth routes ever see it.
const RefreshCookie = "herald_refresh"

// Token deliveries of a login.
const (
	DeliveryBody   = "body"
	DeliveryCookie = "cookie"
)

type loginRequest struct {
	Username      string `json:"username"`
	Password      string `json:"password"`
	TokenDelivery string `json:"token_delivery"`
}

type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

// session is the answer of login and refresh (adminclient.Session).
type session struct {
	AccessToken  string      `json:"access_token"`
	TokenType    string      `json:"token_type"`
	ExpiresIn    int         `json:"expires_in"`
	RefreshToken string      `json:"refresh_token,omitempty"`
	User         sessionUser `json:"user"`
}

type sessionUser struct {
	ID       int64  `json:"id"`
	Username string `json:"username"`
	Role     string `json:"role"`
}

var errBadLogin = adminhttp.Unauthorized("wrong username or password")

func (s *Server) login(c echo.Context) error {
	var req loginRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	switch {
	case strings.TrimSpace(req.Username) == "":
		return adminhttp.Invalid("username", "username is required")
	case req.Password == "":
		return adminhttp.Invalid("password", "password is required")
	case len(req.Password) > MaxPasswordBytes:
		return adminhttp.Invalid("password", "password is too long")
	}
	delivery := req.TokenDelivery
	if delivery == "" {
		delivery = DeliveryCookie
	}
	if delivery != DeliveryBody && delivery != DeliveryCookie {
		return adminhttp.Invalid("token_delivery", `token_delivery must be "body" (scripts, the CLI) or "cookie" (browsers)`)
	}
	ctx := c.Request().Context()
	name, ip := NormalizeUsername(req.Username), c.RealIP()
	now := s.now()

	// A locked pair is refused before any hashing: a flood against one
	// user from one address costs a primary-key read.
	f, err := s.db.GetLoginFailure(ctx, name, ip)
	if err != nil {
		return adminhttp.Internal("check login back-off", err)
	}
	if f != nil && f.LockedUntil != nil && now.Before(*f.LockedUntil) {
		return lockedOut(f.LockedUntil.Sub(now))
	}

	u, err := s.db.GetAdminUserByName(ctx, name)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return adminhttp.Internal("look up user", err)
	}
	stored := ""
	if u != nil {
		stored = u.PasswordHash
	}
	ok, err := s.hasher.Verify(ctx, stored, req.Password)
	if err != nil {
		return hashProblem(err)
	}
	if !ok || u.Disabled {
		return s.loginFailed(ctx, name, ip, now)
	}
	if err := s.db.ClearLoginFailures(ctx, name, ip, now.Add(-s.cfg.LoginFailureMemory)); err != nil {
		return adminhttp.Internal("clear login failures", err)
	}
	// Sign-ins past their absolute end are dropped here, so the table
	// holds at most a week of them without a separate sweep.
	if _, err := s.db.DeleteExpiredRefreshTokens(ctx, now); err != nil {
		return adminhttp.Internal("drop ended sessions", err)
	}
	var out session
	err = s.db.RunInTx(ctx, func(ctx context.Context, tx *store.DB) error {
		refresh, err := s.newRefreshToken(ctx, tx, u.ID, uuid.NewString(), now, now.Add(s.cfg.RefreshMaxTTL))
		if err != nil {
			return err
		}
		if out, err = s.session(u, refresh); err != nil {
			return err
		}
		adminhttp.SetPrincipal(c, principalOf(u))
		return tx.InsertAudit(ctx, adminhttp.AuditFor(c, "user.login", "user", strconv.FormatInt(u.ID, 10), nil))
	})
	if err != nil {
		return adminhttp.Internal("sign in", err)
	}
	return s.deliver(c, out, delivery, s.cfg.RefreshMaxTTL)
}

// loginFailed counts a failure and, past the free ones, locks the pair
// for an exponentially growing time.
func (s *Server) loginFailed(ctx context.Context, name, ip string, now time.Time) error {
	n, err := s.db.RecordLoginFailure(ctx, name, ip, now, now.Add(-s.cfg.LoginFailureMemory))
	if err != nil {
		return adminhttp.Internal("record login failure", err)
	}
	if d := s.backoff(n); d > 0 {
		if err := s.db.LockLogin(ctx, name, ip, now.Add(d)); err != nil {
			return adminhttp.Internal("record login failure", err)
		}
		p := *errBadLogin
		p.RetryAfterSeconds = retrySeconds(d)
		return &p
	}
	return errBadLogin
}

// backoff is how long (username, ip) is locked after its nth failure:
// nothing for the free failures, then LoginBaseDelay doubling up to
// LoginMaxDelay.
func (s *Server) backoff(n int) time.Duration {
	over := n - s.cfg.LoginFreeFailures
	if over <= 0 {
		return 0
	}
	d := float64(s.cfg.LoginBaseDelay) * math.Pow(2, float64(over-1))
	if d >= float64(s.cfg.LoginMaxDelay) {
		return s.cfg.LoginMaxDelay
	}
	return time.Duration(d)
}

func lockedOut(d time.Duration) error {
	secs := retrySeconds(d)
	return &adminhttp.Problem{Status: http.StatusTooManyRequests, Code: adminhttp.CodeRateLimited,
		Message:           "too many failed logins for this user from this address: try again in " + strconv.Itoa(secs) + "s",
		RetryAfterSeconds: secs}
}

func retrySeconds(d time.Duration) int { return max(1, int(math.Ceil(d.Seconds()))) }

func hashProblem(err error) error {
	if errors.Is(err, ErrHashBusy) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return &adminhttp.Problem{Status: http.StatusServiceUnavailable, Code: adminhttp.CodeUnavailable,
			Message: "too many sign-ins at once: try again in a moment", RetryAfterSeconds: 1}
	}
	return adminhttp.Internal("check password", err)
}

// newRefreshToken stores a fresh token of a family and returns it.
func (s *Server) newRefreshToken(ctx context.Context, tx *store.DB, userID int64, family string, now, familyEnd time.Time) (string, error) {
	raw, err := randomToken(32)
	if err != nil {
		return "", err
	}
	expires := now.Add(s.cfg.RefreshIdleTTL)
	if expires.After(familyEnd) {
		expires = familyEnd
	}
	t := &store.RefreshToken{TokenHash: hashRefreshToken(raw), FamilyID: family, UserID: userID,
		CreatedAt: now, ExpiresAt: expires, FamilyExpiresAt: familyEnd}
	if err := tx.CreateRefreshToken(ctx, t); err != nil {
		return "", err
	}
	return raw, nil
}

func (s *Server) session(u *store.AdminUser, refresh string) (session, error) {
	access, err := s.tokens.issue(u)
	if err != nil {
		return session{}, err
	}
	return session{
		AccessToken:  access,
		TokenType:    "Bearer",
		ExpiresIn:    int(s.cfg.AccessTokenTTL.Seconds()),
		RefreshToken: refresh,
		User:         sessionUser{ID: u.ID, Username: u.Username, Role: u.Role},
	}, nil
}

// deliver answers a session: the refresh token in the body, or in the
// httpOnly cookie and not in the body.
// The cookie lives as long as the sign-in can (lifetime).
func (s *Server) deliver(c echo.Context, out session, delivery string, lifetime time.Duration) error {
	c.Response().Header().Set("Cache-Control", "no-store")
	if delivery == DeliveryCookie {
		c.SetCookie(s.refreshCookie(c, out.RefreshToken, max(1, int(lifetime.Seconds()))))
		out.RefreshToken = ""
		if s.codec != nil {
			// A browser sign-in also lets the Temporal UI in the same
			// browser decode payloads, until the access token expires.
			c.SetCookie(s.codecCookie(c, out.AccessToken, max(1, out.ExpiresIn)))
		}
	}
	return c.JSON(http.StatusOK, out)
}

// refreshCookie is Secure when the request came over TLS, directly or
// through a trusted proxy that says so; a plain-HTTP dev server on
// localhost keeps working without it.
func (s *Server) refreshCookie(c echo.Context, value string, maxAge int) *http.Cookie {
	req := c.Request()
	secure := req.TLS != nil ||
		clientip.FromTrustedProxy(s.trusted, req) && strings.EqualFold(req.Header.Get("X-Forwarded-Proto"), "https")
	return &http.Cookie{
		Name:     RefreshCookie,
		Value:    value,
		Path:     Prefix + "/auth",
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   secure,
		SameSite: http.SameSiteStrictMode,
	}
}

// presentedRefresh reads the refresh token from the body or the cookie
// and says which delivery the answer uses.
func presentedRefresh(c echo.Context) (token, delivery string, err error) {
	var req refreshRequest
	if c.Request().ContentLength != 0 {
		if err := bindJSON(c, &req); err != nil {
			return "", "", err
		}
	}
	if req.RefreshToken != "" {
		return req.RefreshToken, DeliveryBody, nil
	}
	if ck, err := c.Cookie(RefreshCookie); err == nil && ck.Value != "" {
		return ck.Value, DeliveryCookie, nil
	}
	return "", "", adminhttp.Unauthorized("no refresh token: send refresh_token or the session cookie, or sign in again")
}

func (s *Server) refresh(c echo.Context) error {
	raw, delivery, err := presentedRefresh(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	now := s.now()
	t, err := s.db.GetRefreshToken(ctx, hashRefreshToken(raw))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return adminhttp.Unauthorized("refresh token not recognised: sign in again")
	case err != nil:
		return adminhttp.Internal("look up refresh token", err)
	case t.RevokedAt != nil:
		return adminhttp.Unauthorized("session ended: sign in again")
	case t.RotatedAt != nil:
		return s.reused(ctx, t, now)
	case !now.Before(t.ExpiresAt) || !now.Before(t.FamilyExpiresAt):
		return adminhttp.Unauthorized("session expired: sign in again")
	}
	u, err := s.db.GetAdminUser(ctx, t.UserID)
	if err != nil {
		return adminhttp.Internal("look up user", err)
	}
	if u.Disabled {
		if err := s.db.RevokeRefreshFamily(ctx, t.FamilyID, now); err != nil {
			return adminhttp.Internal("revoke session", err)
		}
		return adminhttp.Unauthorized("user is disabled")
	}
	var out session
	rotated := true
	err = s.db.RunInTx(ctx, func(ctx context.Context, tx *store.DB) error {
		ok, err := tx.MarkRefreshTokenRotated(ctx, t.ID, now)
		if err != nil || !ok {
			rotated = ok
			return err
		}
		next, err := s.newRefreshToken(ctx, tx, u.ID, t.FamilyID, now, t.FamilyExpiresAt)
		if err != nil {
			return err
		}
		out, err = s.session(u, next)
		return err
	})
	if err != nil {
		return adminhttp.Internal("refresh session", err)
	}
	if !rotated {
		// Another refresh with the same token won the race.
		return s.reused(ctx, t, now)
	}
	return s.deliver(c, out, delivery, t.FamilyExpiresAt.Sub(now))
}

// reused answers a rotated token presented again: whoever holds the
// family's tokens, one of them is a copy, so the whole sign-in ends.
func (s *Server) reused(ctx context.Context, t *store.RefreshToken, now time.Time) error {
	if err := s.db.RevokeRefreshFamily(ctx, t.FamilyID, now); err != nil {
		return adminhttp.Internal("revoke session", err)
	}
	s.log.Warn("refresh token reused: session revoked", zap.Int64("user_id", t.UserID), zap.String("family", t.FamilyID))
	return adminhttp.Unauthorized("refresh token was already used, so this session was ended for safety: sign in again")
}

// logout ends the sign-in of the presented refresh token. It needs no
// access token: holding the refresh token is proof enough, and a client
// whose access token expired can still sign out. It always answers 204.
func (s *Server) logout(c echo.Context) error {
	raw, _, err := presentedRefresh(c)
	if p, ok := adminhttp.AsProblem(err); ok && p.Status != http.StatusUnauthorized {
		return err
	}
	ctx := c.Request().Context()
	if raw != "" {
		t, err := s.db.GetRefreshToken(ctx, hashRefreshToken(raw))
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return adminhttp.Internal("look up refresh token", err)
		case t.RevokedAt == nil:
			err := s.db.RunInTx(ctx, func(ctx context.Context, tx *store.DB) error {
				if err := tx.RevokeRefreshFamily(ctx, t.FamilyID, s.now()); err != nil {
					return err
				}
				u, err := tx.GetAdminUser(ctx, t.UserID)
				if err != nil {
					return err
				}
				adminhttp.SetPrincipal(c, principalOf(u))
				return tx.InsertAudit(ctx, adminhttp.AuditFor(c, "user.logout", "user", strconv.FormatInt(u.ID, 10), nil))
			})
			if err != nil {
				return adminhttp.Internal("sign out", err)
			}
		}
	}
	c.SetCookie(s.refreshCookie(c, "", -1))
	if s.codec != nil {
		c.SetCookie(s.codecCookie(c, "", -1))
	}
	return c.NoContent(http.StatusNoContent)
}

// authenticate checks the bearer token and the user behind it, and sets
// the principal. The user is read on every request (a primary-key
// lookup) so that disabling a user, changing a role or resetting a
// password takes effect at once, without waiting for the token to expire.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if publicRoutes[c.Path()] {
			return next(c)
		}
		h := c.Request().Header.Get(echo.HeaderAuthorization)
		raw, ok := strings.CutPrefix(h, "Bearer ")
		if (!ok || raw == "") && isCodecPath(c.Request().URL.Path) {
			if ck, err := c.Cookie(CodecCookie); err == nil && ck.Value != "" {
				raw, ok = ck.Value, true
			}
		}
		if !ok || raw == "" {
			if isCodecPath(c.Request().URL.Path) {
				return adminhttp.Unauthorized("sign in to Herald's console in this browser first (it sets the " + CodecCookie + " cookie), or send an access token as Authorization: Bearer <token>")
			}
			return adminhttp.Unauthorized("sign in first: send a valid access token as Authorization: Bearer <token>")
		}
		id, claims, err := s.tokens.parse(raw)
		if errors.Is(err, errTokenExpired) {
			return adminhttp.Unauthorized("access token expired: get a new one from POST " + Prefix + "/auth/refresh")
		}
		if err != nil {
			return adminhttp.Unauthorized("access token is not valid: sign in again")
		}
		u, err := s.db.GetAdminUser(c.Request().Context(), id)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return adminhttp.Internal("look up user", err)
		}
		if u == nil || u.Disabled || u.TokenVersion != claims.TokenVersion {
			return adminhttp.Unauthorized("access token was revoked (the user's role, password or state changed): refresh it or sign in again")
		}
		adminhttp.SetPrincipal(c, principalOf(u))
		return next(c)
	}
}

func principalOf(u *store.AdminUser) adminhttp.Principal {
	return adminhttp.Principal{UserID: u.ID, Username: u.Username, Role: adminhttp.Role(u.Role)}
}
