package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun/driver/pgdriver"

	"github.com/heraldhq/herald/activities"
	"github.com/heraldhq/herald/api/apiclient"
	"github.com/heraldhq/herald/providers/aliyun/aliyunfake"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/workflows"
)

// Environment of the opt-in scale test (task scale).
const (
	// scaleTestEnv set to 1 runs TestScaleAcrossProcesses.
	scaleTestEnv = "HERALD_SCALE_TEST"
	// scaleReceiversEnv sets the batch size (default scaleDefaultReceivers).
	scaleReceiversEnv = "HERALD_SCALE_RECEIVERS"
	// scaleBinaryEnv names a herald binary to run instead of building one.
	scaleBinaryEnv = "HERALD_SCALE_BINARY"
	// scaleTimeoutEnv bounds the wait for the batch (a Go duration,
	// default 30m).
	scaleTimeoutEnv = "HERALD_SCALE_TIMEOUT"

	// scaleDefaultReceivers keeps the run to minutes on two cores while
	// batches are sent as one workflow per receiver.
	scaleDefaultReceivers = 1000
	// scaleNamespace is the Temporal namespace the API and the workers
	// share. The dev process that runs the Temporal server also runs a
	// worker of its own, on its own store: it keeps to the default
	// namespace, so it never picks up this test's tasks.
	scaleNamespace = "herald-scale"
	scaleWorkers   = 3
)

// scaleProc is one herald process of the scale test.
type scaleProc struct {
	name string
	cmd  *exec.Cmd
	log  string
	// peak is its peak RSS, read just before it was killed or stopped.
	peak int64
}

