package main

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// cliResult is what one in-process run of the CLI produced.
type cliResult struct {
	code           int
	stdout, stderr string
}

// runCLI runs the herald CLI in process with env as its whole environment.
func runCLI(t *testing.T, env map[string]string, args ...string) cliResult {
	t.Helper()
	var stdout, stderr bytes.Buffer
	var code int
	require.NotPanics(t, func() {
		// A nil slice would make cobra read os.Args, the test binary's flags.
		code = run(append([]string{}, args...), &stdout, &stderr, func(k string) string { return env[k] })
	}, "herald %s", strings.Join(args, " "))
	return cliResult{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// cliMasterKey is a well-formed master key.
func cliMasterKey() string {
	return base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
}

// cliSQLiteURL is the URL of a store file that does not exist yet.
func cliSQLiteURL(t *testing.T) (url, path string) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "x.db")
	return "sqlite://" + path, path
}

// unreachable is an address nothing listens on; the tests that pass it
// must fail before dialing it.
const unreachable = "127.0.0.1:1"

func TestCLIHelp(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"Root", []string{"--help"}, []string{"herald dev", "herald migrate up", "dev", "serve", "worker", "migrate", "send", "version"}},
		{"NoArgs", nil, []string{"Usage:", "herald [command]"}},
		{"Dev", []string{"dev", "--help"}, []string{
			"--database-url", "--redis-url", "--temporal-address", "--data-dir", "--master-key", "--config",
			"--temporal-port", "--temporal-ui-port", "--addr", "HERALD_DATABASE_URL", "HERALD_DATA_DIR",
		}},
		{"Serve", []string{"serve", "--help"}, []string{
			"--master-key", "--database-url", "--redis-url", "--temporal-address", "--addr", "--config",
			"herald migrate up", "HERALD_MASTER_KEY",
		}},
		{"Worker", []string{"worker", "--help"}, []string{
			"--public-url", "--master-key", "--database-url", "--temporal-address", "--worker-sweep-interval",
			"HERALD_HTTP_PUBLIC_URL",
		}},
		{"Migrate", []string{"migrate", "--help"}, []string{"up", "down", "status", "--database-url", "--data-dir"}},
		{"MigrateUp", []string{"migrate", "up", "--help"}, []string{"--database-url", "--data-dir", "--config"}},
		{"MigrateStatus", []string{"migrate", "status", "--help"}, []string{"--database-url"}},
		{"Send", []string{"send", "--help"}, []string{
			"--app-id", "--app-secret", "--channel", "--receiver", "--param", "--url", "--signature",
			"--scheduled-at", "--idempotency-key", "--php-signing", "--follow", "--timeout", "HERALD_APP_ID",
		}},
		{"Version", []string{"version", "--help"}, []string{"herald version"}},
		{"Breaker", []string{"breaker", "--help"}, []string{"list", "open", "close", "auto", "--temporal-address", "--database-url"}},
		{"BreakerOpen", []string{"breaker", "open", "--help"}, []string{"--reason", "herald breaker open tencent-main", "herald breaker auto"}},
		{"Login", []string{"login", "--help"}, []string{"--url", "--username", "--password-stdin", "--credentials", "herald login --url http://127.0.0.1:8080"}},
		{"Logout", []string{"logout", "--help"}, []string{"--credentials", "herald logout"}},
		{"Audit", []string{"audit", "--help"}, []string{"--actor", "--action", "--object-type", "--object-id", "--since", "--until", "--limit", "--cursor", "--output", "herald audit --since 1h"}},
		{"AdminUser", []string{"admin", "user", "--help"}, []string{"create", "passwd", "disable", "enable", "list", "--password-stdin", "--database-url"}},
		{"AdminUserCreate", []string{"admin", "user", "create", "--help"}, []string{"--role", "--password-stdin", "herald admin user create ann --role operator"}},
		{"AdminUserPasswd", []string{"admin", "user", "passwd", "--help"}, []string{"herald admin user passwd admin"}},
		{"AdminUserDisable", []string{"admin", "user", "disable", "--help"}, []string{"herald admin user disable ann"}},
		{"AdminUserEnable", []string{"admin", "user", "enable", "--help"}, []string{"herald admin user enable ann"}},
		{"AdminUserList", []string{"admin", "user", "list", "--help"}, []string{"-o json"}},
		{"Apps", []string{"apps", "--help"}, []string{"list", "get", "create", "update", "enable", "disable", "rotate-secret", "--credentials", "--output"}},
		{"AccountsTest", []string{"accounts", "test", "--help"}, []string{"--receiver", "--param", "herald accounts test 2"}},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := runCLI(t, nil, tt.args...)
			require.Equal(t, 0, res.code, res.stderr)
			require.Empty(t, res.stderr)
			for _, w := range tt.want {
				require.Contains(t, res.stdout, w)
			}
		})
	}
}

