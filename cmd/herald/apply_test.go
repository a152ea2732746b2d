package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// applyStore is a migrated SQLite store for apply and provider tests.
type applyStore struct {
	t   *testing.T
	url string
}

func newApplyStore(t *testing.T) *applyStore {
	t.Helper()
	url, _ := cliSQLiteURL(t)
	res := runCLI(t, nil, "migrate", "up", "--database-url", url)
	require.Equal(t, 0, res.code, res.stderr)
	return &applyStore{t: t, url: url}
}

// args adds the store's settings flags to a command line.
func (s *applyStore) args(args ...string) []string {
	return append(args, "--database-url", s.url, "--master-key", cliMasterKey())
}

// apply writes doc to a file and applies it with the extra flags.
func (s *applyStore) apply(env map[string]string, doc string, flags ...string) cliResult {
	s.t.Helper()
	path := filepath.Join(s.t.TempDir(), "herald.yaml")
	require.NoError(s.t, os.WriteFile(path, []byte(doc), 0o600))
	return runCLI(s.t, env, s.args(append([]string{"apply", "-f", path}, flags...)...)...)
}

// mustApply applies doc and requires success.
func (s *applyStore) mustApply(env map[string]string, doc string, flags ...string) string {
	s.t.Helper()
	res := s.apply(env, doc, flags...)
	require.Equal(s.t, 0, res.code, "stderr: %s\nstdout: %s", res.stderr, res.stdout)
	return res.stdout
}

// applyBase is a small file for the CLI tests; internal/apply tests the
// file's semantics.
const applyBase = `
accounts:
  - name: sbx-a
    kind: sandbox
    config: {latency_ms: 1}
channels:
  - name: sms
    type: sms
    pool:
      - account: sbx-a
`

func TestApplyCommand(t *testing.T) {
	t.Parallel()

	t.Run("Stdin", func(t *testing.T) {
		t.Parallel()
		s := newApplyStore(t)
		var stdout, stderr bytes.Buffer
		cmd := newRootCommand(&stdout, &stderr, func(string) string { return "" })
		cmd.SetIn(strings.NewReader(applyBase))
		cmd.SetArgs(s.args("apply", "-f", "-"))
		require.NoError(t, cmd.ExecuteContext(t.Context()), stderr.String())
		require.Contains(t, stdout.String(), "channel sms: created\n")
	})

	t.Run("Flags", func(t *testing.T) {
		t.Parallel()
		s := newApplyStore(t)
		res := runCLI(t, nil, "apply", "--database-url", s.url, "--master-key", cliMasterKey())
		require.Equal(t, 1, res.code)
		require.Contains(t, res.stderr, "-f/--file is required")

		path := filepath.Join(t.TempDir(), "h.yaml")
		require.NoError(t, os.WriteFile(path, []byte(applyBase), 0o600))
		res = runCLI(t, nil, "apply", "-f", path, "--database-url", s.url)
		require.Equal(t, 1, res.code)
		require.Contains(t, res.stderr, "master-key is required with a database URL")

		unmigrated, _ := cliSQLiteURL(t)
		res = runCLI(t, nil, "apply", "-f", path, "--database-url", unmigrated, "--master-key", cliMasterKey())
		require.Equal(t, 1, res.code)
		require.Contains(t, res.stderr, "herald migrate up")

		res = runCLI(t, nil, "apply", "-f", path, "--public-url", "https://herald.example.com", "--database-url", s.url, "--master-key", cliMasterKey())
		require.Equal(t, 0, res.code, res.stderr)
		require.Contains(t, res.stdout, "  receipt callback URL: https://herald.example.com/callbacks/sandbox/")
	})

}