// TestScaleAcrossProcesses runs Herald as a real multi-process deployment
// on one machine: `herald dev --temporal-database-url` holds the Temporal
// frontend on PostgreSQL, one `herald serve` takes a batch, three `herald
// worker` processes send it through an Aliyun fake that this test runs,
// against one PostgreSQL store and one Redis. One worker is killed with
// SIGKILL once a quarter of the batch has reached the provider, and is not
// restarted: the other two must finish its work. Every receiver must end
// final and successful, and the fake must have been asked exactly once per
// receiver. It logs the accept time, the completion rate and each process's
// peak RSS; on a machine with fewer cores than processes the figures show
// correctness, not speed-up.
func TestScaleAcrossProcesses(t *testing.T) {
	if os.Getenv(scaleTestEnv) != "1" {
		t.Skipf("the multi-process scale test runs only with %s=1 (task scale); it takes minutes", scaleTestEnv)
	}
	receivers := scaleDefaultReceivers
	if v := os.Getenv(scaleReceiversEnv); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(t, err, scaleReceiversEnv)
		require.True(t, n >= 4 && n <= benchMaxReceivers, "%s must be 4 to %d", scaleReceiversEnv, benchMaxReceivers)
		receivers = n
	}
	timeout := 30 * time.Minute
	if v := os.Getenv(scaleTimeoutEnv); v != "" {
		d, err := time.ParseDuration(v)
		require.NoError(t, err, scaleTimeoutEnv)
		timeout = d
	}
	redisURL := testRedisURL()
	require.NotEmpty(t, redisURL, "the scale test needs a real Redis that every process shares (HERALD_TEST_REDIS_URL)")
	bin := scaleBinary(t)
	storeURL, temporalURL := scaleDatabases(t)
	masterKey := randomKey()
	dir := t.TempDir()
	ctx := context.Background()

	// The Temporal frontend holder, then the namespace the others share.
	temporalPort := scalePort(t)
	temporalAddr := fmt.Sprintf("127.0.0.1:%d", temporalPort)
	var procs []*scaleProc
	t.Cleanup(func() { stopScaleProcs(procs) })
	start := func(name string, args ...string) *scaleProc {
		p := startScaleProc(t, bin, dir, name, args...)
		procs = append(procs, p)
		return p
	}
	start("dev", "dev", "--data-dir", filepath.Join(dir, "dev"),
		"--temporal-database-url", temporalURL, "--temporal-port", strconv.Itoa(temporalPort), "--temporal-ui-port", "0",
		"--addr", "127.0.0.1:0", "--health-addr", "", "--redis-embedded-addr", "127.0.0.1:0", "--log-level", "warn")
	// Setup cannot connect until the dev process has set up the Temporal
	// databases and started the frontend.
	setupUntil := time.Now().Add(5 * time.Minute)
	for {
		setup := exec.Command(bin, "temporal", "setup", "--temporal-address", temporalAddr,
			"--temporal-namespace", scaleNamespace, "--timeout", "1m")
		setup.Env = scaleEnv()
		outSetup, err := setup.CombinedOutput()
		if err == nil {
			break
		}
		if time.Now().After(setupUntil) {
			t.Fatalf("herald temporal setup: %v: %s\n%s", err, outSetup, tailProcLogs(procs))
		}
		time.Sleep(time.Second)
	}

	// The shared store, its schema and what the batch goes through.
	db := openScaleStore(t, storeURL, masterKey)
	fake := aliyunfake.New(t,
		aliyunfake.WithTemplate(benchTemplateCode, "Your code is ${code}"),
		aliyunfake.WithSignName(benchSignName),
		aliyunfake.WithBatchedReports(),
		// Herald applies the reports of a push one by one, each a signal
		// to its member's workflow while batches have no workflow of their
		// own: a push of 100 can take longer than the fake's default wait.
		aliyunfake.WithPushTimeout(time.Minute))
	// Later than the workers record the provider's answers even on a busy
	// machine: batch sends carry no OutId, so an earlier receipt would
	// find no task (see herald bench --help).
	fake.AutoReceipt(2*time.Second, aliyunfake.Delivered)
	apiPort := scalePort(t)
	apiURL := fmt.Sprintf("http://127.0.0.1:%d", apiPort)
	c, chID := scaleFixtures(t, db, fake, apiURL)

	common := []string{"--database-url", storeURL, "--redis-url", redisURL, "--master-key", masterKey,
		"--temporal-address", temporalAddr, "--temporal-namespace", scaleNamespace, "--health-addr", "", "--log-level", "warn"}
	start("serve", append([]string{"serve", "--addr", fmt.Sprintf("127.0.0.1:%d", apiPort),
		"--api-batch-max-size", strconv.Itoa(max(1000, receivers)),
		"--api-max-body-bytes", strconv.FormatInt(max(4<<20, int64(receivers)*benchBodyBytesPerReceiver), 10)}, common...)...)
	var workers []*scaleProc
	for i := range scaleWorkers {
		workers = append(workers, start(fmt.Sprintf("worker-%d", i+1), append([]string{"worker", "--public-url", apiURL}, common...)...))
	}
	waitHealthy(t, apiURL+"/health", procs)

	// One worker dies without warning once a quarter of the batch is out.
	killAt := receivers / 4
	killed := make(chan int, 1)
	stopKiller := make(chan struct{})
	var killerDone sync.WaitGroup
	killerDone.Add(1)
	go func() {
		defer killerDone.Done()
		for {
			select {
			case <-stopKiller:
				return
			case <-time.After(20 * time.Millisecond):
			}
			if n := fake.SentCount(); n >= killAt {
				victim := workers[0]
				if rss, err := peakRSS(victim.cmd.Process.Pid); err == nil {
					victim.peak = rss
				}
				_ = victim.cmd.Process.Signal(syscall.SIGKILL)
				killed <- n
				return
			}
		}
	}()
	defer func() { close(stopKiller); killerDone.Wait() }()

	numbers := benchReceivers(receivers)
	sendCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	began := time.Now()
	res, err := c.SendBatch(sendCtx, apiclient.SendBatchRequest{
		ChannelID: chID, Receivers: numbers, SignatureName: benchSignName,
		TemplateParams: map[string]string{"code": "123456"},
	})
	accept := time.Since(began)
	require.NoError(t, err, tailProcLogs(procs))
	require.Equal(t, receivers, res.SuccessCount, "every receiver accepted")
	t.Logf("batch %s: %d receivers accepted in %s", res.BatchID, res.SuccessCount, accept.Round(time.Millisecond))

	var counts map[string]int
	lastLog := time.Now()
	for {
		counts, err = db.CountBatchMembers(sendCtx, res.BatchID)
		require.NoError(t, err)
		final := 0
		for st, n := range counts {
			if workflows.IsFinal(st) {
				final += n
			}
		}
		if final == receivers {
			break
		}
		if time.Since(lastLog) > 15*time.Second {
			t.Logf("%d of %d final after %s %s", final, receivers, time.Since(began).Round(time.Second), formatCounts(counts))
			lastLog = time.Now()
		}
		select {
		case <-sendCtx.Done():
			t.Fatalf("%d of %d members final after %s %s\n%s", final, receivers, timeout, formatCounts(counts), tailProcLogs(procs))
		case <-time.After(250 * time.Millisecond):
		}
	}
	complete := time.Since(began)

	var sentAtKill int
	select {
	case sentAtKill = <-killed:
	default:
		t.Fatalf("the batch finished before a worker was killed (%d sends to wait for)", killAt)
	}
	perReceiver := map[string]int{}
	for _, m := range fake.Sent() {
		perReceiver[nationalNumber(m.PhoneNumber)]++
	}
	twice, never := 0, 0
	for _, n := range numbers {
		switch c := perReceiver[nationalNumber(n)]; {
		case c == 0:
			never++
		case c > 1:
			twice++
		}
	}

	for _, p := range procs {
		if p.peak == 0 {
			if rss, err := peakRSS(p.cmd.Process.Pid); err == nil {
				p.peak = rss
			}
		}
	}
	var report strings.Builder
	fmt.Fprintf(&report, "scale: 1 API + %d workers (one killed after %d of %d sends, not restarted), Temporal frontend in `herald dev` on PostgreSQL, one PostgreSQL store, one Redis\n",
		scaleWorkers, sentAtKill, receivers)
	fmt.Fprintf(&report, "  accept      %s (HTTP round trip of the batch request)\n", accept.Round(time.Millisecond))
	fmt.Fprintf(&report, "  completion  %s, %.1f receivers/s (from the request until every member was final) %s\n",
		complete.Round(time.Millisecond), float64(receivers)/complete.Seconds(), formatCounts(counts))
	fmt.Fprintf(&report, "  provider    %d SendBatchSms + %d SendSms + %d QuerySendDetails requests; %d receivers sent more than once, %d never\n",
		fake.Requests("SendBatchSms"), fake.Requests("SendSms"), fake.Requests("QuerySendDetails"), twice, never)
	fmt.Fprintln(&report, "  peak RSS (VmHWM):")
	for _, p := range procs {
		what := p.name
		if p == workers[0] {
			what += " (at its kill)"
		}
		fmt.Fprintf(&report, "    %-24s %s\n", what, formatMiB(p.peak))
	}
	if rss, err := peakRSS(os.Getpid()); err == nil {
		fmt.Fprintf(&report, "    %-24s %s\n", "test process (fake)", formatMiB(rss))
	}
	fmt.Fprintf(&report, "  %d CPUs: the processes share them, so this run shows correctness across processes, not speed-up\n", runtime.NumCPU())
	t.Log("\n" + report.String())

	require.Equal(t, map[string]int{workflows.StatusSuccess: receivers}, counts, "every member delivered")
	require.Len(t, perReceiver, receivers, "the provider was asked for exactly the batch's receivers")
	require.Zero(t, twice, "receivers sent more than once")
	require.Zero(t, never, "receivers never sent")
}

