package main

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/api/apiclient"
	"github.com/heraldhq/herald/providers/tencent/tencentfake"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/workflows"
)

// testBreakerSettings are small thresholds, set on the accounts the way
// herald apply sets them, so the test runs in seconds.
const testBreakerSettings = `{"min_failures":5,"failure_ratio":0.5,"window_seconds":10,"cool_down_seconds":20,"probes":1,"close_after":1}`

// breakerState reads an account's published breaker state from the store
// itself, not the cache.
func breakerState(t *testing.T, h *harness, accountID int64) store.BreakerState {
	t.Helper()
	states, err := h.s.db.ListBreakerStates(context.Background())
	require.NoError(t, err)
	for _, st := range states {
		if st.AccountID == accountID {
			return st
		}
	}
	return store.BreakerState{}
}

func waitBreaker(t *testing.T, h *harness, accountID int64, state string, within time.Duration) time.Duration {
	t.Helper()
	began := time.Now()
	require.Eventually(t, func() bool { return breakerState(t, h, accountID).State == state }, within, 50*time.Millisecond,
		"breaker of account %d never became %s (is %q)", accountID, state, breakerState(t, h, accountID).State)
	return time.Since(began)
}

// sendAll sends n messages to phone and returns their task ids.
func sendAll(t *testing.T, c *apiclient.Client, ch *store.Channel, n int, phone string) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range n {
		res, err := c.SendMessage(context.Background(), apiclient.SendMessageRequest{
			ChannelID: ch.ID, Receiver: phone, TemplateParams: map[string]string{"code": fmt.Sprint(1000 + i)},
		})
		require.NoError(t, err)
		ids[i] = res.TaskID
	}
	return ids
}

// firstAccountsOf waits for the tasks to end delivered and returns the
// account of each one's first attempt.
func firstAccountsOf(t *testing.T, c *apiclient.Client, ids []string) []int64 {
	t.Helper()
	out := make([]int64, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() {
			msg := waitFinal(t, c, id)
			require.Equal(t, workflows.StatusSuccess, msg.Status, msg.LastError)
			_, events := eventKinds(t, c, id)
			for _, e := range events {
				if e.Kind == workflows.EventAttempt && e.AccountID != nil {
					out[i] = *e.AccountID
					break
				}
			}
		})
	}
	wg.Wait()
	return out
}

// firstAccounts sends n messages and returns the account of each one's
// first attempt, once all have ended.
func firstAccounts(t *testing.T, c *apiclient.Client, ch *store.Channel, n int, phone string) []int64 {
	t.Helper()
	return firstAccountsOf(t, c, sendAll(t, c, ch, n, phone))
}

func countOf(ids []int64, id int64) int {
	n := 0
	for _, v := range ids {
		if v == id {
			n++
		}
	}
	return n
}

