package resourcecli

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"flag"
	"github.com/heraldhq/herald/store/storetest"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/spf13/cobra"
	"github.com/stretchr/testify/require"

	adminresources "github.com/heraldhq/herald/api/admin/resources"
	"github.com/heraldhq/herald/internal/adminclient"
	"github.com/heraldhq/herald/internal/adminhttp"
	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/providers/sandbox"
	"github.com/heraldhq/herald/store"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// testPostgresURL creates a fresh PostgreSQL database for one test.
func testPostgresURL(t *testing.T) string {
	t.Helper()
	return storetest.PostgresURL(t, "herald_resourcecli_test")
}

// cli runs the commands against the resource routes on a real store,
// signed in as role through stored credentials.
type cli struct {
	t     *testing.T
	creds string
}

func newCLI(t *testing.T, role string) *cli {
	t.Helper()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	c, err := store.NewCipher(key)
	require.NoError(t, err)
	db, err := store.Open(t.Context(), store.Options{URL: testPostgresURL(t), Cipher: c})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	_, err = db.MigrateUp(t.Context())
	require.NoError(t, err)
	sb := sandbox.New()
	t.Cleanup(func() { _ = sb.Close() })

	e := echo.New()
	e.HTTPErrorHandler = func(err error, c echo.Context) {
		if p, ok := adminhttp.AsProblem(err); ok {
			_ = c.JSON(p.Status, p)
			return
		}
		_ = c.JSON(500, map[string]string{"code": "internal_error", "message": err.Error()})
	}
	g := e.Group(adminclient.Prefix, func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if r, ok := strings.CutPrefix(c.Request().Header.Get("Authorization"), "Bearer test-"); ok {
				adminhttp.SetPrincipal(c, adminhttp.Principal{Username: r, Role: adminhttp.Role(r)})
			}
			return next(c)
		}
	})
	adminresources.Register(g, adminresources.Deps{Store: db, Providers: providers.NewRegistry(sb), AccountTester: fixedTester{}})
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)

	path := filepath.Join(t.TempDir(), "credentials.json")
	creds := &adminclient.Credentials{URL: srv.URL, Username: role, Role: role, AccessToken: "test-" + role,
		AccessExpiresAt: time.Now().Add(time.Hour), RefreshToken: "unused"}
	require.NoError(t, creds.Save(path))
	return &cli{t: t, creds: path}
}

// run runs one command line and returns its output and error.
func (c *cli) run(args ...string) (string, error) {
	c.t.Helper()
	var out bytes.Buffer
	root := &cobra.Command{Use: "herald", SilenceUsage: true, SilenceErrors: true}
	root.SetOut(&out)
	root.SetErr(&out)
	root.AddCommand(Commands(&out, func(k string) string {
		if k == "HERALD_CREDENTIALS" {
			return c.creds
		}
		return ""
	}, nil)...)
	root.SetArgs(args)
	err := root.ExecuteContext(c.t.Context())
	return out.String(), err
}

func (c *cli) must(args ...string) string {
	c.t.Helper()
	out, err := c.run(args...)
	require.NoError(c.t, err, "herald %s: %s", strings.Join(args, " "), out)
	return out
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o600))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, string(want), got)
}