func TestCLIVersion(t *testing.T) {
	t.Parallel()
	res := runCLI(t, nil, "version")
	require.Equal(t, 0, res.code, res.stderr)
	require.True(t, strings.HasPrefix(res.stdout, "herald "), res.stdout)
	require.True(t, strings.HasSuffix(res.stdout, "\n"), res.stdout)
	require.Empty(t, res.stderr)
}

func TestCLIUsageErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"UnknownCommand", []string{"bogus"}, `unknown command "bogus"`},
		{"UnknownFlag", []string{"serve", "--bogus"}, "unknown flag: --bogus"},
		{"BadFlagValue", []string{"dev", "--temporal-port", "seven"}, "temporal-port"},
		{"ExtraArgs", []string{"version", "extra"}, "unknown command"},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := runCLI(t, nil, tt.args...)
			require.Equal(t, 1, res.code)
			require.True(t, strings.HasPrefix(res.stderr, "herald: "), res.stderr)
			require.Contains(t, res.stderr, tt.want)
		})
	}
}

func TestCLIServe(t *testing.T) {
	t.Parallel()

	t.Run("ListsEveryMissingSettingAtOnce", func(t *testing.T) {
		t.Parallel()
		res := runCLI(t, nil, "serve")
		require.Equal(t, 1, res.code)
		require.Empty(t, res.stdout)
		require.Equal(t, 1, strings.Count(res.stderr, "herald: "), "one error: %s", res.stderr)
		require.Contains(t, res.stderr, "invalid configuration")
		for _, w := range []string{"master-key", "HERALD_MASTER_KEY", "database.url", "HERALD_DATABASE_URL", "redis.url", "HERALD_REDIS_URL", "temporal.address", "HERALD_TEMPORAL_ADDRESS"} {
			require.Contains(t, res.stderr, w)
		}
	})

	t.Run("ReadsTheInjectedEnvironment", func(t *testing.T) {
		t.Parallel()
		dbURL, _ := cliSQLiteURL(t)
		res := runCLI(t, map[string]string{
			"HERALD_MASTER_KEY":   cliMasterKey(),
			"HERALD_DATABASE_URL": dbURL,
		}, "serve")
		require.Equal(t, 1, res.code)
		require.NotContains(t, res.stderr, "HERALD_MASTER_KEY")
		require.NotContains(t, res.stderr, "HERALD_DATABASE_URL")
		require.Contains(t, res.stderr, "HERALD_REDIS_URL")
		require.Contains(t, res.stderr, "HERALD_TEMPORAL_ADDRESS")
	})

	t.Run("ConfigFile", func(t *testing.T) {
		t.Parallel()
		dbURL, _ := cliSQLiteURL(t)
		file := filepath.Join(t.TempDir(), "herald.yaml")
		require.NoError(t, os.WriteFile(file, []byte("database:\n  url: "+dbURL+"\nredis:\n  url: redis://"+unreachable+"/0\n"), 0o600))
		res := runCLI(t, map[string]string{"HERALD_CONFIG": file}, "serve")
		require.Equal(t, 1, res.code)
		require.NotContains(t, res.stderr, "HERALD_DATABASE_URL")
		require.NotContains(t, res.stderr, "HERALD_REDIS_URL")
		require.Contains(t, res.stderr, "HERALD_MASTER_KEY")
		require.Contains(t, res.stderr, "HERALD_TEMPORAL_ADDRESS")
	})

	t.Run("BadMasterKeyNeverShown", func(t *testing.T) {
		t.Parallel()
		const key = "not-a-real-key"
		res := runCLI(t, nil, "serve", "--master-key", key, "--database-url", "mysql://root:s3cr3t@db.example.com/herald")
		require.Equal(t, 1, res.code)
		require.Contains(t, res.stderr, "master-key must be base64 of exactly 32 bytes")
		require.Contains(t, res.stderr, "database.url")
		require.NotContains(t, res.stderr, key)
		require.NotContains(t, res.stderr, "s3cr3t")
	})

	t.Run("RefusesUnmigratedStore", func(t *testing.T) {
		t.Parallel()
		// The store is checked before Redis and Temporal are dialed, so
		// neither unreachable address is ever tried.
		dbURL, _ := cliSQLiteURL(t)
		res := runCLI(t, nil, "serve",
			"--database-url", dbURL,
			"--master-key", cliMasterKey(),
			"--redis-url", "redis://"+unreachable+"/0",
			"--temporal-address", unreachable,
			"--addr", "127.0.0.1:0",
		)
		require.Equal(t, 1, res.code, res.stderr)
		require.Contains(t, res.stderr, "herald migrate up")
		require.Contains(t, res.stderr, "not up to date")
		require.NotContains(t, res.stderr, "redis")
		require.NotContains(t, res.stderr, "temporal")
	})
}

