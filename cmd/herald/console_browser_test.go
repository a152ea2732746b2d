package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/api/apiclient"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/workflows"
)

// chromiumPath is the browser the console's end-to-end specs drive; CI
// installs it from Debian.
const chromiumPath = "/usr/bin/chromium"

// webDir is the console's source folder, from this package.
const webDir = "../../web"

// TestConsoleInBrowser runs the console's Playwright specs (npm run e2e in
// web/) against a whole running Herald: API with the console, a worker,
// embedded Temporal with its Web UI, the dev admin and a viewer, and
// channel 1 of the demo app with messages that succeeded, failed and one
// scheduled an hour ahead, and a batch scheduled an hour ahead. The specs
// change the first pool member's weight of channel 1 to 7, cancel the
// scheduled message and pause, resume and cancel the batch; afterwards
// these are checked through the CLI, the client API and the audit log, so
// a spec that only pretended to act fails here.
func TestConsoleInBrowser(t *testing.T) {
	requireBrowserTools(t)
	ctx := t.Context()
	uiPort, err := freePort()
	require.NoError(t, err)
	h, err := startHarness(harnessOptions{worker: true, temporalUIPort: uiPort})
	require.NoError(t, err)
	t.Cleanup(h.close)

	demo, err := seedDemo(ctx, h.s.db)
	require.NoError(t, err)
	require.Equal(t, int64(1), demo.ChannelID, "the specs drive channel 1: the demo SMS channel of a fresh store")
	adm, err := ensureDevAdmin(ctx, h.s.db, "e2e")
	require.NoError(t, err)
	require.True(t, adm.Created)
	o := &operatorCLI{t: t, creds: filepath.Join(t.TempDir(), "credentials.json"), env: map[string]string{
		"HERALD_DATABASE_URL": h.cfg.Database.URL, "HERALD_MASTER_KEY": h.cfg.MasterKey, "USER": "e2e",
	}}
	const viewerUser, viewerPassword = "vera", "vera's viewer passphrase"
	o.ok(viewerPassword+"\n", "admin", "user", "create", viewerUser, "--role", "viewer", "--password-stdin")

	// Messages the pages show: sent ones, ones the sandbox rejects
	// (receivers ending in 4000) and one scheduled an hour ahead.
	client := apiclient.New(h.apiURL, demo.AppID, demo.Secret)
	send := func(receiver string, at *time.Time) string {
		res, err := client.SendMessage(ctx, apiclient.SendMessageRequest{
			ChannelID: demo.ChannelID, Receiver: receiver, TemplateParams: map[string]string{"code": "123456"}, ScheduledAt: at,
		})
		require.NoError(t, err)
		return res.TaskID
	}
	var final []string
	for i := range 6 {
		final = append(final, send(fmt.Sprintf("+86138001380%02d", i+10), nil))
	}
	for i := range 3 {
		final = append(final, send(fmt.Sprintf("+861380%d134000", i+1), nil))
	}
	failed := 0
	for _, id := range final {
		if waitFinal(t, client, id).Status == workflows.StatusFailed {
			failed++
		}
	}
	require.Equal(t, 3, failed, "the sandbox rejects receivers ending in 4000")

	// A batch that waits an hour for its time, so it is still running when
	// the specs pause, resume and cancel it. It is accepted before the
	// scheduled message, which stays the newest scheduled one: the one the
	// specs cancel under Messages.
	later := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	batch, err := client.SendBatch(ctx, apiclient.SendBatchRequest{
		ChannelID: demo.ChannelID, Receivers: []string{"+8613800138201", "+8613800138202", "+8613800138203"},
		TemplateParams: map[string]string{"code": "654321"}, ScheduledAt: &later,
	})
	require.NoError(t, err)
	require.Equal(t, 3, batch.SuccessCount, "%+v", batch.Rejected)
	scheduled := send("+8613800138099", &later)

	shots := screenshotDir(t)
	err = runE2E(t, map[string]string{
		"HERALD_CONSOLE_URL":     h.s.adminURL + "/console/",
		"HERALD_ADMIN_USER":      devAdminName,
		"HERALD_ADMIN_PASSWORD":  adm.Password,
		"HERALD_VIEWER_USER":     viewerUser,
		"HERALD_VIEWER_PASSWORD": viewerPassword,
		"HERALD_SCREENSHOT_DIR":  shots,
		"HERALD_CHROMIUM":        chromiumPath,
		"HERALD_TEMPORAL_UI_URL": h.s.uiURL,
		"HERALD_BATCH_ID":        batch.BatchID,
	})
	require.NoError(t, err, "the console's browser specs failed (screenshots in %s)", shots)

	// What the specs did, read back through the CLI and the client API.
	o.login(h.s.adminURL, devAdminName, adm.Password)
	var ch struct {
		Pool []struct {
			Account string `json:"account"`
			Weight  *int   `json:"weight"`
		} `json:"pool"`
	}
	o.json(&ch, "channels", "get", "1")
	require.NotEmpty(t, ch.Pool)
	require.NotNil(t, ch.Pool[0].Weight)
	require.Equal(t, 7, *ch.Pool[0].Weight, "the specs set the first pool member of channel 1 to weight 7")
	msg, err := client.GetMessage(ctx, scheduled)
	require.NoError(t, err)
	require.Equal(t, workflows.StatusCancelled, msg.Status, "the specs cancel the scheduled message")
	b, err := client.GetBatch(ctx, batch.BatchID)
	require.NoError(t, err)
	require.Equal(t, workflows.BatchStatusCancelled, b.Status, "the specs cancel the batch")
	require.Equal(t, 3, b.Counts.Cancelled, "%+v", b.Counts)
	audit, err := h.s.db.ListAudit(ctx, store.AuditFilter{ObjectType: "batch", ObjectID: batch.BatchID})
	require.NoError(t, err)
	var actions []string
	for _, rec := range audit {
		actions = append(actions, rec.Action)
	}
	// Newest first.
	require.Equal(t, []string{"batch.cancel", "batch.resume", "batch.pause"}, actions, "the specs pause, resume and cancel the batch")

	raw, err := os.ReadFile(filepath.Join(shots, "metrics.json"))
	require.NoError(t, err, "the specs write metrics.json into HERALD_SCREENSHOT_DIR")
	var metrics struct {
		OverviewTTIMs *float64 `json:"overview_tti_ms"`
	}
	require.NoError(t, json.Unmarshal(raw, &metrics), string(raw))
	require.NotNil(t, metrics.OverviewTTIMs, "metrics.json lacks overview_tti_ms: %s", raw)
	t.Logf("console overview time to interactive: %.0f ms", *metrics.OverviewTTIMs)
}