// scaleBinary returns the herald binary to run: the one named by
// HERALD_SCALE_BINARY, else one built once for this test.
func scaleBinary(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv(scaleBinaryEnv); bin != "" {
		abs, err := filepath.Abs(bin)
		require.NoError(t, err)
		return abs
	}
	bin := filepath.Join(t.TempDir(), "herald")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "build herald: %s", out)
	return bin
}

// scaleDatabases creates a store database and a Temporal database (the
// dev process creates <name>_visibility beside it) and drops all three
// when the test ends.
func scaleDatabases(t *testing.T) (storeURL, temporalURL string) {
	t.Helper()
	base := os.Getenv("HERALD_TEST_DATABASE_URL")
	if base == "" {
		base = defaultTestDatabaseURL
	}
	admin := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(base)))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, admin.PingContext(ctx), "the scale test needs PostgreSQL (HERALD_TEST_DATABASE_URL)")
	name := "herald_scale_" + randomHex8()
	_, err := admin.ExecContext(ctx, "CREATE DATABASE "+name)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, db := range []string{name, name + "_temporal", name + "_temporal_visibility"} {
			_, _ = admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)")
		}
		_ = admin.Close()
	})
	u, err := url.Parse(base)
	require.NoError(t, err)
	u.Path = "/" + name
	storeURL = u.String()
	u.Path = "/" + name + "_temporal"
	return storeURL, u.String()
}

// scaleEnv is this process's environment without Herald's own settings,
// so that only the flags configure the processes.
func scaleEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "HERALD_") && !strings.HasPrefix(kv, "HERALD_TEST_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

func startScaleProc(t *testing.T, bin, dir, name string, args ...string) *scaleProc {
	t.Helper()
	p := &scaleProc{name: name, log: filepath.Join(dir, name+".log")}
	f, err := os.Create(p.log)
	require.NoError(t, err)
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = scaleEnv()
	p.cmd.Stdout, p.cmd.Stderr = f, f
	require.NoError(t, p.cmd.Start(), name)
	_ = f.Close()
	return p
}

// stopScaleProcs stops the processes, the Temporal holder last, and waits
// for them.
func stopScaleProcs(procs []*scaleProc) {
	for i := len(procs) - 1; i >= 0; i-- {
		p := procs[i]
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _, _ = p.cmd.Process.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = p.cmd.Process.Kill()
			<-done
		}
	}
}