func TestCLIWorker(t *testing.T) {
	t.Parallel()

	t.Run("ListsPublicURLWithTheOthers", func(t *testing.T) {
		t.Parallel()
		res := runCLI(t, nil, "worker")
		require.Equal(t, 1, res.code)
		require.Equal(t, 1, strings.Count(res.stderr, "herald: "), "one error: %s", res.stderr)
		for _, w := range []string{"HERALD_MASTER_KEY", "HERALD_DATABASE_URL", "HERALD_REDIS_URL", "HERALD_TEMPORAL_ADDRESS", "--public-url", "HERALD_HTTP_PUBLIC_URL"} {
			require.Contains(t, res.stderr, w)
		}
	})

	t.Run("RequiresPublicURL", func(t *testing.T) {
		t.Parallel()
		dbURL, dbPath := cliSQLiteURL(t)
		res := runCLI(t, nil, "worker",
			"--database-url", dbURL,
			"--master-key", cliMasterKey(),
			"--redis-url", "redis://"+unreachable,
			"--temporal-address", unreachable,
		)
		require.Equal(t, 1, res.code)
		require.Contains(t, res.stderr, "--public-url")
		require.Contains(t, res.stderr, "HERALD_HTTP_PUBLIC_URL")
		require.Contains(t, res.stderr, "herald serve")
		require.NoFileExists(t, dbPath, "nothing is opened before the settings are valid")
	})

	t.Run("RefusesUnmigratedStore", func(t *testing.T) {
		t.Parallel()
		dbURL, _ := cliSQLiteURL(t)
		res := runCLI(t, nil, "worker",
			"--database-url", dbURL,
			"--master-key", cliMasterKey(),
			"--redis-url", "redis://"+unreachable,
			"--temporal-address", unreachable,
			"--public-url", "http://herald.example.com",
		)
		require.Equal(t, 1, res.code, res.stderr)
		require.Contains(t, res.stderr, "herald migrate up")
		require.NotContains(t, res.stderr, "temporal")
	})
}

func TestCLISend(t *testing.T) {
	t.Parallel()

	t.Run("ListsEveryMissingFlag", func(t *testing.T) {
		t.Parallel()
		res := runCLI(t, nil, "send")
		require.Equal(t, 1, res.code)
		require.Empty(t, res.stdout, "nothing is sent")
		require.Equal(t, 1, strings.Count(res.stderr, "herald: "), "one error: %s", res.stderr)
		for _, w := range []string{"--app-id", "HERALD_APP_ID", "--app-secret", "HERALD_APP_SECRET", "--channel", "--receiver"} {
			require.Contains(t, res.stderr, w)
		}
		require.NotContains(t, res.stderr, "--url", "--url has a default")
	})

	t.Run("MalformedFlags", func(t *testing.T) {
		t.Parallel()
		res := runCLI(t, nil, "send",
			"--url", "",
			"--app-id", "demo-app", "--app-secret", "x", "--channel", "1", "--receiver", "+8613800138000",
			"--param", "code", "--param", "=1", "--param", "ok=1",
			"--scheduled-at", "tomorrow",
			"--timeout", "0s",
		)
		require.Equal(t, 1, res.code)
		for _, w := range []string{"--url is required", `--param "code"`, `--param "=1"`, `--scheduled-at "tomorrow"`, "--timeout must be positive"} {
			require.Contains(t, res.stderr, w)
		}
		require.NotContains(t, res.stderr, `"ok=1"`)
		require.NotContains(t, res.stderr, "--app-id")
	})

	t.Run("CredentialsFromEnvironment", func(t *testing.T) {
		t.Parallel()
		res := runCLI(t, map[string]string{"HERALD_APP_ID": "demo-app", "HERALD_APP_SECRET": "x"}, "send", "--channel", "0")
		require.Equal(t, 1, res.code)
		require.NotContains(t, res.stderr, "--app-id")
		require.NotContains(t, res.stderr, "--app-secret")
		require.Contains(t, res.stderr, "--channel must be a channel id")
		require.Contains(t, res.stderr, "--receiver is required")
	})
}