// TestBreakerSkipsFailingAccount runs the breaker end to end: one account
// failing every send, one healthy, equally weighted. Once the failing
// account's breaker opens, new messages keep off it; once it recovers, it
// is back in rotation within the cool-down plus its probes.
func TestBreakerSkipsFailingAccount(t *testing.T) {
	t.Parallel()
	h := sharedHarness(t)
	f := h.fixture(t)
	bad := tencentfake.New(t, tencentfake.WithTemplate("1001", 1))
	good := tencentfake.New(t, tencentfake.WithTemplate("1001", 1))
	bad.AutoReceipt(50*time.Millisecond, tencentfake.Success)
	good.AutoReceipt(50*time.Millisecond, tencentfake.Success)
	// Every send through the failing account is refused for the account's
	// balance, until it recovers.
	const phone = "+8613955550001"
	bad.PerNumberCode(phone, "FailedOperation.InsufficientBalanceInSmsPackage")
	tpl := f.template("Your code is {{code}}", "code")
	ch := f.channel(store.ChannelSMS, tpl)
	badAcc := f.tencentAccount(ch, bad, 1)
	goodAcc := f.tencentAccount(ch, good, 1)
	ctx := context.Background()
	settings := testBreakerSettings
	for _, acc := range []*store.ProviderAccount{badAcc, goodAcc} {
		require.NoError(t, h.db.UpdateAccount(ctx, acc.ID, store.AccountPatch{Breaker: &settings}))
	}
	_, c := f.app()

	// Half the first messages try the failing account, fail there, and
	// are delivered through the healthy one.
	firstIDs := sendAll(t, c, ch, 12, phone)
	waitBreaker(t, h, badAcc.ID, "open", 10*time.Second)
	// Plan loads read breaker states through the configuration cache.
	time.Sleep(store.DefaultCacheTTL + 200*time.Millisecond)
	afterIDs := sendAll(t, c, ch, 40, phone)

	first := firstAccountsOf(t, c, firstIDs)
	require.Equal(t, 6, countOf(first, badAcc.ID))
	require.Equal(t, "closed", breakerState(t, h, goodAcc.ID).State)
	// At most one probe, should the phase outlast the cool-down.
	after := firstAccountsOf(t, c, afterIDs)
	require.Less(t, countOf(after, badAcc.ID), 2, "fewer than 5%% of new messages try the open account: %v", after)

	bad.PerNumberCode(phone, "")
	recovered := time.Now()
	// Messages keep coming; the half-open account gets only its probes,
	// which succeed and close it.
	done := make(chan struct{})
	go func() {
		defer close(done)
		for time.Since(recovered) < 40*time.Second && breakerState(t, h, badAcc.ID).State != "closed" {
			firstAccounts(t, c, ch, 2, phone)
		}
	}()
	took := waitBreaker(t, h, badAcc.ID, "closed", 40*time.Second)
	<-done
	require.Less(t, took, 20*time.Second+5*time.Second, "back within the cool-down plus its probes")
	time.Sleep(store.DefaultCacheTTL + 200*time.Millisecond)
	back := firstAccounts(t, c, ch, 10, phone)
	require.Equal(t, 5, countOf(back, badAcc.ID), "back in rotation at its weight: %v", back)

	events, err := h.s.db.ListBreakerEvents(ctx, badAcc.ID)
	require.NoError(t, err)
	var path []string
	for _, e := range events {
		path = append(path, e.From+"→"+e.To)
	}
	// A probe that came while the account still failed opens it again.
	require.Equal(t, "closed→open", path[0])
	require.Equal(t, []string{"open→half_open", "half_open→closed"}, path[len(path)-2:])
	require.Equal(t, "breaker", events[0].Actor)
	require.Contains(t, events[0].Reason, "sends failed within 10s")
}

// TestBreakerCLI forces an account's breaker open through the CLI, sees
// new messages keep off it, and hands it back with auto.
func TestBreakerCLI(t *testing.T) {
	t.Parallel()
	h := sharedHarness(t)
	f := h.fixture(t)
	tpl := f.template("Your code is {{code}}", "code")
	ch := f.channel(store.ChannelSMS, tpl)
	a := f.sandboxAccount(ch, 1)
	b := f.sandboxAccount(ch, 1)
	_, c := f.app()

	cli := func(args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		args = append(args, "--database-url", h.cfg.Database.URL, "--master-key", h.cfg.MasterKey,
			"--temporal-address", h.s.devServer.FrontendAddress())
		code := run(args, &out, &errOut, func(string) string { return "" })
		require.Equal(t, 0, code, "herald %v: %s", args, errOut.String())
		return out.String()
	}
	require.Contains(t, cli("breaker", "open", a.Name, "--reason", "vendor maintenance"), "open sent")
	waitBreaker(t, h, a.ID, "open", 10*time.Second)
	st := breakerState(t, h, a.ID)
	require.True(t, st.Forced)
	list := cli("breaker", "list")
	require.Regexp(t, fmt.Sprintf(`(?m)^%d\s+%s\s+sandbox\s+open\s+\S+\s+0/0\s+yes\s+vendor maintenance$`, a.ID, a.Name), list)

	time.Sleep(store.DefaultCacheTTL + 200*time.Millisecond)
	first := firstAccounts(t, c, ch, 6, "+8613966660001")
	require.Equal(t, 6, countOf(first, b.ID), "a forced-open account gets nothing")

	cli("breaker", "auto", fmt.Sprint(a.ID), "--reason", "maintenance over")
	waitBreaker(t, h, a.ID, "half_open", 10*time.Second)
	events, err := h.s.db.ListBreakerEvents(context.Background(), a.ID)
	require.NoError(t, err)
	require.Len(t, events, 2)
	require.Equal(t, "cli", events[1].Actor)
	require.Equal(t, "maintenance over", events[1].Reason)
	history := cli("breaker", "history", a.Name)
	require.Regexp(t, `(?m)^\S+\s+closed\s+open\s+yes\s+cli\s+vendor maintenance$`, history)
	require.Regexp(t, `(?m)^\S+\s+open\s+half_open\s+no\s+cli\s+maintenance over$`, history)
	require.Contains(t, cli("breaker", "history", b.Name), "has never changed state")

	// An alert went out for each transition, naming the account.
	require.Eventually(t, func() bool { return len(h.alerts.breakerEvents(a.ID)) >= 2 }, 5*time.Second, 50*time.Millisecond)

	var errOut bytes.Buffer
	code := run([]string{"breaker", "open", "x"}, &bytes.Buffer{}, &errOut, func(string) string { return "" })
	require.Equal(t, 1, code)
	require.Contains(t, errOut.String(), "--reason is required")
}

