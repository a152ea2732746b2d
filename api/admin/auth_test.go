package admin

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/adminhttp"
	"github.com/heraldhq/herald/store"
)

func TestLoginRefreshLogout(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, h *harness) {
		ops := h.addUser("ops", adminhttp.RoleOperator)

		s := h.login(" OPS ")
		require.Equal(t, "Bearer", s.TokenType)
		require.Equal(t, 900, s.ExpiresIn)
		require.NotEmpty(t, s.RefreshToken)
		require.Equal(t, sessionUser{ID: ops.ID, Username: "ops", Role: "operator"}, s.User)

		me := h.do(request{method: http.MethodGet, path: "/me", token: s.AccessToken})
		require.Equal(t, http.StatusOK, me.Code)
		var who sessionUser
		me.decode(t, &who)
		require.Equal(t, "ops", who.Username)

		// The access token is a JWT with the agreed claims.
		claims := jwt.MapClaims{}
		_, _, err := jwt.NewParser().ParseUnverified(s.AccessToken, claims)
		require.NoError(t, err)
		require.Equal(t, "1", claims["sub"])
		require.Equal(t, "operator", claims["role"])
		require.NotEmpty(t, claims["jti"])

		// A refresh rotates the refresh token.
		h.clock.Advance(time.Minute)
		r1 := h.do(request{method: http.MethodPost, path: "/auth/refresh", body: map[string]string{"refresh_token": s.RefreshToken}})
		require.Equal(t, http.StatusOK, r1.Code, r1.Body.String())
		var s2 session
		r1.decode(t, &s2)
		require.NotEqual(t, s.RefreshToken, s2.RefreshToken)
		require.NotEmpty(t, s2.AccessToken)

		// Presenting the rotated token again is theft: the whole sign-in
		// ends, the newest token included.
		reuse := h.do(request{method: http.MethodPost, path: "/auth/refresh", body: map[string]string{"refresh_token": s.RefreshToken}})
		require.Equal(t, http.StatusUnauthorized, reuse.Code)
		require.Contains(t, reuse.problem(t).Message, "already used")
		gone := h.do(request{method: http.MethodPost, path: "/auth/refresh", body: map[string]string{"refresh_token": s2.RefreshToken}})
		require.Equal(t, http.StatusUnauthorized, gone.Code)
		require.Contains(t, gone.problem(t).Message, "session ended")

		// Another sign-in was not touched; logout ends it.
		s3 := h.login("ops")
		out := h.do(request{method: http.MethodPost, path: "/auth/logout", body: map[string]string{"refresh_token": s3.RefreshToken}})
		require.Equal(t, http.StatusNoContent, out.Code)
		after := h.do(request{method: http.MethodPost, path: "/auth/refresh", body: map[string]string{"refresh_token": s3.RefreshToken}})
		require.Equal(t, http.StatusUnauthorized, after.Code)
		// Logging out twice, or with a token never issued, is fine.
		require.Equal(t, http.StatusNoContent, h.do(request{method: http.MethodPost, path: "/auth/logout", body: map[string]string{"refresh_token": s3.RefreshToken}}).Code)
		require.Equal(t, http.StatusNoContent, h.do(request{method: http.MethodPost, path: "/auth/logout", body: map[string]string{"refresh_token": "nope"}}).Code)

		unknown := h.do(request{method: http.MethodPost, path: "/auth/refresh", body: map[string]string{"refresh_token": "nope"}})
		require.Equal(t, http.StatusUnauthorized, unknown.Code)
		none := h.do(request{method: http.MethodPost, path: "/auth/refresh"})
		require.Equal(t, http.StatusUnauthorized, none.Code)

		recs, err := h.db.ListAudit(t.Context(), store.AuditFilter{Actor: "user:ops"})
		require.NoError(t, err)
		var actions []string
		for _, r := range recs {
			actions = append(actions, r.Action)
			require.Equal(t, "192.0.2.10", r.ClientIP)
		}
		require.Equal(t, []string{"user.logout", "user.login", "user.login"}, actions)
	})
}

