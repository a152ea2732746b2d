package providertest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/providers/httpsend"
	"github.com/heraldhq/herald/providers/providertest"
)

// vendorProvider is a small HTTP provider built for these tests: it posts
// the message's content to url and takes {"ok":true} as acceptance. With
// timeoutIsTransient it makes the mistake the suite exists to catch: a
// request that was written and then timed out is classified as safe to
// send again.
type vendorProvider struct{ timeoutIsTransient bool }

type vendorConfig struct {
	URL       string `json:"url"`
	TimeoutMS int    `json:"timeout_ms"`
}

func (vendorProvider) Kind() string { return "vendor" }

func (vendorProvider) ReceiptHandler() providers.ReceiptHandler { return nil }

func (vendorProvider) ValidateConfig(raw json.RawMessage) error {
	_, err := parseVendorConfig(raw)
	return err
}

func parseVendorConfig(raw json.RawMessage) (vendorConfig, error) {
	var cfg vendorConfig
	problems := providers.DecodeConfig(raw, map[string]providers.ConfigField{
		"url":        {Into: &cfg.URL, Want: "a string"},
		"timeout_ms": {Into: &cfg.TimeoutMS, Want: "an integer"},
	})
	if !strings.HasPrefix(cfg.URL, "http://") {
		problems = append(problems, "url must be an http URL")
	}
	if cfg.TimeoutMS < 1 {
		problems = append(problems, "timeout_ms must be positive")
	}
	if len(problems) > 0 {
		return vendorConfig{}, fmt.Errorf("invalid vendor config: %s", strings.Join(problems, "; "))
	}
	return cfg, nil
}

func (p vendorProvider) NewSender(acc providers.Account) (providers.Sender, error) {
	cfg, err := parseVendorConfig(acc.Config)
	if err != nil {
		return nil, err
	}
	return vendorSender{p: p, url: cfg.URL, client: &http.Client{Timeout: time.Duration(cfg.TimeoutMS) * time.Millisecond}}, nil
}

type vendorSender struct {
	p      vendorProvider
	url    string
	client *http.Client
}

func (s vendorSender) Send(ctx context.Context, msg providers.Message) (providers.Result, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, strings.NewReader(msg.Content))
	if err != nil {
		return providers.Result{}, err
	}
	resp, wrote, err := httpsend.Do(s.client, req)
	if err != nil {
		pe := httpsend.Classify(err, wrote, "the vendor")
		if s.p.timeoutIsTransient && pe.Code == httpsend.CodeTimeout {
			pe.Class = providers.ClassTransient
		}
		return providers.Result{}, pe
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	switch {
	case resp.StatusCode != http.StatusOK:
		return providers.Result{}, providers.Errorf(providers.ClassTransient, "HTTP_"+strconv.Itoa(resp.StatusCode), "the vendor answered HTTP %d", resp.StatusCode)
	case err != nil || string(body) != `{"ok":true}`:
		return providers.Result{}, providers.Errorf(providers.ClassUnknownOutcome, "BAD_ANSWER", "the vendor's answer cannot be read")
	}
	return providers.Result{ProviderMessageID: "m-1"}, nil
}

func vendorSuite(t *testing.T, p vendorProvider) providertest.Suite {
	return providertest.Suite{
		Provider:  p,
		Transport: providertest.HTTP,
		Config: func(v providertest.Vendor) json.RawMessage {
			return providertest.JSON(t, vendorConfig{URL: v.URL + "/send", TimeoutMS: v.TimeoutMS()})
		},
		Message:     providers.Message{TaskID: "t-1", Attempt: 1, Content: "hi"},
		BadConfig:   json.RawMessage(`{"url":"ftp://x","timeout_ms":0,"retries":1}`),
		BadProblems: []string{`unknown field "retries"`, "url must be an http URL", "timeout_ms must be positive"},
	}
}

// TestSuitePassesACorrectProvider is the control for
// TestSuiteFailsABrokenProvider: the same provider without its mistake
// passes every case.
func TestSuitePassesACorrectProvider(t *testing.T) {
	t.Parallel()
	providertest.Run(t, vendorSuite(t, vendorProvider{}))
}

// brokenChild is set in the environment of the test binary that
// TestSuiteFailsABrokenProvider runs: there the suite runs against the
// broken provider, and its failures are the expected result.
const brokenChild = "HERALD_PROVIDERTEST_BROKEN_CHILD"

