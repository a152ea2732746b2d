package resources

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/store"
)

// Accounts, templates, channels and rules, created and changed through
// the routes as an operator would.
func TestChannelsAccountsTemplatesRules(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)

	acc := s.must(http.StatusCreated, http.MethodPost, "/accounts", map[string]any{
		"name": "sbx-a", "kind": "sandbox", "config": map[string]any{"latency_ms": 1, "failure_code": "SECRET-CODE-1234"}, "weight": 2,
	})
	accID := int64(acc.body["id"].(float64))
	require.Equal(t, map[string]any{"latency_ms": float64(1), "failure_code": "****1234"}, acc.body["config"], "credentials are masked")
	require.Len(t, acc.body["callback_token"], 32, "the generated callback token is shown once")
	accPath := "/accounts/" + strconv.FormatInt(accID, 10)
	got := s.must(http.StatusOK, http.MethodGet, accPath, nil)
	require.Equal(t, "set", got.body["callback_token"])
	require.Equal(t, "****1234", got.body["config"].(map[string]any)["failure_code"])

	t.Run("AccountInvalid", func(t *testing.T) {
		a := s.must(http.StatusBadRequest, http.MethodPost, "/accounts", map[string]any{"name": "x", "kind": "pigeon"})
		require.Equal(t, "kind", a.body["field"])
		a = s.must(http.StatusBadRequest, http.MethodPost, "/accounts", map[string]any{"name": "x", "kind": "sandbox", "config": map[string]any{"latency_ms": -5}})
		require.Equal(t, "config", a.body["field"])
		s.must(http.StatusConflict, http.MethodPost, "/accounts", map[string]any{"name": "sbx-a", "kind": "sandbox"})
	})
	t.Run("AccountKeepsConfig", func(t *testing.T) {
		// A change that does not name the config keeps the stored one.
		s.must(http.StatusOK, http.MethodPatch, accPath, map[string]any{"weight": 5}, "If-Match", `"1"`)
		stored, err := s.db.GetAccount(t.Context(), accID)
		require.NoError(t, err)
		require.JSONEq(t, `{"failure_code":"SECRET-CODE-1234","latency_ms":1}`, string(stored.Config))
		require.Equal(t, 5, stored.Weight)
		require.EqualValues(t, 2, stored.Version)
	})

	t.Run("AccountTest", func(t *testing.T) {
		a := s.must(http.StatusAccepted, http.MethodPost, accPath+"/test", map[string]any{"receiver": "+8613800138000", "template_params": map[string]string{"code": "1234"}})
		require.Equal(t, "test-task-1", a.body["task_id"])
		a = s.must(http.StatusBadRequest, http.MethodPost, accPath+"/test", map[string]any{"receiver": " "})
		require.Equal(t, "receiver", a.body["field"])
		s.must(http.StatusNotFound, http.MethodPost, "/accounts/999/test", map[string]any{"receiver": "+8613800138000"})
		recs, err := s.db.ListAudit(t.Context(), store.AuditFilter{Action: "account.test"})
		require.NoError(t, err)
		require.Len(t, recs, 1)
		require.NotContains(t, recs[0].DiffJSON, "13800138000", "receivers are masked in the audit log")
	})

	tpl := s.must(http.StatusCreated, http.MethodPost, "/templates", map[string]any{
		"name": "code", "content": "Code {{code}}", "variables": []string{"code"},
		"mappings": []map[string]any{{"account": "sbx-a", "provider_code": "T1", "param_order": []string{"code"}}},
	})
	tplID := int64(tpl.body["id"].(float64))
	require.Len(t, tpl.body["mappings"], 1)
	t.Run("TemplateInvalid", func(t *testing.T) {
		a := s.must(http.StatusBadRequest, http.MethodPost, "/templates", map[string]any{"name": "t2", "content": "Hi {{who}}"})
		require.Equal(t, "variables", a.body["field"])
		require.Contains(t, a.body["message"], "{{who}} is used")
	})
	t.Run("Preview", func(t *testing.T) {
		a := s.do("viewer", http.MethodPost, "/templates/preview", map[string]any{"template_id": tplID, "params": map[string]string{"code": "1234", "extra": "x"}})
		require.Equal(t, http.StatusOK, a.status, a.raw)
		require.Equal(t, "Code 1234", a.body["content"])
		require.Equal(t, []any{"extra"}, a.body["unknown"])
		require.Equal(t, []any{}, a.body["missing"])
		a = s.must(http.StatusOK, http.MethodPost, "/templates/preview", map[string]any{"content": "<b>{{name}}</b> {{x}}", "content_type": "html", "channel_type": "email", "params": map[string]string{"name": "<i>"}})
		require.Equal(t, "<b>&lt;i&gt;</b> {{x}}", a.body["content"])
		require.Equal(t, []any{"x"}, a.body["missing"])
		a = s.must(http.StatusBadRequest, http.MethodPost, "/templates/preview", map[string]any{"template_id": 999})
		require.Equal(t, "template_id", a.body["field"])
	})

	t.Run("TemplateDelete", func(t *testing.T) {
		other := s.must(http.StatusCreated, http.MethodPost, "/templates", map[string]any{"name": "spare", "content": "hi"})
		otherPath := "/templates/" + strconv.FormatInt(int64(other.body["id"].(float64)), 10)
		s.must(http.StatusConflict, http.MethodDelete, otherPath, nil, "If-Match", `"7"`)
		s.must(http.StatusNoContent, http.MethodDelete, otherPath, nil)
		s.must(http.StatusNotFound, http.MethodGet, otherPath, nil)
	})

	ch := s.must(http.StatusCreated, http.MethodPost, "/channels", map[string]any{
		"name": "sms", "type": "sms", "template": "code", "pool": []map[string]any{{"account": "sbx-a", "weight": 3}},
		"quiet_hours":   map[string]any{"start": "22:00", "end": "08:00", "time_zone": "Asia/Shanghai"},
		"receiver_caps": map[string]any{"per_minute": 1},
	})
	chPath := "/channels/" + strconv.FormatInt(int64(ch.body["id"].(float64)), 10)
	require.Equal(t, []any{map[string]any{"account": "sbx-a", "weight": float64(3)}}, ch.body["pool"])
	t.Run("ChannelPool", func(t *testing.T) {
		a := s.must(http.StatusOK, http.MethodPatch, chPath, map[string]any{"pool": []map[string]any{{"account": "sbx-a", "weight": 7}}}, "If-Match", `"1"`)
		require.Equal(t, []any{map[string]any{"account": "sbx-a", "weight": float64(7)}}, a.body["pool"])
		require.Equal(t, `"2"`, a.header.Get("ETag"))
		a = s.must(http.StatusOK, http.MethodPatch, chPath, map[string]any{"pool": []any{}}, "If-Match", `"2"`)
		require.Equal(t, []any{}, a.body["pool"])
		a = s.must(http.StatusBadRequest, http.MethodPatch, chPath, map[string]any{"pool": []map[string]any{{"account": "nobody"}}}, "If-Match", `"3"`)
		require.Equal(t, "pool[0].account", a.body["field"])
		a = s.must(http.StatusBadRequest, http.MethodPatch, chPath, map[string]any{"quiet_hours": map[string]any{"start": "25:00", "end": "08:00", "time_zone": "Asia/Shanghai"}}, "If-Match", `"3"`)
		require.Equal(t, "quiet_hours.start", a.body["field"])
		a = s.must(http.StatusBadRequest, http.MethodPatch, chPath, map[string]any{"name": "other"}, "If-Match", `"3"`)
		require.Equal(t, "name", a.body["field"])
		s.must(http.StatusConflict, http.MethodPost, "/channels", map[string]any{"name": "sms", "type": "sms"})
		a = s.must(http.StatusOK, http.MethodPost, chPath+"/disable", nil)
		require.Equal(t, false, a.body["enabled"])
	})

	t.Run("AppGrantsAndQuotas", func(t *testing.T) {
		a := s.must(http.StatusCreated, http.MethodPost, "/apps", map[string]any{
			"id": "shop", "grants": []string{"sms"}, "messages_per_minute": 30,
			"quota": map[string]any{"daily": 100, "channels": map[string]any{"sms": map[string]any{"monthly": 1000}}},
		})
		require.Equal(t, []any{"sms"}, a.body["grants"])
		want := map[string]any{"daily": float64(100), "monthly": float64(0), "channels": map[string]any{"sms": map[string]any{"daily": float64(0), "monthly": float64(1000)}}}
		require.Equal(t, want, a.body["quota"])
		// A PATCH of something else keeps grants and quotas as they are.
		a = s.must(http.StatusOK, http.MethodPatch, "/apps/shop", map[string]any{"messages_per_minute": 40}, "If-Match", `"1"`)
		require.Equal(t, []any{"sms"}, a.body["grants"])
		require.Equal(t, want, a.body["quota"])
		require.Equal(t, `"2"`, a.header.Get("ETag"))
		// Taking the grants away raises the version once.
		a = s.must(http.StatusOK, http.MethodPatch, "/apps/shop", map[string]any{"grants": []string{}, "quota": nil}, "If-Match", `"2"`)
		require.Equal(t, []any{}, a.body["grants"])
		require.Equal(t, `"3"`, a.header.Get("ETag"))
	})

	rule := s.must(http.StatusCreated, http.MethodPost, "/rules", map[string]any{
		"name": "throttled", "scene": "send_failure", "error_codes": []string{"THROTTLED"}, "action": "retry", "max_retry": 2, "delay_seconds": 1,
	})
	rulePath := "/rules/" + strconv.FormatInt(int64(rule.body["id"].(float64)), 10)
	t.Run("RuleInvalid", func(t *testing.T) {
		a := s.must(http.StatusBadRequest, http.MethodPost, "/rules", map[string]any{"name": "r2", "scene": "sometimes", "action": "retry", "max_retry": 1})
		require.Equal(t, "scene", a.body["field"])
		a = s.must(http.StatusBadRequest, http.MethodPost, "/rules", map[string]any{"scene": "send_failure", "action": "fail"})
		require.Equal(t, "name", a.body["field"])
		a = s.must(http.StatusBadRequest, http.MethodPatch, rulePath, map[string]any{"action": "explode"}, "If-Match", `"1"`)
		require.Equal(t, "action", a.body["field"])
	})
	s.must(http.StatusOK, http.MethodPatch, rulePath, map[string]any{"max_retry": 3}, "If-Match", `"1"`)
	s.must(http.StatusConflict, http.MethodDelete, rulePath, nil, "If-Match", `"1"`)
	s.must(http.StatusNoContent, http.MethodDelete, rulePath, nil)
	inUse := s.must(http.StatusConflict, http.MethodDelete, "/templates/"+strconv.FormatInt(tplID, 10), nil)
	require.Contains(t, inUse.body["message"], "channel sms")
	s.must(http.StatusNotFound, http.MethodGet, rulePath, nil)

	recs, err := s.db.ListAudit(t.Context(), store.AuditFilter{Limit: 500})
	require.NoError(t, err)
	count := map[string]int{}
	for _, r := range recs {
		count[r.Action]++
		if r.Action == "account.create" || r.Action == "account.update" {
			require.NotContains(t, r.DiffJSON, "SECRET-CODE")
		}
	}
	require.Equal(t, map[string]int{
		"account.create": 1, "account.update": 1, "template.create": 2, "template.delete": 1,
		"account.test": 1, "app.create": 1, "app.grants": 2, "app.quotas": 1, "app.update": 1, "template.mapping": 1,
		"channel.create": 1, "channel.pool": 3, "channel.update": 1, "rule.create": 1, "rule.update": 1, "rule.delete": 1,
	}, count)
}
