package chartcheck

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	promql "github.com/prometheus/prometheus/promql/parser"
	"github.com/stretchr/testify/require"
)

// heraldMetrics reads the series names Herald defines from the metrics
// package's source: every string constant starting with herald_.
func heraldMetrics(t *testing.T) map[string]bool {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), metricsSrc, nil, 0)
	require.NoError(t, err)
	names := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		lit, ok := n.(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			return true
		}
		if s, err := strconv.Unquote(lit.Value); err == nil && strings.HasPrefix(s, "herald_") {
			names[s] = true
		}
		return true
	})
	require.Greater(t, len(names), 10, "metric names found in %s", metricsSrc)
	return names
}

// checkMetricNames parses expr and checks that every series it selects is
// one of Herald's (histogram suffixes allowed) or the Temporal SDK's.
func checkMetricNames(t *testing.T, where, expr string, known map[string]bool) {
	t.Helper()
	p := promql.NewParser(promql.Options{})
	node, err := p.ParseExpr(expr)
	require.NoError(t, err, "%s: %s", where, expr)
	found := 0
	promql.Inspect(node, func(n promql.Node, _ []promql.Node) error {
		vs, ok := n.(*promql.VectorSelector)
		if !ok {
			return nil
		}
		found++
		name := vs.Name
		if strings.HasPrefix(name, "temporal_") {
			return nil
		}
		base := name
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if b, ok := strings.CutSuffix(name, suffix); ok && known[b] {
				base = b
			}
		}
		require.True(t, known[base], "%s uses %s, which internal/metrics does not define", where, name)
		return nil
	})
	require.Positive(t, found, "%s selects no series", where)
}

func TestAlertRules(t *testing.T) {
	t.Parallel()
	known := heraldMetrics(t)
	groups, errs := rulefmt.ParseFile(alertsFile, false, model.UTF8Validation, promql.NewParser(promql.Options{}), slog.New(slog.DiscardHandler))
	require.Empty(t, errs)
	require.NotEmpty(t, groups.Groups)

	alerts := map[string]bool{}
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			require.NotEmpty(t, r.Alert, "group %s holds only alerts", g.Name)
			alerts[r.Alert] = true
			require.Contains(t, []string{"page", "warn", "info"}, r.Labels["severity"], r.Alert)
			require.NotEmpty(t, r.Annotations["summary"], r.Alert)
			require.NotEmpty(t, r.Annotations["description"], r.Alert)
			checkMetricNames(t, r.Alert, r.Expr, known)
		}
	}
	// The objectives the operator's guide states each have an alert.
	for _, a := range []string{"HeraldDeliverySuccessLow", "HeraldFinalLatencyHigh", "HeraldBreakerOpen", "HeraldQuotaNearLimit", "HeraldNoReceipts"} {
		require.True(t, alerts[a], "alert %s", a)
	}
}

func TestDashboard(t *testing.T) {
	t.Parallel()
	known := heraldMetrics(t)
	raw, err := os.ReadFile(dashboard)
	require.NoError(t, err)
	var d struct {
		UID    string `json:"uid"`
		Title  string `json:"title"`
		Panels []struct {
			ID      int    `json:"id"`
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	require.NoError(t, json.Unmarshal(raw, &d))
	require.NotEmpty(t, d.UID)
	// Grafana's variables are not PromQL; stand-ins keep the parser happy.
	vars := strings.NewReplacer("$__rate_interval", "5m", "$app", ".*", "$channel", ".*")
	ids := map[int]bool{}
	used := map[string]bool{}
	for _, p := range d.Panels {
		require.False(t, ids[p.ID], "panel id %d repeats", p.ID)
		ids[p.ID] = true
		require.NotEmpty(t, p.Targets, p.Title)
		for _, tg := range p.Targets {
			checkMetricNames(t, "panel "+p.Title, vars.Replace(tg.Expr), known)
			for name := range known {
				if strings.Contains(tg.Expr, name) {
					used[name] = true
				}
			}
		}
	}
	for _, name := range []string{"herald_messages_accepted_total", "herald_messages_finished_total", "herald_message_final_latency_seconds",
		"herald_send_duration_seconds", "herald_provider_errors_total", "herald_receipt_latency_seconds", "herald_breaker_state",
		"herald_quota_used", "herald_pacing_wait_seconds", "herald_api_requests_total"} {
		require.True(t, used[name], "the dashboard shows %s", name)
	}
}