// breakerEvents returns the herald.breaker alerts about an account.
func (a *alertSink) breakerEvents(accountID int64) []map[string]any {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []map[string]any
	for _, b := range a.bodies {
		d, ok := b["data"].(map[string]any)
		if ok && b["type"] == "herald.breaker" && d["account_id"] == float64(accountID) {
			out = append(out, b)
		}
	}
	return out
}

// TestBreakerWait sends a message while the only account of its channel
// has its breaker open: it waits, without trying the account, until the
// breaker half-opens, and goes as a probe.
func TestBreakerWait(t *testing.T) {
	t.Parallel()
	h := sharedHarness(t)
	f := h.fixture(t)
	tpl := f.template("Your code is {{code}}", "code")
	ch := f.channel(store.ChannelSMS, tpl)
	acc := f.sandboxAccount(ch, 1)
	settings := `{"min_failures":1,"failure_ratio":0.5,"window_seconds":10,"cool_down_seconds":4,"probes":1,"close_after":1}`
	require.NoError(t, h.db.UpdateAccount(context.Background(), acc.ID, store.AccountPatch{Breaker: &settings}))
	_, c := f.app()
	send := func(receiver string) string {
		res, err := c.SendMessage(context.Background(), apiclient.SendMessageRequest{
			ChannelID: ch.ID, Receiver: receiver, TemplateParams: map[string]string{"code": "1234"},
		})
		require.NoError(t, err)
		return res.TaskID
	}

	// The sandbox reports the account suspended for receivers ending in 4003.
	failed := waitFinal(t, c, send("+8613800134003"))
	require.Equal(t, workflows.StatusFailed, failed.Status)
	waitBreaker(t, h, acc.ID, "open", 10*time.Second)
	halfOpenAt := *breakerState(t, h, acc.ID).HalfOpenAt
	time.Sleep(store.DefaultCacheTTL + 200*time.Millisecond)

	taskID := send("+8613800138000")
	msg := waitFinal(t, c, taskID)
	require.Equal(t, workflows.StatusSuccess, msg.Status, msg.LastError)
	kinds, events := eventKinds(t, c, taskID)
	require.Equal(t, 1, count(kinds, workflows.EventBreakerWait), "%v", kinds)
	require.Equal(t, 1, count(kinds, workflows.EventAttempt), "one attempt, once the breaker half-opened: %v", kinds)
	for _, e := range events {
		if e.Kind == workflows.EventBreakerWait {
			require.Equal(t, workflows.CodeBreakerOpen, e.Code)
			require.Contains(t, e.Detail, "circuit breaker open")
		}
		if e.Kind == workflows.EventAttempt {
			// The API gives event times to the second.
			require.False(t, e.CreatedAt.Before(halfOpenAt.Truncate(time.Second)), "attempted at %s, before the breaker half-opened at %s", e.CreatedAt, halfOpenAt)
		}
	}
	waitBreaker(t, h, acc.ID, "closed", 10*time.Second)
	recordHistory(t, h, taskID, "breaker_wait")
}
