package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/api/apiclient"
	"github.com/heraldhq/herald/internal/metrics"
	"github.com/heraldhq/herald/providers/tencent/tencentfake"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/workflows"
)

// TestMetricsAfterSends sends messages that are delivered and refused,
// scrapes /metrics from the operations listener, finds Herald's and the
// Temporal SDK's series, and finds no receiver, task id or e-mail address
// in any label.
func TestMetricsAfterSends(t *testing.T) {
	t.Parallel()
	h := sharedHarness(t)
	f := h.fixture(t)
	fake := tencentfake.New(t, tencentfake.WithTemplate("1001", 1))
	fake.AutoReceipt(50*time.Millisecond, tencentfake.Success)
	const refused = "+8613944445555"
	fake.PerNumberCode(refused, "InvalidParameterValue.IncorrectPhoneNumber")
	tpl := f.template("Your code is {{code}}", "code")
	ch := f.channel(store.ChannelSMS, tpl)
	f.tencentAccount(ch, fake, 1)
	app, c := f.app()

	receivers := []string{"+8613911112222", "+8613911113333", refused}
	var tasks []string
	for _, r := range receivers {
		res, err := c.SendMessage(context.Background(), apiclient.SendMessageRequest{
			ChannelID: ch.ID, Receiver: r, TemplateParams: map[string]string{"code": "4321"},
		})
		require.NoError(t, err)
		tasks = append(tasks, res.TaskID)
	}
	statuses := map[string]int{}
	for _, id := range tasks {
		statuses[waitFinal(t, c, id).Status]++
	}
	require.Equal(t, map[string]int{workflows.StatusSuccess: 2, workflows.StatusFailed: 1}, statuses)

	channel := strconv.FormatInt(ch.ID, 10)
	want := []struct {
		name   string
		labels map[string]string
	}{
		{metrics.MessagesAccepted, map[string]string{"app": app.ID, "channel": channel}},
		{metrics.MessagesFinished, map[string]string{"app": app.ID, "channel": channel, "provider_kind": "tencent", "status": workflows.StatusSuccess}},
		{metrics.MessagesFinished, map[string]string{"app": app.ID, "channel": channel, "provider_kind": "tencent", "status": workflows.StatusFailed}},
		{metrics.FinalLatency, map[string]string{"app": app.ID, "channel": channel, "status": workflows.StatusSuccess}},
		{metrics.SendDuration, map[string]string{"provider_kind": "tencent", "result": "accepted"}},
		{metrics.ProviderErrors, map[string]string{"provider_kind": "tencent", "class": "permanent", "code": "InvalidParameterValue.IncorrectPhoneNumber"}},
		{metrics.Receipts, map[string]string{"provider_kind": "tencent", "status": "delivered"}},
		{metrics.ReceiptLatency, map[string]string{"provider_kind": "tencent", "status": "delivered"}},
		{metrics.APIRequests, map[string]string{"method": "POST", "route": "/api/v1/messages", "code": "200"}},
		{metrics.BuildInfo, nil},
	}
	var families map[string]*dto.MetricFamily
	require.Eventually(t, func() bool {
		families = scrape(t, h.s.opsURL+"/metrics")
		for _, w := range want {
			if !hasSeries(families[w.name], w.labels) {
				return false
			}
		}
		return true
	}, 15*time.Second, 200*time.Millisecond, "expected series missing from /metrics")

	// The Temporal SDK's own series come from their own registry.
	sdk := 0
	for name := range families {
		if strings.HasPrefix(name, metrics.TemporalSDKPrefix) {
			sdk++
		}
	}
	require.Positive(t, sdk, "no Temporal SDK series")

	// No label value may be a receiver, a task id or anything like one.
	// (Other tests share the harness: their app ids are random hex, so a
	// phone number is a whole label value of digits, not a digit run.)
	personal := []*regexp.Regexp{
		regexp.MustCompile(`^\+?\d{7,15}$`),                                                    // phone numbers
		regexp.MustCompile(`[^@\s]+@[^@\s]+\.\w+`),                                             // e-mail addresses
		regexp.MustCompile(`(?i)[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`), // UUID task ids
	}
	for name, fam := range families {
		for _, m := range fam.GetMetric() {
			for _, l := range m.GetLabel() {
				for _, re := range personal {
					require.False(t, re.MatchString(l.GetValue()), "%s{%s=%q} looks like personal data or a task id", name, l.GetName(), l.GetValue())
				}
				for _, r := range receivers {
					require.NotContains(t, l.GetValue(), strings.TrimPrefix(r, "+"), "%s carries a receiver", name)
				}
				for _, id := range tasks {
					require.NotContains(t, l.GetValue(), id, "%s carries a task id", name)
				}
			}
		}
	}
}

// TestHealthcheckCommand checks the running process's operations listener
// as a container health check does, and fails where nothing answers.
func TestHealthcheckCommand(t *testing.T) {
	t.Parallel()
	h := sharedHarness(t)
	addr := strings.TrimPrefix(h.s.opsURL, "http://")

	t.Run("Up", func(t *testing.T) {
		t.Parallel()
		res := runCLI(t, nil, "healthcheck", "--addr", addr, "--timeout", "5s")
		require.Equal(t, 0, res.code, res.stderr)
		require.Contains(t, res.stdout, "is up")
	})

	t.Run("AddrFromEnvironment", func(t *testing.T) {
		t.Parallel()
		res := runCLI(t, map[string]string{"HERALD_HTTP_HEALTH_ADDR": addr}, "healthcheck")
		require.Equal(t, 0, res.code, res.stderr)
	})

	t.Run("NothingListening", func(t *testing.T) {
		t.Parallel()
		res := runCLI(t, nil, "healthcheck", "--addr", "127.0.0.1:1", "--timeout", "2s")
		require.Equal(t, 1, res.code)
		require.Contains(t, res.stderr, "health check of 127.0.0.1:1")
	})

	t.Run("BadAddr", func(t *testing.T) {
		t.Parallel()
		res := runCLI(t, nil, "healthcheck", "--addr", "nonsense")
		require.Equal(t, 1, res.code)
		require.Contains(t, res.stderr, "--addr")
	})

	t.Run("HealthBody", func(t *testing.T) {
		t.Parallel()
		resp, err := http.Get(h.s.opsURL + "/health")
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
		require.JSONEq(t, `{"status":"UP","services":{"database":"UP","redis":"UP","temporal":"UP"}}`, string(body))
	})
}

func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var p expfmt.TextParser
	families, err := p.TextToMetricFamilies(bytes.NewReader(raw))
	require.NoError(t, err)
	return families
}

func hasSeries(fam *dto.MetricFamily, labels map[string]string) bool {
	if fam == nil {
		return false
	}
series:
	for _, m := range fam.GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		for k, v := range labels {
			if got[k] != v {
				continue series
			}
		}
		return true
	}
	return false
}
