package adminclient

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakeAdmin speaks the auth contract: it hands out numbered tokens, and
// accepts only the latest access token and the latest refresh token.
type fakeAdmin struct {
	generation atomic.Int64
	refreshes  atomic.Int64
}

func (f *fakeAdmin) session(w http.ResponseWriter) {
	n := f.generation.Add(1)
	_ = json.NewEncoder(w).Encode(Session{
		AccessToken:  "access-" + itoa(n),
		TokenType:    "Bearer",
		ExpiresIn:    900,
		RefreshToken: "refresh-" + itoa(n),
		User:         User{ID: 1, Username: "ops", Role: "operator"},
	})
}

func itoa(n int64) string { return string(rune('0' + n)) }

func (f *fakeAdmin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body map[string]string
	_ = json.NewDecoder(r.Body).Decode(&body)
	current := itoa(f.generation.Load())
	switch r.URL.Path {
	case Prefix + "/auth/login":
		if body["password"] != "right" || body["token_delivery"] != "body" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"code":"unauthorized","message":"wrong username or password"}`))
			return
		}
		f.session(w)
	case Prefix + "/auth/refresh":
		if body["refresh_token"] != "refresh-"+current {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"code":"unauthorized","message":"refresh token revoked"}`))
			return
		}
		f.refreshes.Add(1)
		f.session(w)
	case Prefix + "/apps":
		if r.Header.Get("Authorization") != "Bearer access-"+current {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"code":"unauthorized","message":"access token expired"}`))
			return
		}
		if r.URL.Query().Get("bad") != "" {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"code":"invalid_input","field":"bad","message":"bad is not a filter"}`))
			return
		}
		_, _ = w.Write([]byte(`[{"id":"demo"}]`))
	default:
		http.NotFound(w, r)
	}
}

func TestLoginDoRefresh(t *testing.T) {
	fake := &fakeAdmin{}
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "herald", "credentials.json")

	_, err := Login(ctx, nil, srv.URL, "ops", "wrong")
	var apiErr *Error
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, http.StatusUnauthorized, apiErr.Status)
	require.Contains(t, err.Error(), "wrong username or password")

	creds, err := Login(ctx, nil, srv.URL+"/", "ops", "right")
	require.NoError(t, err)
	require.Equal(t, srv.URL, creds.URL)
	require.Equal(t, "operator", creds.Role)
	require.NoError(t, creds.Save(path))
	info, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())

	loaded, err := Load(path)
	require.NoError(t, err)
	c := New(loaded, path, nil)
	var apps []map[string]string
	require.NoError(t, c.Do(ctx, http.MethodGet, "/apps", nil, nil, &apps))
	require.Equal(t, "demo", apps[0]["id"])
	require.Zero(t, fake.refreshes.Load())

	// The server moved on (another login): the client's access token is
	// refused, but its refresh token is not the latest either, so the
	// user is told to sign in again.
	fake.generation.Add(1)
	err = c.Do(ctx, http.MethodGet, "/apps", nil, nil, &apps)
	require.ErrorContains(t, err, "herald login")

	// An expired access token is refreshed before the call, and the
	// rotated tokens are saved.
	fake.generation.Store(1)
	c = New(loaded, path, nil)
	c.now = func() time.Time { return time.Now().Add(time.Hour) }
	require.NoError(t, c.Do(ctx, http.MethodGet, "/apps", nil, nil, &apps))
	require.EqualValues(t, 1, fake.refreshes.Load())
	saved, err := Load(path)
	require.NoError(t, err)
	require.Equal(t, "refresh-2", saved.RefreshToken)

	// An error body keeps its field and message.
	c.now = time.Now
	err = c.Do(ctx, http.MethodGet, "/apps", map[string][]string{"bad": {"1"}}, nil, &apps)
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, "bad", apiErr.Field)
	require.Contains(t, err.Error(), "bad is not a filter")
}

func TestLoadWithoutLogin(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "none.json"))
	require.ErrorIs(t, err, ErrNotLoggedIn)
	_, err = Login(context.Background(), nil, "ftp://x", "a", "b")
	require.ErrorContains(t, err, "base URL")
}

func TestCredentialsPath(t *testing.T) {
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	got, err := CredentialsPath("/flag.json", getenv)
	require.NoError(t, err)
	require.Equal(t, "/flag.json", got, "the flag wins")
	env[CredentialsEnv] = "/env.json"
	got, err = CredentialsPath("", getenv)
	require.NoError(t, err)
	require.Equal(t, "/env.json", got, "then the environment")
	delete(env, CredentialsEnv)
	got, err = CredentialsPath("", getenv)
	require.NoError(t, err)
	want, err := DefaultPath()
	require.NoError(t, err)
	require.Equal(t, want, got, "then the user config directory")

	_, err = Open(filepath.Join(t.TempDir(), "missing.json"), getenv, nil)
	require.ErrorIs(t, err, ErrNotLoggedIn)
}
