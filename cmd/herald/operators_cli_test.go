package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/api/admin"
	"github.com/heraldhq/herald/internal/adminclient"
	"github.com/heraldhq/herald/store"
)

// runCLIInput runs the CLI in process with stdin as its standard input.
func runCLIInput(t *testing.T, env map[string]string, stdin string, args ...string) cliResult {
	t.Helper()
	var stdout, stderr bytes.Buffer
	root := newRootCommand(&stdout, &stderr, func(k string) string { return env[k] })
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(append([]string{}, args...))
	code := 0
	if err := root.ExecuteContext(context.Background()); err != nil {
		stderr.WriteString("herald: " + err.Error() + "\n")
		code = 1
	}
	return cliResult{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// timestamps are replaced by a placeholder of the same width, so golden
// tables keep their alignment.
var timestamps = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z`)

func normalizeTimes(s string) string { return timestamps.ReplaceAllString(s, "2006-01-02T15:04:05Z") }

// checkGolden compares out with testdata/<name>.golden; with
// HERALD_UPDATE_GOLDEN=1 it rewrites the file instead.
func checkGolden(t *testing.T, name, out string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if os.Getenv("HERALD_UPDATE_GOLDEN") == "1" {
		require.NoError(t, os.WriteFile(path, []byte(out), 0o600))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "read %s (HERALD_UPDATE_GOLDEN=1 writes it)", path)
	require.Equal(t, string(want), out)
}

// TestOperatorsCLI bootstraps users with herald admin user on the store,
// then signs in to a real admin server on port 0, reads the audit log
// and signs out.
func TestOperatorsCLI(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	keyB64 := cliMasterKey()
	key, err := base64.StdEncoding.DecodeString(keyB64)
	require.NoError(t, err)
	dbURL, _ := cliSQLiteURL(t)
	cipher, err := store.NewCipher(key)
	require.NoError(t, err)
	db, err := store.Open(ctx, store.Options{URL: dbURL, Cipher: cipher})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	_, err = db.MigrateUp(ctx)
	require.NoError(t, err)

	env := map[string]string{"HERALD_DATABASE_URL": dbURL, "HERALD_MASTER_KEY": keyB64, "USER": "tester"}
	user := func(stdin string, args ...string) cliResult {
		t.Helper()
		return runCLIInput(t, env, stdin, append([]string{"admin", "user"}, args...)...)
	}

	res := user("ann's long passphrase\n", "create", "Ann", "--role", "operator", "--password-stdin")
	require.Equal(t, 0, res.code, res.stderr)
	require.Equal(t, "created user ann (id 1, role operator)\n", res.stdout)
	require.NotContains(t, res.stdout+res.stderr, "passphrase", "the password is never echoed")

	res = user("short\n", "create", "bob", "--role", "viewer", "--password-stdin")
	require.Equal(t, 1, res.code)
	require.Contains(t, res.stderr, "password must be at least 12 characters")
	res = user("", "create", "bob smith", "--role", "root", "--password-stdin")
	require.Equal(t, 1, res.code)
	require.Contains(t, res.stderr, "NAME: username may hold only")
	require.Contains(t, res.stderr, "--role: unknown role")
	res = user("a fine passphrase\n", "create", "ann", "--role", "viewer", "--password-stdin")
	require.Equal(t, 1, res.code)
	require.Contains(t, res.stderr, `user "ann" exists already`)
	res = user("", "create", "bob", "--role", "viewer")
	require.Equal(t, 1, res.code)
	require.Contains(t, res.stderr, "--password-stdin")

	require.Equal(t, 0, user("viewer's passphrase\n", "create", "vic", "--role", "viewer", "--password-stdin").code)
	res = user("", "disable", "vic")
	require.Equal(t, 0, res.code, res.stderr)
	require.Equal(t, "disabled user vic\n", res.stdout)
	res = user("", "enable", "ghost")
	require.Equal(t, 1, res.code)
	require.Contains(t, res.stderr, `no user "ghost"`)

	res = user("", "list")
	require.Equal(t, 0, res.code, res.stderr)
	checkGolden(t, "admin_user_list", normalizeTimes(res.stdout))
	res = user("", "list", "-o", "json")
	require.Equal(t, 0, res.code, res.stderr)
	var users []map[string]any
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &users))
	require.Len(t, users, 2)
	require.Equal(t, true, users[1]["disabled"])

	// A real server on port 0 over the same store.
	srv, err := admin.New(admin.Config{MasterKey: key}, admin.Deps{Store: db})
	require.NoError(t, err)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)

	credPath := filepath.Join(t.TempDir(), "creds.json")
	env["HERALD_CREDENTIALS"] = credPath
	res = runCLIInput(t, env, "wrong passphrase here\n", "login", "--url", hs.URL, "--username", "ann", "--password-stdin")
	require.Equal(t, 1, res.code)
	require.Contains(t, res.stderr, "wrong username or password")
	res = runCLIInput(t, env, "ann's long passphrase\n", "login", "--url", hs.URL, "--username", "ann", "--password-stdin")
	require.Equal(t, 0, res.code, res.stderr)
	require.Equal(t, "signed in to "+hs.URL+" as ann (operator)\n", res.stdout)
	info, err := os.Stat(credPath)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())

	res = runCLIInput(t, env, "", "audit", "--action", "user.create")
	require.Equal(t, 0, res.code, res.stderr)
	checkGolden(t, "audit_table", normalizeTimes(res.stdout))

	res = runCLIInput(t, env, "", "audit", "--limit", "2", "-o", "json")
	require.Equal(t, 0, res.code, res.stderr)
	var page auditPage
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &page))
	require.Len(t, page.Items, 2)
	require.Equal(t, "user.login", page.Items[0].Action)
	require.Equal(t, "user:ann", page.Items[0].Actor)
	require.Equal(t, "127.0.0.1", page.Items[0].ClientIP)
	require.Equal(t, "user.update", page.Items[1].Action)
	require.Equal(t, "cli:", page.Items[1].Actor[:4])
	require.NotEmpty(t, page.NextCursor)

	res = runCLIInput(t, env, "", "audit", "--limit", "1")
	require.Equal(t, 0, res.code, res.stderr)
	require.Contains(t, res.stderr, "more: add --cursor ")

	res = runCLIInput(t, env, "", "audit", "--since", "yesterday", "--limit", "0", "-o", "yaml")
	require.Equal(t, 1, res.code)
	for _, want := range []string{"--since", "--limit must be from 1 to 500", "-o/--output"} {
		require.Contains(t, res.stderr, want)
	}

	res = runCLIInput(t, env, "", "logout")
	require.Equal(t, 0, res.code, res.stderr)
	require.Equal(t, "signed out of "+hs.URL+"\n", res.stdout)
	_, err = os.Stat(credPath)
	require.ErrorIs(t, err, os.ErrNotExist)
	res = runCLIInput(t, env, "", "audit")
	require.Equal(t, 1, res.code)
	require.Contains(t, res.stderr, "herald login")
	recs, err := db.ListAudit(ctx, store.AuditFilter{Action: "user.logout"})
	require.NoError(t, err)
	require.Len(t, recs, 1)

	// A viewer may not read the audit log.
	res = runCLIInput(t, env, "", "admin", "user", "enable", "vic")
	require.Equal(t, 0, res.code, res.stderr)
	res = runCLIInput(t, env, "viewer's passphrase\n", "login", "--url", hs.URL, "--username", "vic", "--password-stdin")
	require.Equal(t, 0, res.code, res.stderr)
	res = runCLIInput(t, env, "", "audit")
	require.Equal(t, 1, res.code)
	require.Contains(t, res.stderr, "role viewer may not do this")

	// A new password ends the sign-in; the CLI says to sign in again.
	res = runCLIInput(t, env, "a newer passphrase\n", "admin", "user", "passwd", "vic", "--password-stdin")
	require.Equal(t, 0, res.code, res.stderr)
	res = runCLIInput(t, env, "", "audit")
	require.Equal(t, 1, res.code)
	require.Contains(t, res.stderr, "herald login")

	res = runCLIInput(t, env, "", "login", "--password-stdin")
	require.Equal(t, 1, res.code)
	require.Contains(t, res.stderr, "--url is required")
	require.Contains(t, res.stderr, "--username is required with --password-stdin")
}

// TestAdminAPIOnTheAPIListener checks that a running Herald serves the
// operators' API beside the client API on one listener.
func TestAdminAPIOnTheAPIListener(t *testing.T) {
	t.Parallel()
	h := sharedHarness(t)
	for path, want := range map[string]int{
		"/health":                     http.StatusOK,
		"/admin/api/v1/openapi.yaml":  http.StatusOK,
		"/admin/api/v1/me":            http.StatusUnauthorized,
		"/admin/api/v1/no-such-route": http.StatusUnauthorized,
		"/api/v1/channels":            http.StatusUnauthorized,
	} {
		resp, err := http.Get(h.apiURL + path)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, want, resp.StatusCode, path)
	}

	// herald dev's admin user signs in on the same listener.
	users, err := cliUsers(h.s.db)
	require.NoError(t, err)
	_, err = users.Create(t.Context(), admin.Actor{Name: "cli:test"}, "listener-check", "listener passphrase", "viewer")
	require.NoError(t, err)
	creds, err := adminclient.Login(t.Context(), nil, h.apiURL, "listener-check", "listener passphrase")
	require.NoError(t, err)
	var me map[string]any
	require.NoError(t, adminclient.New(creds, "", nil).Do(t.Context(), http.MethodGet, "/me", nil, nil, &me))
	require.Equal(t, "listener-check", me["username"])
}