// migrationRows parses `herald migrate status` into name → "pending" or
// "applied <group>".
func migrationRows(t *testing.T, out string) map[string]string {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.GreaterOrEqual(t, len(lines), 2, "a header and at least one migration: %q", out)
	require.Equal(t, []string{"MIGRATION", "STATUS", "GROUP"}, strings.Fields(lines[0]))
	rows := map[string]string{}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		require.Len(t, f, 3, l)
		switch f[1] {
		case "pending":
			require.Equal(t, "-", f[2], l)
			rows[f[0]] = "pending"
		case "applied":
			rows[f[0]] = "applied " + f[2]
		default:
			t.Fatalf("unexpected status in %q", l)
		}
	}
	return rows
}

// prefixed returns the rest of each line of out that starts with prefix.
func prefixed(out, prefix string) []string {
	var names []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if name, ok := strings.CutPrefix(l, prefix); ok {
			names = append(names, name)
		}
	}
	return names
}

func TestCLIMigrate(t *testing.T) {
	t.Parallel()
	dbURL, dbPath := cliSQLiteURL(t)
	// The settings flags belong to `migrate`; they work before or after the
	// subcommand, and from the environment.
	migrate := func(sub string) cliResult {
		t.Helper()
		res := runCLI(t, nil, "migrate", sub, "--database-url", dbURL)
		require.Equal(t, 0, res.code, res.stderr)
		return res
	}
	status := func() map[string]string {
		t.Helper()
		res := runCLI(t, nil, "migrate", "--database-url", dbURL, "status")
		require.Equal(t, 0, res.code, res.stderr)
		return migrationRows(t, res.stdout)
	}

	pending := status()
	require.FileExists(t, dbPath)
	var names []string
	for name, state := range pending {
		require.Equal(t, "pending", state, name)
		names = append(names, name)
	}

	up := migrate("up")
	require.ElementsMatch(t, names, prefixed(up.stdout, "applied "))
	for name, state := range status() {
		require.Equal(t, "applied 1", state, name)
	}

	again := runCLI(t, map[string]string{"HERALD_DATABASE_URL": dbURL}, "migrate", "up")
	require.Equal(t, 0, again.code, again.stderr)
	require.Equal(t, "database is up to date\n", again.stdout)

	down := migrate("down")
	require.ElementsMatch(t, names, prefixed(down.stdout, "rolled back "))
	require.Equal(t, pending, status())

	none := migrate("down")
	require.Equal(t, "nothing to roll back\n", none.stdout)
}

func TestCLIMigrateErrors(t *testing.T) {
	t.Parallel()

	t.Run("BadDatabaseURL", func(t *testing.T) {
		t.Parallel()
		res := runCLI(t, nil, "migrate", "status", "--database-url", "mysql://root:s3cr3t@db.example.com/herald")
		require.Equal(t, 1, res.code)
		require.Contains(t, res.stderr, "database.url")
		require.NotContains(t, res.stderr, "s3cr3t")
		require.Empty(t, res.stdout)
	})

	t.Run("BadMasterKey", func(t *testing.T) {
		t.Parallel()
		dbURL, dbPath := cliSQLiteURL(t)
		res := runCLI(t, nil, "migrate", "up", "--database-url", dbURL, "--master-key", "short")
		require.Equal(t, 1, res.code)
		require.Contains(t, res.stderr, "master-key must be base64 of exactly 32 bytes")
		require.NoFileExists(t, dbPath)
	})

	t.Run("DevStoreInDataDir", func(t *testing.T) {
		t.Parallel()
		dir := filepath.Join(t.TempDir(), "data")
		res := runCLI(t, nil, "migrate", "up", "--data-dir", dir)
		require.Equal(t, 0, res.code, res.stderr)
		require.NotEmpty(t, prefixed(res.stdout, "applied "))
		require.FileExists(t, filepath.Join(dir, "herald.db"))
		require.FileExists(t, filepath.Join(dir, "master.key"))
	})
}