func TestExpiry(t *testing.T) {
	t.Parallel()
	h := setup(t, store.DialectSQLite, Config{}, nil)
	h.addUser("ops", adminhttp.RoleOperator)

	t.Run("access token", func(t *testing.T) {
		s := h.login("ops")
		h.clock.Advance(15*time.Minute + time.Second)
		resp := h.do(request{method: http.MethodGet, path: "/me", token: s.AccessToken})
		require.Equal(t, http.StatusUnauthorized, resp.Code)
		require.Contains(t, resp.problem(t).Message, "expired")
	})
	t.Run("idle", func(t *testing.T) {
		s := h.login("ops")
		h.clock.Advance(12 * time.Hour)
		resp := h.do(request{method: http.MethodPost, path: "/auth/refresh", body: map[string]string{"refresh_token": s.RefreshToken}})
		require.Equal(t, http.StatusUnauthorized, resp.Code)
		require.Contains(t, resp.problem(t).Message, "expired")
	})
	t.Run("absolute", func(t *testing.T) {
		s := h.login("ops")
		token := s.RefreshToken
		// Refreshed every 11 hours, a sign-in still ends after 7 days.
		for elapsed := 11 * time.Hour; elapsed < 7*24*time.Hour; elapsed += 11 * time.Hour {
			h.clock.Advance(11 * time.Hour)
			resp := h.do(request{method: http.MethodPost, path: "/auth/refresh", body: map[string]string{"refresh_token": token}})
			require.Equal(t, http.StatusOK, resp.Code, "at %s: %s", elapsed, resp.Body.String())
			var next session
			resp.decode(t, &next)
			token = next.RefreshToken
		}
		h.clock.Advance(11 * time.Hour)
		resp := h.do(request{method: http.MethodPost, path: "/auth/refresh", body: map[string]string{"refresh_token": token}})
		require.Equal(t, http.StatusUnauthorized, resp.Code)
	})
}

func TestChangedUserTakesEffect(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, h *harness) {
		ctx := t.Context()
		ops := h.addUser("ops", adminhttp.RoleOperator)
		s := h.login("ops")

		// A new role ends the access token at once; a refresh carries the
		// new role.
		viewer := adminhttp.RoleViewer
		_, err := h.srv.users.Update(ctx, Actor{Name: "cli:root"}, ops.ID, UserPatch{Role: &viewer})
		require.NoError(t, err)
		require.Equal(t, http.StatusUnauthorized, h.do(request{method: http.MethodGet, path: "/me", token: s.AccessToken}).Code)
		resp := h.do(request{method: http.MethodPost, path: "/auth/refresh", body: map[string]string{"refresh_token": s.RefreshToken}})
		require.Equal(t, http.StatusOK, resp.Code)
		var s2 session
		resp.decode(t, &s2)
		require.Equal(t, "viewer", s2.User.Role)
		require.Equal(t, http.StatusOK, h.do(request{method: http.MethodGet, path: "/me", token: s2.AccessToken}).Code)

		// Disabling ends the access token, the sign-in and new logins.
		yes := true
		_, err = h.srv.users.Update(ctx, Actor{Name: "cli:root"}, ops.ID, UserPatch{Disabled: &yes})
		require.NoError(t, err)
		require.Equal(t, http.StatusUnauthorized, h.do(request{method: http.MethodGet, path: "/me", token: s2.AccessToken}).Code)
		require.Equal(t, http.StatusUnauthorized, h.do(request{method: http.MethodPost, path: "/auth/refresh", body: map[string]string{"refresh_token": s2.RefreshToken}}).Code)
		login := h.do(request{method: http.MethodPost, path: "/auth/login", body: map[string]string{"username": "ops", "password": "ops-password-1"}})
		require.Equal(t, http.StatusUnauthorized, login.Code)
		require.Equal(t, "wrong username or password", login.problem(t).Message)

		// Enabled again with a new password: the old one no longer works.
		no := false
		pw := "a-brand-new-passphrase"
		_, err = h.srv.users.Update(ctx, Actor{Name: "cli:root"}, ops.ID, UserPatch{Disabled: &no, Password: &pw})
		require.NoError(t, err)
		require.Equal(t, http.StatusUnauthorized, h.do(request{method: http.MethodPost, path: "/auth/login", body: map[string]string{"username": "ops", "password": "ops-password-1"}}).Code)
		require.Equal(t, http.StatusOK, h.do(request{method: http.MethodPost, path: "/auth/login", body: map[string]string{"username": "ops", "password": pw}}).Code)
	})
}

