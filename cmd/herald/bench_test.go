package main

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestBenchOptionsValidate(t *testing.T) {
	t.Parallel()
	valid := func() *benchOptions {
		return &benchOptions{scenario: benchScenarioBatch, count: 1, concurrency: 1, rounds: 1, sample: 1,
			receivers: 10, batchTimeout: time.Minute}
	}
	require.NoError(t, valid().Validate())
	for name, tc := range map[string]struct {
		edit func(*benchOptions)
		want string
	}{
		"ErrScenario":      {func(o *benchOptions) { o.scenario = "bulk" }, "--scenario"},
		"ErrReceivers":     {func(o *benchOptions) { o.receivers = benchMaxReceivers + 1 }, "--receivers"},
		"ErrNoReceivers":   {func(o *benchOptions) { o.receivers = 0 }, "--receivers"},
		"ErrReceiptDelay":  {func(o *benchOptions) { o.receiptDelay = -time.Second }, "--receipt-delay"},
		"ErrBatchTimeout":  {func(o *benchOptions) { o.batchTimeout = 0 }, "--batch-timeout"},
		"ErrWatchPID":      {func(o *benchOptions) { o.watchPIDs = []int{0} }, "--watch-pid"},
		"ErrEveryProblem":  {func(o *benchOptions) { o.scenario, o.count = "x", 0 }, "--count"},
		"ErrCountInSingle": {func(o *benchOptions) { o.scenario, o.count = benchScenarioSingle, 0 }, "--count"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			o := valid()
			tc.edit(o)
			err := o.Validate()
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestPeakRSS(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc on this system")
	}
	rss, err := peakRSS(os.Getpid())
	require.NoError(t, err)
	require.Greater(t, rss, int64(1<<20), "a Go test process holds more than a MiB")
	_, err = peakRSS(-1)
	require.Error(t, err)
}

// TestBenchBatchScenario runs the batch scenario small: a batch through the
// Aliyun fake, single sends through the same channel, and the figures
// printed. It runs on PostgreSQL and Redis when they answer, as
// --database-url and --redis-url would.
func TestBenchBatchScenario(t *testing.T) {
	t.Parallel()
	dbURL, drop, err := testDatabase()
	require.NoError(t, err)
	t.Cleanup(drop)
	o := &benchOptions{
		scenario: benchScenarioBatch, receivers: 40, count: 3, concurrency: 3, warmup: 1, sample: 3, rounds: 1,
		receiptDelay: 2 * time.Second, batchTimeout: 3 * time.Minute, redisURL: testRedisURL(),
		watchPIDs: []int{os.Getpid()},
	}
	if strings.HasPrefix(dbURL, "postgres") {
		o.databaseURL = dbURL
	}
	require.NoError(t, o.Validate())
	var out, errOut bytes.Buffer
	require.NoError(t, runBench(context.Background(), &out, &errOut, o), errOut.String())
	got := out.String()
	t.Log("\n" + got)
	require.Contains(t, got, "40 accepted, 0 rejected")
	require.Contains(t, got, "(success 40)")
	for _, line := range []string{`batch rate\s+\d+\.\d receivers/s`, `single-send rate\s+\d+\.\d sends/s`,
		`ratio batch/single\s+\d+\.\d\d`, `transitions/receiver\s+\d+\.\d\d`, `transitions/send\s+\d+\.\d`,
		`pid \d+\s+\d+ MiB\s+this process`, `pid \d+\s+\d+ MiB\s+--watch-pid`} {
		require.Regexp(t, regexp.MustCompile(line), got)
	}
}

// Paced sends start on their schedule, not when the ones before them end.
func TestBenchPacedIsAnOpenLoop(t *testing.T) {
	t.Parallel()
	var (
		mu     sync.Mutex
		starts []time.Time
	)
	release := make(chan struct{})
	send := func(context.Context) (string, time.Duration, func() error, error) {
		mu.Lock()
		starts = append(starts, time.Now())
		mu.Unlock()
		// Every send waits until all have started: a closed loop of one
		// in flight would never get past the first.
		return "id", time.Millisecond, func() error { <-release; return nil }, nil
	}
	const n, spacing = 5, 50 * time.Millisecond
	go func() {
		for {
			mu.Lock()
			all := len(starts) == n
			mu.Unlock()
			if all {
				close(release)
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	r, err := benchPaced(t.Context(), nil, "paced", send, n, n, 0, spacing)
	require.NoError(t, err)
	require.Len(t, r.accept, n)
	require.Len(t, starts, n)
	for i := 1; i < n; i++ {
		require.GreaterOrEqual(t, starts[i].Sub(starts[0]), time.Duration(i)*spacing-5*time.Millisecond, "send %d started early", i)
	}
}