// TestSuiteFailsABrokenProvider runs the suite against a provider that
// takes a timeout after the request was written for a transient failure,
// in a test binary of its own (a failing subtest cannot be observed from
// inside the test that runs it), and checks that exactly the two timeout
// cases fail.
func TestSuiteFailsABrokenProvider(t *testing.T) {
	if os.Getenv(brokenChild) == "1" {
		providertest.Run(t, vendorSuite(t, vendorProvider{timeoutIsTransient: true}))
		return
	}
	t.Parallel()
	cmd := exec.Command(os.Args[0], "-test.run=^TestSuiteFailsABrokenProvider$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), brokenChild+"=1")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	require.True(t, errors.As(err, &exit), "the suite passed a broken provider: %v\n%s", err, out)

	const name = "TestSuiteFailsABrokenProvider/"
	for _, failed := range []string{"TimeoutAfterWriteIsUnknownOutcome", "DeadlineAfterWriteIsUnknownOutcome"} {
		require.Contains(t, string(out), "--- FAIL: "+name+failed+" ", "output:\n%s", out)
	}
	for _, passed := range []string{"ValidConfig", "ConfigErrorsListEveryProblem", "CancelledBeforeSendIsTransient",
		"OnUnknownOutcome", "ConnectionRefusedIsTransient", "MalformedAnswersAreClassified"} {
		require.Contains(t, string(out), "--- PASS: "+name+passed+" ", "output:\n%s", out)
	}
	require.Contains(t, string(out), `expected: "unknown_outcome"`, "the failure names the class the workflow needs")
}

// recorder is a require.TestingT that records a failure instead of
// failing the test that uses it.
type recorder struct {
	mu     sync.Mutex
	failed bool
	msgs   []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed = true
	r.msgs = append(r.msgs, fmt.Sprintf(format, args...))
}

// FailNow ends the goroutine, as testing.T's does; run calls check on a
// goroutine of its own for that reason.
func (r *recorder) FailNow() {
	r.mu.Lock()
	r.failed = true
	r.mu.Unlock()
	runtime.Goexit()
}

func (r *recorder) run(check func(require.TestingT)) *recorder {
	done := make(chan struct{})
	go func() {
		defer close(done)
		check(r)
	}()
	<-done
	return r
}

func TestCheckReceipts(t *testing.T) {
	t.Parallel()
	ok := providers.Receipt{ProviderMessageID: "m-1", Receiver: "+8613800138000", Status: providers.ReceiptDelivered, At: time.Now()}
	with := func(change func(*providers.Receipt)) []providers.Receipt {
		r := ok
		change(&r)
		return []providers.Receipt{r}
	}
	for _, tc := range []struct {
		name      string
		receipts  []providers.Receipt
		n         int
		perReport int
		// fails is a part of the failure's text; empty means it passes.
		fails string
	}{
		{"Valid", []providers.Receipt{ok}, 40, 1, ""},
		{"None", nil, 0, 1, ""},
		{"Pending", with(func(r *providers.Receipt) { r.Status = providers.ReceiptPending }), 40, 1, "a pushed receipt has a final status"},
		{"NoStatus", with(func(r *providers.Receipt) { r.Status = "" }), 40, 1, "a pushed receipt has a final status"},
		{"NoID", with(func(r *providers.Receipt) { r.ProviderMessageID = "" }), 40, 1, "a receipt has an id"},
		{"MoreReceiptsThanTheInputHolds", []providers.Receipt{ok, ok, ok}, 3, 1, "more receipts than 3 bytes hold"},
		{"TwoPerReport", []providers.Receipt{ok, ok, ok, ok}, 3, 2, "more text than 3 bytes carry"},
		{"MoreTextThanTheInputCarries", with(func(r *providers.Receipt) { r.Description = strings.Repeat("x", 200) }), 40, 1, "more text than 40 bytes carry"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := (&recorder{}).run(func(rt require.TestingT) {
				providertest.CheckReceipts(rt, tc.receipts, tc.n, tc.perReport)
			})
			if tc.fails == "" {
				require.False(t, rec.failed, "failures: %v", rec.msgs)
				return
			}
			require.True(t, rec.failed, "the check passed")
			require.Contains(t, strings.Join(rec.msgs, "\n"), tc.fails)
		})
	}
}