func TestBadAccessTokens(t *testing.T) {
	t.Parallel()
	h := setup(t, store.DialectSQLite, Config{}, nil)
	h.addUser("ops", adminhttp.RoleOperator)
	s := h.login("ops")
	other := setup(t, store.DialectSQLite, Config{}, nil)
	other.addUser("ops", adminhttp.RoleOperator)
	foreign := other.login("ops")

	none := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"sub": "1", "role": "admin", "tv": 1, "exp": time.Now().Add(time.Hour).Unix()})
	unsigned, err := none.SignedString(jwt.UnsafeAllowNoneSignatureType)
	require.NoError(t, err)
	for name, token := range map[string]string{
		"signed with another key": foreign.AccessToken,
		"alg none":                unsigned,
		"garbage":                 "abc.def.ghi",
		"tampered":                s.AccessToken[:len(s.AccessToken)-2] + "xx",
	} {
		t.Run(name, func(t *testing.T) {
			resp := h.do(request{method: http.MethodGet, path: "/me", token: token})
			require.Equal(t, http.StatusUnauthorized, resp.Code)
			require.Equal(t, adminhttp.CodeUnauthorized, resp.problem(t).Code)
		})
	}
	resp := h.do(request{method: http.MethodGet, path: "/me"})
	require.Equal(t, http.StatusUnauthorized, resp.Code)
	require.Contains(t, resp.problem(t).Message, "Bearer")
}

func TestCookieDelivery(t *testing.T) {
	t.Parallel()
	h := setup(t, store.DialectSQLite, Config{TrustedProxies: []string{"10.0.0.1"}}, nil)
	h.addUser("ops", adminhttp.RoleOperator)
	creds := map[string]string{"username": "ops", "password": "ops-password-1"}

	resp := h.do(request{method: http.MethodPost, path: "/auth/login", body: creds})
	require.Equal(t, http.StatusOK, resp.Code)
	var s session
	resp.decode(t, &s)
	require.Empty(t, s.RefreshToken, "a browser never sees the refresh token")
	require.Equal(t, "no-store", resp.Header().Get("Cache-Control"))
	ck := refreshCookieOf(t, resp)
	require.True(t, ck.HttpOnly)
	require.False(t, ck.Secure, "plain HTTP from a direct peer")
	require.Equal(t, http.SameSiteStrictMode, ck.SameSite)
	require.Equal(t, "/admin/api/v1/auth", ck.Path)

	// The cookie refreshes, rotating itself.
	r := h.do(request{method: http.MethodPost, path: "/auth/refresh", cookies: []*http.Cookie{{Name: RefreshCookie, Value: ck.Value}}})
	require.Equal(t, http.StatusOK, r.Code, r.Body.String())
	next := refreshCookieOf(t, r)
	require.NotEqual(t, ck.Value, next.Value)
	r.decode(t, &s)
	require.Empty(t, s.RefreshToken)

	// Secure behind a trusted TLS-terminating proxy, not when anyone
	// else claims it.
	viaProxy := h.do(request{method: http.MethodPost, path: "/auth/login", body: creds, remote: "10.0.0.1:1234",
		header: map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.4"}})
	require.True(t, refreshCookieOf(t, viaProxy).Secure)
	spoofed := h.do(request{method: http.MethodPost, path: "/auth/login", body: creds, header: map[string]string{"X-Forwarded-Proto": "https"}})
	require.False(t, refreshCookieOf(t, spoofed).Secure)

	// Logout by cookie clears it.
	out := h.do(request{method: http.MethodPost, path: "/auth/logout", cookies: []*http.Cookie{{Name: RefreshCookie, Value: next.Value}}})
	require.Equal(t, http.StatusNoContent, out.Code)
	require.Equal(t, -1, refreshCookieOf(t, out).MaxAge)
	require.Equal(t, http.StatusUnauthorized, h.do(request{method: http.MethodPost, path: "/auth/refresh", cookies: []*http.Cookie{{Name: RefreshCookie, Value: next.Value}}}).Code)

	bad := h.do(request{method: http.MethodPost, path: "/auth/login", body: map[string]string{"username": "ops", "password": "x", "token_delivery": "carrier pigeon"}})
	require.Equal(t, http.StatusBadRequest, bad.Code)
	require.Equal(t, "token_delivery", bad.problem(t).Field)
}

func refreshCookieOf(t *testing.T, r response) *http.Cookie {
	t.Helper()
	for _, c := range r.Result().Cookies() {
		if c.Name == RefreshCookie {
			return c
		}
	}
	t.Fatalf("no %s cookie in %v", RefreshCookie, r.Header())
	return nil
}

func TestLoginBackoff(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, h *harness) {
		h.addUser("ops", adminhttp.RoleOperator)
		attempt := func(password, remote string) response {
			return h.do(request{method: http.MethodPost, path: "/auth/login", remote: remote,
				body: map[string]string{"username": "ops", "password": password, "token_delivery": "body"}})
		}
		const a, b = "192.0.2.1:1000", "198.51.100.2:1000"

		// Three failures are free.
		for i := 0; i < 3; i++ {
			resp := attempt("wrong-password", a)
			require.Equal(t, http.StatusUnauthorized, resp.Code)
			require.Empty(t, resp.Header().Get("Retry-After"))
		}
		// The fourth locks (username, IP) for a second.
		resp := attempt("wrong-password", a)
		require.Equal(t, http.StatusUnauthorized, resp.Code)
		require.Equal(t, "1", resp.Header().Get("Retry-After"))
		// While locked, even the right password gets 429 from that IP...
		locked := attempt("ops-password-1", a)
		require.Equal(t, http.StatusTooManyRequests, locked.Code)
		require.Equal(t, "1", locked.Header().Get("Retry-After"))
		require.Equal(t, adminhttp.CodeRateLimited, locked.problem(t).Code)
		// ...and nobody elsewhere is locked out.
		require.Equal(t, http.StatusOK, attempt("ops-password-1", b).Code)

		// Each further failure doubles the delay.
		h.clock.Advance(time.Second)
		require.Equal(t, "2", attempt("wrong-password", a).Header().Get("Retry-After"))
		h.clock.Advance(time.Second)
		require.Equal(t, http.StatusTooManyRequests, attempt("ops-password-1", a).Code)
		h.clock.Advance(time.Second)
		require.Equal(t, "4", attempt("wrong-password", a).Header().Get("Retry-After"))

		// A success resets the count.
		h.clock.Advance(4 * time.Second)
		require.Equal(t, http.StatusOK, attempt("ops-password-1", a).Code)
		for i := 0; i < 3; i++ {
			require.Empty(t, attempt("wrong-password", a).Header().Get("Retry-After"))
		}

		// An unknown user backs off like a known one.
		for i := 0; i < 4; i++ {
			h.do(request{method: http.MethodPost, path: "/auth/login", remote: b, body: map[string]string{"username": "ghost", "password": "whatever-it-is"}})
		}
		ghost := h.do(request{method: http.MethodPost, path: "/auth/login", remote: b, body: map[string]string{"username": "ghost", "password": "whatever-it-is"}})
		require.Equal(t, http.StatusTooManyRequests, ghost.Code)
	})
}

