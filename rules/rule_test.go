package rules

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseList(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		in   string
		want []string
	}{
		{"Empty", "", nil},
		{"OnlySeparators", " , ,, ", nil},
		{"One", "InternalError", []string{"InternalError"}},
		{"Trimmed", " a , b ,c ", []string{"a", "b", "c"}},
		{"DropsBlankItems", "a,,  ,b,", []string{"a", "b"}},
		{"KeepsInnerSpace", "rate limit, 频率", []string{"rate limit", "频率"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, ParseList(tc.in))
		})
	}
}

func TestParseScene(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		in      string
		want    Scene
		wantErr string
	}{
		{"Send", "send_failure", SceneSendFailure, ""},
		{"Callback", "callback_failure", SceneCallbackFailure, ""},
		{"CaseAndSpace", "  Send_Failure ", SceneSendFailure, ""},
		{"Empty", "", "", `parse scene: unknown scene "" (want send_failure or callback_failure)`},
		{"Unknown", "receipt", "", `parse scene: unknown scene "receipt" (want send_failure or callback_failure)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseScene(tc.in)
			if tc.wantErr != "" {
				require.EqualError(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestParseAction(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		in      string
		want    Action
		wantErr string
	}{
		{"Retry", "retry", ActionRetry, ""},
		{"Switch", "switch", ActionSwitch, ""},
		{"Fail", "fail", ActionFail, ""},
		{"Alert", "alert", ActionAlert, ""},
		{"CaseAndSpace", " RETRY\t", ActionRetry, ""},
		{"Empty", "", "", `parse action: unknown action "" (want retry, switch, fail or alert)`},
		{"Unknown", "ignore", "", `parse action: unknown action "ignore" (want retry, switch, fail or alert)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseAction(tc.in)
			if tc.wantErr != "" {
				require.EqualError(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestSceneActionValid(t *testing.T) {
	t.Parallel()
	require.True(t, SceneSendFailure.Valid())
	require.True(t, SceneCallbackFailure.Valid())
	require.False(t, Scene("").Valid())
	require.False(t, Scene("Send_Failure").Valid(), "Valid is exact; ParseScene normalizes")
	for _, a := range []Action{ActionRetry, ActionSwitch, ActionFail, ActionAlert} {
		require.True(t, a.Valid(), a)
	}
	require.False(t, Action("").Valid())
	require.False(t, Action("Retry").Valid())
}

func TestRuleValidate(t *testing.T) {
	t.Parallel()
	valid := func() Rule {
		return Rule{
			ID: 7, Name: "retry timeouts", Scene: SceneSendFailure, Priority: 10,
			ErrorCodes: []string{"InternalError.Timeout"}, ErrorKeywords: []string{"timeout"},
			Action: ActionRetry, MaxRetry: 3, Delay: 2 * time.Second, BackoffRate: 2,
		}
	}
	for _, tc := range []struct {
		name   string
		mutate func(r *Rule)
		// want is nil for a valid rule, else the exact problem list.
		want []string
	}{
		{"OK", func(*Rule) {}, nil},
		{"OKMinimalFail", func(r *Rule) { *r = Rule{Name: "x", Scene: SceneCallbackFailure, Action: ActionFail} }, nil},
		{"OKSwitchWithoutRetries", func(r *Rule) { r.Action, r.MaxRetry = ActionSwitch, 0 }, nil},
		{"OKAlertThenEmpty", func(r *Rule) { r.Action, r.MaxRetry = ActionAlert, 0 }, nil},
		{"OKAlertThenRetry", func(r *Rule) { r.Action, r.Then = ActionAlert, ActionRetry }, nil},
		{"OKAlertThenSwitch", func(r *Rule) { r.Action, r.Then = ActionAlert, ActionSwitch }, nil},
		{"OKBackoffOne", func(r *Rule) { r.BackoffRate = 1 }, nil},
		{"OKBackoffZero", func(r *Rule) { r.BackoffRate = 0 }, nil},
		{"OKDelayAtCap", func(r *Rule) { r.Delay = MaxDelay }, nil},
		{"OKThenIgnoredOnNonAlert", func(r *Rule) { r.Then = ActionFail }, nil},
		{"NameMissing", func(r *Rule) { r.Name = "  " }, []string{"name is required"}},
		{"SceneMissing", func(r *Rule) { r.Scene = "" }, []string{"scene is required"}},
		{"SceneUnknown", func(r *Rule) { r.Scene = "Send_Failure" },
			[]string{`unknown scene "Send_Failure" (want send_failure or callback_failure)`}},
		{"PriorityNegative", func(r *Rule) { r.Priority = -1 }, []string{"priority -1 is negative"}},
		{"BlankErrorCode", func(r *Rule) { r.ErrorCodes = []string{"a", " "} }, []string{"error_codes has a blank item"}},
		{"BlankKeyword", func(r *Rule) { r.ErrorKeywords = []string{""} }, []string{"error_keywords has a blank item"}},
		{"ActionMissing", func(r *Rule) { r.Action = "" }, []string{"action is required"}},
		{"ActionUnknown", func(r *Rule) { r.Action = "drop" },
			[]string{`unknown action "drop" (want retry, switch, fail or alert)`}},
		{"AlertThenAlert", func(r *Rule) { r.Action, r.Then = ActionAlert, ActionAlert },
			[]string{"then_action of an alert rule cannot be alert again (want retry, switch or fail)"}},
		{"AlertThenUnknown", func(r *Rule) { r.Action, r.Then = ActionAlert, "page" },
			[]string{`unknown then_action "page" (want retry, switch or fail)`}},
		{"MaxRetryNegative", func(r *Rule) { r.MaxRetry = -2 }, []string{"max_retry -2 is negative"}},
		{"RetryWithoutRetries", func(r *Rule) { r.MaxRetry = 0 },
			[]string{"max_retry must be at least 1 for a rule that retries"}},
		{"AlertThenRetryWithoutRetries", func(r *Rule) { r.Action, r.Then, r.MaxRetry = ActionAlert, ActionRetry, 0 },
			[]string{"max_retry must be at least 1 for a rule that retries"}},
		{"DelayNegative", func(r *Rule) { r.Delay = -time.Second }, []string{"delay -1s is negative"}},
		{"DelayAboveCap", func(r *Rule) { r.Delay = 2 * time.Hour }, []string{"delay 2h0m0s exceeds the maximum of 1h0m0s"}},
		{"BackoffNegative", func(r *Rule) { r.BackoffRate = -2 }, []string{"backoff_rate -2 is negative"}},
		{"BackoffBelowOne", func(r *Rule) { r.BackoffRate = 0.5 },
			[]string{"backoff_rate 0.5 is below 1 (use 0 or 1 for a constant delay)"}},
		{"BackoffNaN", func(r *Rule) { r.BackoffRate = math.NaN() }, []string{"backoff_rate NaN is not a finite number"}},
		{"BackoffInf", func(r *Rule) { r.BackoffRate = math.Inf(1) }, []string{"backoff_rate +Inf is not a finite number"}},
		{"EveryProblemAtOnce", func(r *Rule) {
			*r = Rule{
				ID: 3, Scene: "x", Priority: -5, ErrorCodes: []string{""}, ErrorKeywords: []string{" "},
				Action: ActionAlert, Then: ActionAlert, MaxRetry: -1, Delay: -time.Minute, BackoffRate: 0.1,
			}
		}, []string{
			"name is required",
			`unknown scene "x" (want send_failure or callback_failure)`,
			"priority -5 is negative",
			"error_codes has a blank item",
			"error_keywords has a blank item",
			"then_action of an alert rule cannot be alert again (want retry, switch or fail)",
			"max_retry -1 is negative",
			"delay -1m0s is negative",
			"backoff_rate 0.1 is below 1 (use 0 or 1 for a constant delay)",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := valid()
			tc.mutate(&r)
			err := r.Validate()
			if tc.want == nil {
				require.NoError(t, err)
				return
			}
			var verr *ValidationError
			require.True(t, errors.As(err, &verr), "want *ValidationError, got %T", err)
			require.Equal(t, tc.want, verr.Problems)
		})
	}
}

func TestValidationErrorMessage(t *testing.T) {
	t.Parallel()
	t.Run("Named", func(t *testing.T) {
		t.Parallel()
		err := Rule{Name: "slow down", Scene: SceneSendFailure, Action: ActionRetry, Delay: -time.Second}.Validate()
		require.EqualError(t, err,
			`invalid rule "slow down": max_retry must be at least 1 for a rule that retries; delay -1s is negative`)
	})
	t.Run("Unnamed", func(t *testing.T) {
		t.Parallel()
		err := Rule{ID: 42, Scene: SceneSendFailure, Action: ActionFail}.Validate()
		require.EqualError(t, err, "invalid rule #42: name is required")
	})
}
