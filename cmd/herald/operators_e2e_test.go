package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/api/admin/messages"
	"github.com/heraldhq/herald/api/apiclient"
	"github.com/heraldhq/herald/internal/adminclient"
	"github.com/heraldhq/herald/internal/stats"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/workflows"
)

// operatorCLI runs herald commands in process against one harness, with
// one credentials file.
type operatorCLI struct {
	t     *testing.T
	env   map[string]string
	creds string
}

// run runs args and returns the result whatever the exit code.
func (o *operatorCLI) run(stdin string, args ...string) cliResult {
	o.t.Helper()
	return runCLIInput(o.t, o.env, stdin, args...)
}

// ok runs args and requires exit code 0.
func (o *operatorCLI) ok(stdin string, args ...string) string {
	o.t.Helper()
	res := o.run(stdin, args...)
	require.Equal(o.t, 0, res.code, "herald %s: %s", strings.Join(args, " "), res.stderr)
	return res.stdout
}

// json runs an admin command with --credentials and -o json and decodes
// its output into out.
func (o *operatorCLI) json(out any, args ...string) {
	o.t.Helper()
	stdout := o.ok("", append(args, "--credentials", o.creds, "-o", "json")...)
	require.NoError(o.t, json.Unmarshal([]byte(stdout), out), stdout)
}

// login signs in as user and returns an API client with the same sign-in.
func (o *operatorCLI) login(url, user, password string) *adminclient.Client {
	o.t.Helper()
	out := o.ok(password+"\n", "login", "--url", url, "--username", user, "--password-stdin", "--credentials", o.creds)
	require.Contains(o.t, out, " as "+user+" (")
	creds, err := adminclient.Load(o.creds)
	require.NoError(o.t, err)
	return adminclient.New(creds, o.creds, nil)
}

// listMessages lists the app's messages through `herald messages list`.
func (o *operatorCLI) listMessages(appID string) []messages.MessageView {
	o.t.Helper()
	var page messages.ListResponse
	o.json(&page, "messages", "list", "--app", appID, "--limit", "500")
	return page.Items
}