func TestBackoffCurve(t *testing.T) {
	t.Parallel()
	s := &Server{cfg: Config{}.withDefaults()}
	want := map[int]time.Duration{1: 0, 3: 0, 4: time.Second, 5: 2 * time.Second, 8: 16 * time.Second, 13: 512 * time.Second, 14: 15 * time.Minute, 500: 15 * time.Minute}
	for n, d := range want {
		require.Equal(t, d, s.backoff(n), "failure %d", n)
	}
}

func TestHasherBound(t *testing.T) {
	t.Parallel()
	h, err := NewHasher(testArgon2, HashLimits{Concurrency: 2, Queue: 1, Wait: time.Minute})
	require.NoError(t, err)
	var running, peak atomic.Int32
	entered := make(chan struct{}, 10)
	release := make(chan struct{})
	h.key = func(password, salt []byte, tm, mem uint32, threads uint8, n uint32) []byte {
		cur := running.Add(1)
		for {
			p := peak.Load()
			if cur <= p || peak.CompareAndSwap(p, cur) {
				break
			}
		}
		entered <- struct{}{}
		<-release
		running.Add(-1)
		return make([]byte, n)
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := h.Hash(ctx, "a password of some length")
			errs <- err
		}()
	}
	<-entered
	<-entered
	// Two run, one waits (its ticket taken); the next is refused at once.
	require.Eventually(t, func() bool { return len(h.tickets) == 3 }, 5*time.Second, time.Millisecond)
	_, err = h.Hash(ctx, "one too many")
	require.ErrorIs(t, err, ErrHashBusy)
	_, err = h.Verify(ctx, "", "one too many")
	require.ErrorIs(t, err, ErrHashBusy)

	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.EqualValues(t, 2, peak.Load())
	require.Empty(t, h.tickets)
	require.Empty(t, h.slots)

	// A queued hash that waits too long gives up.
	slow, err := NewHasher(testArgon2, HashLimits{Concurrency: 1, Queue: 1, Wait: 10 * time.Millisecond})
	require.NoError(t, err)
	slow.slots <- struct{}{}
	_, err = slow.Hash(ctx, "waits for a slot")
	require.ErrorIs(t, err, ErrHashBusy)
	require.Empty(t, slow.tickets)
}