// requireBrowserTools skips the test where Chromium or the console's npm
// packages are missing, except in CI, which installs both and must run it.
func requireBrowserTools(t *testing.T) {
	t.Helper()
	var missing []string
	if _, err := os.Stat(chromiumPath); err != nil {
		missing = append(missing, chromiumPath+" (apt-get install chromium)")
	}
	if _, err := os.Stat(filepath.Join(webDir, "node_modules")); err != nil {
		missing = append(missing, "web/node_modules (cd web && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci)")
	}
	if _, err := exec.LookPath("npm"); err != nil {
		missing = append(missing, "npm")
	}
	if len(missing) == 0 {
		return
	}
	msg := "the console's browser specs need " + strings.Join(missing, ", ")
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + "; CI installs them in .ci/run")
	}
	t.Skip(msg)
}

// screenshotDir is where the specs put screenshots and metrics.json:
// HERALD_SCREENSHOT_DIR when set, else web/e2e/out (ignored by git), kept
// after the test so a failure can be looked at.
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("HERALD_SCREENSHOT_DIR")
	if dir == "" {
		dir = filepath.Join(webDir, "e2e", "out")
	}
	abs, err := filepath.Abs(dir)
	require.NoError(t, err)
	require.NoError(t, os.RemoveAll(filepath.Join(abs, "metrics.json")))
	require.NoError(t, os.MkdirAll(abs, 0o755))
	t.Logf("console screenshots and metrics: %s", abs)
	return abs
}

// e2eTimeout bounds the whole browser run.
const e2eTimeout = 10 * time.Minute

// runE2E runs `npm run e2e` in web/ with env added to the test's own
// environment, streaming its output into the test log.
func runE2E(t *testing.T, env map[string]string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), e2eTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "run", "e2e")
	cmd.Dir = webDir
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	// Playwright must not fetch browsers; it drives HERALD_CHROMIUM.
	cmd.Env = append(cmd.Env, "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1", "CI=true")
	cmd.WaitDelay = 10 * time.Second
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			t.Log("e2e: " + sc.Text())
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	err := cmd.Run()
	_ = pw.Close()
	wg.Wait()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("npm run e2e did not finish within %s", e2eTimeout)
	}
	if err != nil {
		return fmt.Errorf("npm run e2e: %w", err)
	}
	return nil
}

// freePort returns a TCP port free on the loopback address right now.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