func TestCommands(t *testing.T) {
	t.Parallel()
	c := newCLI(t, "operator")

	accountFile := filepath.Join(t.TempDir(), "account.yaml")
	require.NoError(t, os.WriteFile(accountFile, []byte("name: sbx-a\nkind: sandbox\nconfig: {latency_ms: 1}\nweight: 2\n"), 0o600))
	c.must("accounts", "create", "-f", accountFile)
	c.must("templates", "create", "--name", "code", "--content", "Code {{code}}", "--variables", "code")
	channelFile := filepath.Join(t.TempDir(), "channel.json")
	require.NoError(t, os.WriteFile(channelFile, []byte(`{"name": "sms", "type": "sms", "pool": [{"account": "sbx-a", "weight": 3}]}`), 0o600))
	c.must("channels", "create", "-f", channelFile, "--template", "code")

	created := c.must("apps", "create", "--id", "shop", "--name", "Shop", "--grants", "sms", "-o", "json")
	var app map[string]any
	require.NoError(t, json.Unmarshal([]byte(created), &app))
	require.Len(t, app["secret"], 64, "the generated secret is printed once")

	c.must("apps", "create", "--id", "blog", "--rate-limit-per-second", "5")
	c.must("apps", "update", "blog", "--messages-per-minute", "30")
	c.must("apps", "disable", "blog")
	c.must("rules", "create", "--name", "throttled", "--scene", "send_failure", "--error-codes", "THROTTLED,LIMIT", "--action", "retry", "--max-retry", "2")

	golden(t, "apps_list", c.must("apps", "list"))
	golden(t, "channels_list", c.must("channels", "list"))
	golden(t, "accounts_list", c.must("accounts", "list"))
	golden(t, "templates_list", c.must("templates", "list"))
	golden(t, "rules_list", c.must("rules", "list"))

	var list []map[string]any
	require.NoError(t, json.Unmarshal([]byte(c.must("apps", "list", "-o", "json")), &list))
	require.Len(t, list, 2)
	require.Equal(t, "set", list[0]["secret"])

	require.Equal(t, "task_id  task-for-sbx-a-1234\n", c.must("accounts", "test", "1", "--receiver", "+8613800138000", "--param", "code=1234"))
	_, err := c.run("accounts", "test", "1")
	require.ErrorContains(t, err, "--receiver is required")

	get := c.must("accounts", "get", "1")
	require.Regexp(t, `(?m)^callback_token +set$`, get)

	t.Run("Errors", func(t *testing.T) {
		out, err := c.run("apps", "create", "--id", "x", "--ip-allowlist", "nope")
		require.Error(t, err, out)
		require.Contains(t, err.Error(), "field ip_allowlist[0]")
		_, err = c.run("apps", "get", "nobody")
		require.ErrorContains(t, err, "HTTP 404")
		_, err = c.run("apps", "update", "shop", "--name", "x", "--version", "99")
		require.ErrorContains(t, err, "HTTP 409")
		_, err = c.run("apps", "list", "-o", "yaml")
		require.ErrorContains(t, err, "use table or json")
		_, err = c.run("apps", "create")
		require.ErrorContains(t, err, "nothing to create")
	})

	t.Run("Viewer", func(t *testing.T) {
		v := &cli{t: t}
		creds, err := adminclient.Load(c.creds)
		require.NoError(t, err)
		creds.AccessToken = "test-viewer"
		path := filepath.Join(t.TempDir(), "viewer.json")
		require.NoError(t, creds.Save(path))
		v.creds = path
		v.must("apps", "list")
		_, err = v.run("apps", "disable", "shop")
		require.ErrorContains(t, err, "HTTP 403")
	})

	t.Run("NotLoggedIn", func(t *testing.T) {
		n := &cli{t: t, creds: filepath.Join(t.TempDir(), "none.json")}
		_, err := n.run("apps", "list")
		require.ErrorIs(t, err, adminclient.ErrNotLoggedIn)
	})
}

// Every command's help has examples.
func TestHelpHasExamples(t *testing.T) {
	t.Parallel()
	var walk func(cmd *cobra.Command)
	walk = func(cmd *cobra.Command) {
		if cmd.Runnable() {
			require.NotEmpty(t, cmd.Example, "herald %s has no examples", cmd.CommandPath())
		}
		for _, sub := range cmd.Commands() {
			walk(sub)
		}
	}
	for _, cmd := range Commands(&bytes.Buffer{}, func(string) string { return "" }, nil) {
		walk(cmd)
	}
}

// fixedTester stands in for the send path at the AccountTester seam.
type fixedTester struct{}

func (fixedTester) TestAccount(_ context.Context, t adminresources.AccountTest) (string, error) {
	return "task-for-" + t.Account.Name + "-" + t.TemplateParams["code"], nil
}