// tailProcLogs returns the last lines of every process's log, for a
// failure message.
func tailProcLogs(procs []*scaleProc) string {
	var b strings.Builder
	for _, p := range procs {
		f, err := os.Open(p.log)
		if err != nil {
			continue
		}
		var lines []string
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			lines = append(lines, sc.Text())
			if len(lines) > 20 {
				lines = lines[1:]
			}
		}
		_ = f.Close()
		fmt.Fprintf(&b, "--- %s (%s)\n%s\n", p.name, p.log, strings.Join(lines, "\n"))
	}
	return b.String()
}

// scalePort returns a free loopback port.
func scalePort(t *testing.T) int {
	t.Helper()
	port, err := freePort()
	require.NoError(t, err)
	return port
}

// waitHealthy waits until the API answers its health check.
func waitHealthy(t *testing.T, healthURL string, procs []*scaleProc) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, healthURL, nil)
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("the API did not become healthy at %s\n%s", healthURL, tailProcLogs(procs))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// openScaleStore migrates the shared store and opens it with the
// processes' master key.
func openScaleStore(t *testing.T, dbURL, masterKey string) *store.DB {
	t.Helper()
	key, err := store.ParseMasterKey(masterKey)
	require.NoError(t, err)
	cipher, err := store.NewCipher(key)
	require.NoError(t, err)
	db, err := store.Open(context.Background(), store.Options{URL: dbURL, Cipher: cipher})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	_, err = db.MigrateUp(context.Background())
	require.NoError(t, err)
	return db
}

// scaleFixtures creates the app, an SMS channel and an Aliyun account at
// fake, and points the fake's receipts at the API to come.
func scaleFixtures(t *testing.T, db *store.DB, fake *aliyunfake.Server, apiURL string) (*apiclient.Client, int64) {
	t.Helper()
	ctx := context.Background()
	secret := randomHex8() + randomHex8()
	app := &store.App{ID: "scale-" + randomHex8(), Name: "Scale test", Secret: secret, Enabled: true, RateLimitPerSecond: 1000}
	require.NoError(t, db.CreateApp(ctx, app))
	tpl := &store.Template{Name: "scale", ContentType: "text", Content: "Your code is {{code}}", Variables: []string{"code"}}
	require.NoError(t, db.CreateTemplate(ctx, tpl))
	ch := &store.Channel{Name: "scale-sms", Type: store.ChannelSMS, TemplateID: &tpl.ID, SignatureNames: []string{benchSignName},
		Enabled: true, ReceiptTimeoutSeconds: 60, MaxAttempts: 5}
	require.NoError(t, db.CreateChannel(ctx, ch))
	require.NoError(t, db.GrantChannel(ctx, app.ID, ch.ID))
	cfg, err := json.Marshal(map[string]any{
		"access_key_id": aliyunfake.DefaultAccessKeyID, "access_key_secret": aliyunfake.DefaultAccessKeySecret,
		"sign_name": benchSignName, "endpoint": fake.Endpoint(), "protocol": "http", "timeout_seconds": 10,
	})
	require.NoError(t, err)
	acc := &store.ProviderAccount{Name: "scale-aliyun", Kind: "aliyun", Config: cfg, Weight: 1, Enabled: true, CallbackToken: randomHex8()}
	require.NoError(t, db.CreateAccount(ctx, acc))
	require.NoError(t, db.SetPoolMember(ctx, ch.ID, acc.ID, 1))
	require.NoError(t, db.UpsertTemplateMapping(ctx, &store.TemplateMapping{TemplateID: tpl.ID, AccountID: acc.ID, ProviderCode: benchTemplateCode}))
	fake.SetCallback(activities.CallbackURL(apiURL, acc.Kind, acc.ID, acc.CallbackToken))
	return apiclient.New(apiURL, app.ID, secret, apiclient.WithHTTPClient(&http.Client{Timeout: 30 * time.Minute})), ch.ID
}

// nationalNumber is a mainland number without its country code, however
// it was written (+86…, 86…, bare).
func nationalNumber(phone string) string {
	p := strings.TrimPrefix(phone, "+")
	if len(p) == 13 && strings.HasPrefix(p, "86") {
		return p[2:]
	}
	return p
}
