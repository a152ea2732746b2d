package messages

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/activities"
	"github.com/heraldhq/herald/rules"
	"github.com/heraldhq/herald/store"
)

func TestDryRun(t *testing.T) {
	t.Parallel()
	f := setup(t, store.DialectPostgres)
	ms := f.seed(t, 4)
	ctx := t.Context()
	throttled := activities.DecisionFacts{
		Failure:       rules.Failure{Scene: rules.SceneSendFailure, Class: rules.ClassThrottled, Code: "isv.BUSINESS_LIMIT_CONTROL", ProviderKind: "aliyun", MessageType: "sms"},
		TotalAttempts: 1, AttemptsOnAccount: 1, MaxAttempts: 3, AccountsLeft: 1,
	}
	for i, m := range ms {
		facts := throttled
		if i == 3 {
			facts.Failure.ProviderKind = "tencent"
		}
		// What the current (default) rules decided, as the workflow
		// records it.
		facts.Decision = rules.Decide(rules.Input{Failure: facts.Failure, TotalAttempts: 1, AttemptsOnAccount: 1, MaxAttempts: 3, AccountsLeft: 1})
		raw, err := json.Marshal(facts)
		require.NoError(t, err)
		require.NoError(t, f.db.AddEvent(ctx, &store.MessageEvent{TaskID: m.TaskID, Seq: 1, Kind: "decision", Inputs: raw}))
	}
	// A decision recorded before inputs were kept is not replayed.
	require.NoError(t, f.db.AddEvent(ctx, &store.MessageEvent{TaskID: ms[0].TaskID, Seq: 2, Kind: "decision"}))

	body := map[string]any{"rules": []map[string]any{{
		"name": "aliyun limit: switch", "scene": "send_failure", "provider_kind": "aliyun",
		"error_codes": "isv.BUSINESS_LIMIT_CONTROL", "action": "switch",
	}}}
	require.Equal(t, http.StatusForbidden, f.call(t, "viewer", http.MethodPost, "/rules/dry-run", body, nil))
	var res DryRunResult
	require.Equal(t, http.StatusOK, f.call(t, "operator", http.MethodPost, "/rules/dry-run", body, &res))
	require.Equal(t, 4, res.Considered)
	require.Equal(t, 3, res.Changed)
	require.Len(t, res.Changes, 1)
	want := DryRunChange{From: "retry", To: "switch", Count: 3, Summary: "3 would switch instead of retry"}
	require.Equal(t, want, res.Changes[0], fmt.Sprint(res))
	require.Len(t, res.Samples, 3)
	require.Equal(t, "aliyun limit: switch", res.Samples[0].ToRule)

	var p struct{ Field string }
	bad := map[string]any{"rules": []map[string]any{{"name": "x", "scene": "nope", "action": "switch"}}}
	require.Equal(t, http.StatusBadRequest, f.call(t, "operator", http.MethodPost, "/rules/dry-run", bad, &p))
	require.Equal(t, "rules[0]", p.Field)
	both := map[string]any{"rules": []any{}, "last": 5, "since": "1h"}
	require.Equal(t, http.StatusBadRequest, f.call(t, "operator", http.MethodPost, "/rules/dry-run", both, &p))
	require.Equal(t, "last", p.Field)
}