// waitMessages polls `herald messages list` until done says the list is
// what the test waits for.
func (o *operatorCLI) waitMessages(appID string, what string, done func([]messages.MessageView) bool) []messages.MessageView {
	o.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		items := o.listMessages(appID)
		if done(items) {
			return items
		}
		if time.Now().After(deadline) {
			raw, _ := json.MarshalIndent(items, "", "  ")
			o.t.Fatalf("waiting for %s; messages now:\n%s", what, raw)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

func requireStatus(t *testing.T, err error, status int) {
	t.Helper()
	var ae *adminclient.Error
	require.True(t, errors.As(err, &ae), "want an API error with status %d, got %v", status, err)
	require.Equal(t, status, ae.Status, ae.Error())
}

// TestOperatorsEndToEnd runs the operators' whole day against a running
// Herald: an admin signs in, creates an app and grants it a channel, the
// app sends, sends fail on a broken provider account, the admin re-drives
// them by query to a healthy account, dry-runs a rule, reads statistics
// and the audit log; then a viewer is refused every write and sees
// receivers masked. The harness is its own, so counts are exact.
func TestOperatorsEndToEnd(t *testing.T) {
	h, err := startHarness(harnessOptions{worker: true})
	require.NoError(t, err)
	t.Cleanup(h.close)
	ctx := t.Context()

	// The channel starts with a pool of one account, which fails every
	// send (transient, but one attempt is all the channel allows).
	f := h.fixture(t)
	tpl := f.template("Your code is {{code}}", "code")
	ch := f.channel(store.ChannelSMS, tpl, func(c *store.Channel) { c.MaxAttempts = 1 })
	broken := f.account(ch, "sandbox", map[string]any{
		"latency_ms": 5, "failure_rate": 1, "failure_class": "transient", "failure_code": "E2E_DOWN",
	}, 1)

	o := &operatorCLI{t: t, creds: filepath.Join(t.TempDir(), "credentials.json"), env: map[string]string{
		"HERALD_DATABASE_URL": h.cfg.Database.URL, "HERALD_MASTER_KEY": h.cfg.MasterKey, "USER": "e2e",
	}}
	require.Equal(t, "created user olga (id 1, role admin)\n",
		o.ok("olga's admin passphrase\n", "admin", "user", "create", "olga", "--role", "admin", "--password-stdin"))
	o.ok("vera's viewer passphrase\n", "admin", "user", "create", "vera", "--role", "viewer", "--password-stdin")

	// ---- As admin.
	adm := o.login(h.apiURL, "olga", "olga's admin passphrase")

	var app struct {
		ID      string   `json:"id"`
		Secret  string   `json:"secret"`
		Grants  []string `json:"grants"`
		Version int64    `json:"version"`
	}
	o.json(&app, "apps", "create", "--id", "e2e-shop", "--name", "Shop", "--grants", ch.Name)
	require.Equal(t, "e2e-shop", app.ID)
	require.Equal(t, []string{ch.Name}, app.Grants)
	require.Len(t, app.Secret, 64, "the new secret is shown once, in full")
	client := apiclient.New(h.apiURL, app.ID, app.Secret)

	receivers := []string{"+8613800138001", "+8613800138002", "+8613800138003"}
	var sent []string
	for _, r := range receivers {
		res, err := client.SendMessage(ctx, apiclient.SendMessageRequest{
			ChannelID: ch.ID, Receiver: r, TemplateParams: map[string]string{"code": "4321"},
		})
		require.NoError(t, err)
		sent = append(sent, res.TaskID)
	}
	failed := o.waitMessages(app.ID, "three failed sends", func(ms []messages.MessageView) bool {
		return len(ms) == 3 && !slices.ContainsFunc(ms, func(m messages.MessageView) bool { return m.Status != workflows.StatusFailed })
	})
	byTask := map[string]messages.MessageView{}
	for _, m := range failed {
		byTask[m.TaskID] = m
		require.Equal(t, app.ID, m.AppID)
		require.Equal(t, ch.ID, m.ChannelID)
		require.NotNil(t, m.AccountID)
		require.Equal(t, broken.ID, *m.AccountID)
		require.Equal(t, 1, m.AttemptCount)
		require.True(t, slices.Contains(receivers, m.Receiver), "an admin sees receivers in full: %q", m.Receiver)
	}
	for _, id := range sent {
		require.Contains(t, byTask, id)
	}
	// The list filters by status and by exact receiver too.
	var page messages.ListResponse
	o.json(&page, "messages", "list", "--app", app.ID, "--status", "failed", "--receiver", receivers[1])
	require.Len(t, page.Items, 1)
	require.Equal(t, receivers[1], page.Items[0].Receiver)

	// A healthy account joins the pool through the admin API.
	var healthy struct {
		ID   int64  `json:"id"`
		Name string `json:"name"`
	}
	require.NoError(t, adm.Do(ctx, http.MethodPost, "/accounts", nil, map[string]any{
		"name": "e2e-healthy", "kind": "sandbox", "weight": 1,
		"config": map[string]any{"latency_ms": 5, "receipt_delay_ms": 50},
	}, &healthy))
	require.NotZero(t, healthy.ID)
	var chView struct {
		Version int64 `json:"version"`
		Pool    []struct {
			Account string `json:"account"`
		} `json:"pool"`
	}
	chPath := "/channels/" + strconv.FormatInt(ch.ID, 10)
	require.NoError(t, adm.Do(ctx, http.MethodGet, chPath, nil, nil, &chView))
	// The send path has the one-account pool cached; the admin API's
	// write must reach it at once, or a re-drive forced onto the new
	// account right after fails every resend.
	pool, err := h.db.ChannelPool(ctx, ch.ID)
	require.NoError(t, err)
	require.Len(t, pool, 1)
	require.NoError(t, adm.Do(ctx, http.MethodPatch, chPath, nil, map[string]any{
		"version": chView.Version,
		"pool":    []map[string]any{{"account": broken.Name, "weight": 1}, {"account": healthy.Name, "weight": 1}},
	}, &chView))
	require.Len(t, chView.Pool, 2)
	pool, err = h.db.ChannelPool(ctx, ch.ID)
	require.NoError(t, err)
	require.Len(t, pool, 2, "the send path sees the admin API's change at once")

	// Re-drive the failures by query, forced onto the healthy account.
	var rd messages.RedriveView
	o.json(&rd, "messages", "redrive", "--status", "failed", "--app", app.ID, "--since", "1h",
		"--account", strconv.FormatInt(healthy.ID, 10), "--poll", "100ms")
	require.Equal(t, store.RedriveDone, rd.Status)
	require.Equal(t, 3, rd.Matched)
	require.Equal(t, 3, rd.Resent)
	require.Equal(t, 0, rd.Skipped)
	require.Equal(t, 0, rd.Failed)
	require.Equal(t, "user:olga", rd.CreatedBy)

	all := o.waitMessages(app.ID, "three resends delivered", func(ms []messages.MessageView) bool {
		n := 0
		for _, m := range ms {
			if m.RedrivenFrom != "" && m.Status == workflows.StatusSuccess {
				n++
			}
		}
		return len(ms) == 6 && n == 3
	})
	resentAs := map[string]string{}
	for _, m := range all {
		if m.RedrivenFrom == "" {
			require.Equal(t, workflows.StatusFailed, m.Status)
			require.NotEmpty(t, m.RedrivenTo)
			resentAs[m.TaskID] = m.RedrivenTo
			continue
		}
		require.Equal(t, healthy.ID, *m.AccountID, "the re-drive forced the healthy account")
		require.Equal(t, byTask[m.RedrivenFrom].Receiver, m.Receiver)
	}
	require.Len(t, resentAs, 3)
	// The client tracking the first id learns where it went.
	for orig, re := range resentAs {
		msg, err := client.GetMessage(ctx, orig)
		require.NoError(t, err)
		require.NotNil(t, msg.RedrivenTo)
		require.Equal(t, re, *msg.RedrivenTo)
		require.Equal(t, workflows.StatusSuccess, waitFinal(t, client, re).Status)
	}

	// The original's detail shows its failed attempt and where it went.
	var detail messages.DetailResponse
	o.json(&detail, "messages", "show", sent[0])
	require.Equal(t, workflows.StatusFailed, detail.Status)
	require.Equal(t, resentAs[sent[0]], detail.RedrivenTo)
	require.Equal(t, "Your code is 4321", detail.Content)
	require.NotEmpty(t, detail.Timeline)
	require.True(t, slices.ContainsFunc(detail.Timeline, func(e messages.EventView) bool { return e.Code == "E2E_DOWN" }), "%+v", detail.Timeline)
	require.Empty(t, detail.TemporalURL, "the harness runs Temporal without its UI and sets no UI URL")

	// The same query again finds only messages resent already.
	o.json(&rd, "messages", "redrive", "--status", "failed", "--app", app.ID, "--since", "1h",
		"--account", strconv.FormatInt(healthy.ID, 10), "--poll", "100ms")
	require.Equal(t, store.RedriveDone, rd.Status)
	require.Equal(t, 3, rd.Matched)
	require.Equal(t, 0, rd.Resent)
	require.Equal(t, 3, rd.Skipped)

	// A draft rule that alerts on these failures: the three recorded
	// decisions would change, and nothing is stored.
	var dry messages.DryRunResult
	require.NoError(t, adm.Do(ctx, http.MethodPost, "/rules/dry-run", nil, messages.DryRunRequest{
		Rules: []messages.DraftRule{{
			Name: "alert-on-e2e-down", Scene: "send_failure", ProviderKind: "sandbox", ErrorCodes: "E2E_DOWN",
			Action: "alert", ThenAction: "fail",
		}},
		Since: "1h",
	}, &dry))
	require.Equal(t, 3, dry.Considered, "%+v", dry)
	require.Equal(t, 3, dry.Changed, "%+v", dry)
	require.Len(t, dry.Changes, 1)
	require.Equal(t, "fail", dry.Changes[0].From)
	require.Equal(t, "fail and alert", dry.Changes[0].To)
	require.Equal(t, 3, dry.Changes[0].Count)
	require.Len(t, dry.Samples, 3)
	for _, s := range dry.Samples {
		require.Contains(t, byTask, s.TaskID)
		require.Equal(t, "E2E_DOWN", s.Code)
		require.Equal(t, "alert-on-e2e-down", s.ToRule)
	}
	rules, err := h.db.ListRules(ctx, "send_failure")
	require.NoError(t, err)
	require.Empty(t, rules, "a dry run stores nothing")

	// Statistics: six accepted, three failed, three delivered, through
	// the API and through herald stats.
	now := time.Now().UTC()
	q := url.Values{
		"from": {now.Add(-2 * time.Hour).Truncate(time.Hour).Format(time.RFC3339)}, "to": {now.Truncate(time.Hour).Add(time.Hour).Format(time.RFC3339)},
		"interval": {"hour"}, "group_by": {"app"},
	}
	var rep stats.Report
	require.NoError(t, adm.Do(ctx, http.MethodGet, "/stats", q, nil, &rep))
	checkStats := func(rep stats.Report, key string) {
		t.Helper()
		require.Len(t, rep.Series, 1, "%+v", rep)
		s := rep.Series[0]
		require.Equal(t, key, s.Key)
		require.Equal(t, int64(6), s.Total.Accepted)
		require.Equal(t, int64(3), s.Total.Success)
		require.Equal(t, int64(3), s.Total.Failed)
		require.Equal(t, int64(6), s.Total.SMSSegments)
		require.NotNil(t, s.Total.SuccessRate)
		require.InDelta(t, 0.5, *s.Total.SuccessRate, 1e-9)
	}
	checkStats(rep, app.ID)
	o.json(&rep, "stats", "--by", "account", "--since", "3h")
	require.Len(t, rep.Series, 2, "%+v", rep)
	byAccount := map[string]stats.Figures{}
	for _, s := range rep.Series {
		byAccount[s.Key] = s.Total
	}
	require.Equal(t, int64(3), byAccount[strconv.FormatInt(broken.ID, 10)].Failed, "%+v", rep)
	require.Equal(t, int64(3), byAccount[strconv.FormatInt(healthy.ID, 10)].Success, "%+v", rep)
	o.json(&rep, "stats", "--by", "app", "--since", "3h")
	checkStats(rep, app.ID)
	// The app reads the same figures of its own messages, signed.
	q.Del("group_by")
	rep = stats.Report{}
	require.NoError(t, client.Stats(ctx, q, &rep))
	checkStats(rep, "all")

	// The audit log holds every write of it, by its actor.
	var audit auditPage
	o.json(&audit, "audit", "--actor", "user:olga", "--limit", "500")
	actions := map[string]int{}
	for _, r := range audit.Items {
		actions[r.Action]++
		require.Equal(t, "127.0.0.1", r.ClientIP, "%+v", r)
	}
	require.Equal(t, map[string]int{
		"user.login": 1, "app.create": 1, "app.grants": 1, "account.create": 1, "channel.pool": 1,
		"redrive.start": 2, "message.redrive": 3,
	}, actions)
	for _, r := range audit.Items {
		switch r.Action {
		case "channel.pool":
			require.Equal(t, strconv.FormatInt(ch.ID, 10), r.ObjectID)
		case "message.redrive":
			require.Contains(t, resentAs, r.ObjectID)
			require.Equal(t, []any{"", resentAs[r.ObjectID]}, r.Diff["redriven_to"])
		case "account.create":
			require.NotContains(t, string(mustJSON(t, r.Diff)), "receipt_delay", "account configs stay out of the log")
		}
	}
	o.json(&audit, "audit", "--action", "user.create")
	require.Len(t, audit.Items, 2)
	require.Equal(t, "cli:e2e", audit.Items[0].Actor)

	// ---- As viewer.
	o.ok("", "logout", "--credentials", o.creds)
	viewer := o.login(h.apiURL, "vera", "vera's viewer passphrase")

	res := o.run("", "apps", "create", "--id", "e2e-other", "--grants", ch.Name, "--credentials", o.creds)
	require.Equal(t, 1, res.code)
	require.Contains(t, res.stderr, "role viewer may not do this")
	res = o.run("", "messages", "redrive", "--status", "failed", "--app", app.ID, "--credentials", o.creds)
	require.Equal(t, 1, res.code)
	require.Contains(t, res.stderr, "role viewer may not do this")
	res = o.run("", "messages", "resend", sent[0], "--credentials", o.creds)
	require.Equal(t, 1, res.code)
	require.Contains(t, res.stderr, "role viewer may not do this")
	res = o.run("", "audit", "--credentials", o.creds)
	require.Equal(t, 1, res.code)
	require.Contains(t, res.stderr, "role viewer may not do this")

	for _, w := range []struct {
		method, path string
		body         any
	}{
		{http.MethodPost, "/apps", map[string]any{"id": "e2e-other"}},
		{http.MethodPost, "/apps/" + app.ID + "/disable", nil},
		{http.MethodPatch, chPath, map[string]any{"version": chView.Version, "pool": []map[string]any{{"account": healthy.Name}}}},
		{http.MethodPost, "/accounts", map[string]any{"name": "e2e-x", "kind": "sandbox"}},
		{http.MethodPost, "/messages/redrive", map[string]any{"filter": map[string]any{"status": "failed"}}},
		{http.MethodPost, "/messages/" + sent[0] + "/resend", nil},
		{http.MethodPost, "/messages/" + resentAs[sent[0]] + "/cancel", nil},
		{http.MethodPost, "/rules/dry-run", map[string]any{"rules": []any{}}},
		{http.MethodPost, "/rules", map[string]any{"name": "x", "scene": "send_failure", "action": "fail"}},
	} {
		err := viewer.Do(ctx, w.method, w.path, nil, w.body, nil)
		requireStatus(t, err, http.StatusForbidden)
	}

	// The viewer still reads: the same messages, receivers masked.
	masked := o.listMessages(app.ID)
	require.Len(t, masked, 6)
	for _, m := range masked {
		require.NotContains(t, receivers, m.Receiver)
		require.Contains(t, m.Receiver, "****", m.Receiver)
		require.True(t, strings.HasPrefix(m.Receiver, "+86138"), m.Receiver)
	}
	o.json(&detail, "messages", "show", sent[0])
	require.NotContains(t, receivers, detail.Receiver)
	require.Contains(t, detail.Receiver, "****")
	require.Equal(t, "[17 characters hidden]", detail.Content)
	// The refusals changed nothing.
	var appNow struct {
		Enabled bool `json:"enabled"`
	}
	require.NoError(t, viewer.Do(ctx, http.MethodGet, "/apps/"+app.ID, nil, nil, &appNow))
	require.True(t, appNow.Enabled)
	recs, err := h.db.ListAudit(context.Background(), store.AuditFilter{Actor: "user:vera", Limit: 500})
	require.NoError(t, err)
	for _, r := range recs {
		require.Equal(t, "user.login", r.Action, "a viewer's refused writes leave no audit record but the login")
	}
}