func TestLoginWhenHashingIsFull(t *testing.T) {
	t.Parallel()
	h := setup(t, store.DialectSQLite, Config{Hashing: HashLimits{Concurrency: 1, Queue: 1, Wait: time.Millisecond}}, nil)
	h.addUser("ops", adminhttp.RoleOperator)
	h.srv.hasher.slots <- struct{}{}
	h.srv.hasher.tickets <- struct{}{}
	h.srv.hasher.tickets <- struct{}{}
	resp := h.do(request{method: http.MethodPost, path: "/auth/login", body: map[string]string{"username": "ops", "password": "ops-password-1"}})
	require.Equal(t, http.StatusServiceUnavailable, resp.Code)
	require.Equal(t, "1", resp.Header().Get("Retry-After"))
	require.Equal(t, adminhttp.CodeUnavailable, resp.problem(t).Code)
	// Nothing was counted against the user.
	f, err := h.db.GetLoginFailure(t.Context(), "ops", "192.0.2.10")
	require.NoError(t, err)
	require.Nil(t, f)
}

func TestPasswordHashes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h, err := NewHasher(testArgon2, HashLimits{})
	require.NoError(t, err)
	enc, err := h.Hash(ctx, "correct horse battery")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(enc, "$argon2id$v=19$m=64,t=1,p=1$"), enc)
	again, err := h.Hash(ctx, "correct horse battery")
	require.NoError(t, err)
	require.NotEqual(t, enc, again, "salted")

	ok, err := h.Verify(ctx, enc, "correct horse battery")
	require.NoError(t, err)
	require.True(t, ok)
	ok, err = h.Verify(ctx, enc, "correct horse battery!")
	require.NoError(t, err)
	require.False(t, ok)
	ok, err = h.Verify(ctx, "", "unknown user")
	require.NoError(t, err)
	require.False(t, ok, "the dummy hash never matches, even its own input")

	// Hashes of another cost still verify: the cost is read from the hash.
	strong, err := NewHasher(Argon2Params{Memory: 128, Time: 2, Threads: 2}, HashLimits{})
	require.NoError(t, err)
	enc2, err := strong.Hash(ctx, "correct horse battery")
	require.NoError(t, err)
	ok, err = h.Verify(ctx, enc2, "correct horse battery")
	require.NoError(t, err)
	require.True(t, ok)

	for _, bad := range []string{"plain", "$2a$10$bcrypt", "$argon2id$v=19$m=64,t=1,p=1$!!$abc", "$argon2i$v=19$m=64,t=1,p=1$c2FsdA$aGFzaA"} {
		_, err := h.Verify(ctx, bad, "x")
		require.Error(t, err, bad)
	}
}

func TestPasswordRules(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"short":                   "at least 12 characters",
		"aaaaaaaaaaaaaaaa":        "repeat one character",
		"operator-one":            "must not be the username",
		strings.Repeat("ab", 200): "at most 256 bytes",
		"a fine passphrase":       "",
		"密码密码密码密码密码密码":            "",
	}
	for pw, want := range cases {
		err := ValidatePassword("operator-one", pw)
		if want == "" {
			require.NoError(t, err, pw)
			continue
		}
		require.ErrorContains(t, err, want, pw)
	}
	require.NoError(t, ValidateUsername("ops.team-1"))
	require.Error(t, ValidateUsername("-ops"))
	require.Error(t, ValidateUsername("Ops"))
	require.Error(t, ValidateUsername(""))
	require.Equal(t, "ops", NormalizeUsername("  OPS "))
}
