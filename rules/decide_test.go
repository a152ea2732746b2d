package rules

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// sendInput is a first failed attempt of an SMS through a tencent account,
// with one more account in the pool and no attempt cap.
func sendInput(class Class) Input {
	return Input{
		Now: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
		Failure: Failure{
			Scene: SceneSendFailure, Class: class, Code: "InternalError.Timeout",
			Message: "Request Timeout while calling SendSms", ProviderKind: "tencent", MessageType: "sms",
		},
		AttemptsOnAccount: 1,
		TotalAttempts:     1,
		AccountsLeft:      1,
	}
}

// catchAll is a rule that matches every send failure.
func catchAll(id int64, action Action) Rule {
	return Rule{ID: id, Name: "rule" + string(rune('A'+id-1)), Scene: SceneSendFailure, Action: action}
}

func TestRuleMatches(t *testing.T) {
	t.Parallel()
	f := sendInput(ClassTransient).Failure
	for _, tc := range []struct {
		name string
		rule Rule
		want bool
	}{
		{"AnyOnlyScene", Rule{Scene: SceneSendFailure}, true},
		{"SceneDiffers", Rule{Scene: SceneCallbackFailure}, false},
		{"SceneEmpty", Rule{}, false},

		{"ProviderKindEqual", Rule{Scene: SceneSendFailure, ProviderKind: "tencent"}, true},
		{"ProviderKindCase", Rule{Scene: SceneSendFailure, ProviderKind: " TenCent "}, true},
		{"ProviderKindDiffers", Rule{Scene: SceneSendFailure, ProviderKind: "aliyun"}, false},

		{"MessageTypeEqual", Rule{Scene: SceneSendFailure, MessageType: "sms"}, true},
		{"MessageTypeCase", Rule{Scene: SceneSendFailure, MessageType: "SMS"}, true},
		{"MessageTypeDiffers", Rule{Scene: SceneSendFailure, MessageType: "email"}, false},

		{"CodeListed", Rule{Scene: SceneSendFailure, ErrorCodes: []string{"LimitExceeded", "InternalError.Timeout"}}, true},
		{"CodeCase", Rule{Scene: SceneSendFailure, ErrorCodes: []string{"internalerror.timeout"}}, true},
		{"CodeItemSpace", Rule{Scene: SceneSendFailure, ErrorCodes: []string{" InternalError.Timeout "}}, true},
		{"CodeNotListed", Rule{Scene: SceneSendFailure, ErrorCodes: []string{"InternalError"}}, false},
		{"CodeIsExactNotPrefix", Rule{Scene: SceneSendFailure, ErrorCodes: []string{"InternalError.Time"}}, false},
		{"CodeBlankItemsMeanAny", Rule{Scene: SceneSendFailure, ErrorCodes: []string{"", " "}}, true},
		{"CodeBlankItemIgnored", Rule{Scene: SceneSendFailure, ErrorCodes: []string{"", "Other"}}, false},

		{"KeywordFound", Rule{Scene: SceneSendFailure, ErrorKeywords: []string{"quota", "timeout"}}, true},
		{"KeywordCase", Rule{Scene: SceneSendFailure, ErrorKeywords: []string{"REQUEST TIMEOUT"}}, true},
		{"KeywordSubstring", Rule{Scene: SceneSendFailure, ErrorKeywords: []string{"sendsms"}}, true},
		{"KeywordMissing", Rule{Scene: SceneSendFailure, ErrorKeywords: []string{"balance"}}, false},
		{"KeywordBlankMeansAny", Rule{Scene: SceneSendFailure, ErrorKeywords: []string{" "}}, true},

		{"AllCriteria", Rule{
			Scene: SceneSendFailure, ProviderKind: "tencent", MessageType: "sms",
			ErrorCodes: []string{"InternalError.Timeout"}, ErrorKeywords: []string{"timeout"},
		}, true},
		{"AllButOneCriterion", Rule{
			Scene: SceneSendFailure, ProviderKind: "tencent", MessageType: "sms",
			ErrorCodes: []string{"InternalError.Timeout"}, ErrorKeywords: []string{"balance"},
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, tc.rule.Matches(f))
		})
	}

	t.Run("EmptyFailureCodeNeedsAnyCode", func(t *testing.T) {
		t.Parallel()
		f := f
		f.Code = ""
		require.False(t, Rule{Scene: SceneSendFailure, ErrorCodes: []string{"X"}}.Matches(f))
		require.True(t, Rule{Scene: SceneSendFailure}.Matches(f))
	})
	t.Run("KeywordUnicode", func(t *testing.T) {
		t.Parallel()
		f := f
		f.Message = "手机号码格式错误"
		require.True(t, Rule{Scene: SceneSendFailure, ErrorKeywords: []string{"格式错误"}}.Matches(f))
	})
	t.Run("EmptyProviderKindOnFailure", func(t *testing.T) {
		t.Parallel()
		f := f
		f.ProviderKind = ""
		require.False(t, Rule{Scene: SceneSendFailure, ProviderKind: "tencent"}.Matches(f))
	})
}

func TestMatch(t *testing.T) {
	t.Parallel()
	f := sendInput(ClassTransient).Failure
	withPrio := func(r Rule, p int) Rule { r.Priority = p; return r }
	for _, tc := range []struct {
		name   string
		rules  []Rule
		wantID int64 // 0 means no match
	}{
		{"None", nil, 0},
		{"NoneMatch", []Rule{{ID: 1, Name: "x", Scene: SceneCallbackFailure, Action: ActionFail}}, 0},
		{"LowerPriorityFirst", []Rule{withPrio(catchAll(1, ActionFail), 20), withPrio(catchAll(2, ActionFail), 10)}, 2},
		{"LowerPriorityEvenIfLater", []Rule{withPrio(catchAll(3, ActionFail), 5), withPrio(catchAll(1, ActionFail), 1), withPrio(catchAll(2, ActionFail), 3)}, 1},
		{"TieByID", []Rule{withPrio(catchAll(9, ActionFail), 10), withPrio(catchAll(4, ActionFail), 10)}, 4},
		{"NonMatchingLowerPrioritySkipped", []Rule{
			{ID: 1, Name: "aliyun only", Scene: SceneSendFailure, ProviderKind: "aliyun", Action: ActionFail},
			withPrio(catchAll(2, ActionRetry), 50),
		}, 2},
		{"UnknownActionSkipped", []Rule{{ID: 1, Name: "bad", Scene: SceneSendFailure, Action: "drop"}, withPrio(catchAll(2, ActionFail), 9)}, 2},
		{"AlertThenAlertSkipped", []Rule{{ID: 1, Name: "loop", Scene: SceneSendFailure, Action: ActionAlert, Then: ActionAlert}, withPrio(catchAll(2, ActionFail), 9)}, 2},
		{"AlertThenUnknownSkipped", []Rule{{ID: 1, Name: "typo", Scene: SceneSendFailure, Action: ActionAlert, Then: "swtich"}, withPrio(catchAll(2, ActionFail), 9)}, 2},
		{"AlertThenEmptyUsable", []Rule{{ID: 1, Name: "page", Scene: SceneSendFailure, Action: ActionAlert}, withPrio(catchAll(2, ActionFail), 9)}, 1},
		{"NegativePriorityStillOrders", []Rule{catchAll(1, ActionFail), withPrio(catchAll(2, ActionFail), -1)}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, ok := Match(tc.rules, f)
			if tc.wantID == 0 {
				require.False(t, ok)
				require.Equal(t, Rule{}, r)
				return
			}
			require.True(t, ok)
			require.Equal(t, tc.wantID, r.ID)
		})
	}

	t.Run("TieByPositionWhenIDsEqual", func(t *testing.T) {
		t.Parallel()
		a, b := catchAll(1, ActionFail), catchAll(1, ActionSwitch)
		r, ok := Match([]Rule{a, b}, f)
		require.True(t, ok)
		require.Equal(t, ActionFail, r.Action)
		r, _ = Match([]Rule{b, a}, f)
		require.Equal(t, ActionSwitch, r.Action)
	})
}

func TestDecideRetry(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		delay      time.Duration
		rate       float64
		maxRetry   int
		attempts   int
		retryAfter time.Duration
		left       int
		want       Action
		wantDelay  time.Duration
	}{
		{"FirstRetryUsesDelay", 2 * time.Second, 2, 3, 1, 0, 1, ActionRetry, 2 * time.Second},
		{"SecondRetryBacksOff", 2 * time.Second, 2, 3, 2, 0, 1, ActionRetry, 4 * time.Second},
		{"LastRetry", 2 * time.Second, 2, 3, 3, 0, 1, ActionRetry, 8 * time.Second},
		{"RateZeroIsConstant", 3 * time.Second, 0, 5, 4, 0, 1, ActionRetry, 3 * time.Second},
		{"RateOneIsConstant", 3 * time.Second, 1, 5, 4, 0, 1, ActionRetry, 3 * time.Second},
		{"FractionalRate", time.Second, 1.5, 5, 3, 0, 1, ActionRetry, 2250 * time.Millisecond},
		{"RoundedToMillisecond", time.Second, 1.1, 5, 3, 0, 1, ActionRetry, 1210 * time.Millisecond},
		{"CappedAtMaxDelay", 10 * time.Minute, 3, 10, 4, 0, 1, ActionRetry, MaxDelay},
		{"HugeExponentCapped", time.Second, 2, 5000, 4000, 0, 1, ActionRetry, MaxDelay},
		{"RetryAfterRaisesDelay", time.Second, 2, 3, 2, 7 * time.Second, 1, ActionRetry, 7 * time.Second},
		{"RetryAfterBelowBackoffIgnored", 10 * time.Second, 2, 3, 2, 7 * time.Second, 1, ActionRetry, 20 * time.Second},
		{"RetryAfterCapped", time.Second, 2, 3, 1, 3 * time.Hour, 1, ActionRetry, MaxDelay},
		{"NoDelay", 0, 2, 3, 2, 0, 1, ActionRetry, 0},
		{"NoDelayButRetryAfter", 0, 2, 3, 2, 1500 * time.Millisecond, 1, ActionRetry, 1500 * time.Millisecond},
		{"NegativeRetryAfterIgnored", time.Second, 0, 3, 1, -time.Minute, 1, ActionRetry, time.Second},
		{"ZeroAttemptsReadAsOne", 2 * time.Second, 2, 3, 0, 0, 1, ActionRetry, 2 * time.Second},
		{"ExhaustedSwitches", 2 * time.Second, 2, 3, 4, 0, 2, ActionSwitch, 0},
		{"ExhaustedNoAccountFails", 2 * time.Second, 2, 3, 4, 0, 0, ActionFail, 0},
		{"ExhaustedNegativeAccountsFails", 2 * time.Second, 2, 3, 9, 0, -1, ActionFail, 0},
		{"RetryDoesNotNeedAccountsLeft", time.Second, 0, 3, 1, 0, 0, ActionRetry, time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := sendInput(ClassTransient)
			in.Rules = []Rule{{ID: 5, Name: "backoff", Scene: SceneSendFailure, Action: ActionRetry,
				MaxRetry: tc.maxRetry, Delay: tc.delay, BackoffRate: tc.rate}}
			in.AttemptsOnAccount = tc.attempts
			in.TotalAttempts = max(tc.attempts, 1)
			in.AccountsLeft = tc.left
			in.Failure.RetryAfter = tc.retryAfter
			d := Decide(in)
			require.Equal(t, tc.want, d.Action)
			require.Equal(t, tc.wantDelay, d.Delay)
			require.False(t, d.Alert)
			require.Equal(t, int64(5), d.RuleID)
			require.Equal(t, "backoff", d.RuleName)
		})
	}
}

func TestDecideActions(t *testing.T) {
	t.Parallel()
	rule := func(action, then Action) Rule {
		return Rule{ID: 3, Name: "r", Scene: SceneSendFailure, Action: action, Then: then,
			MaxRetry: 2, Delay: 10 * time.Second, BackoffRate: 3}
	}
	for _, tc := range []struct {
		name      string
		rule      Rule
		attempts  int
		left      int
		want      Decision
		wantAlert bool
	}{
		{"Retry", rule(ActionRetry, ""), 2, 1, Decision{Action: ActionRetry, Delay: 30 * time.Second,
			Reason: `Rule "r" (#3): retrying on the same account in 30s (retry 2 of 2).`}, false},
		{"RetryExhaustedSwitch", rule(ActionRetry, ""), 3, 1, Decision{Action: ActionSwitch,
			Reason: `Rule "r" (#3): switching to another account after 3 attempts on this one.`}, false},
		{"RetryExhaustedFail", rule(ActionRetry, ""), 3, 0, Decision{Action: ActionFail,
			Reason: `Rule "r" (#3): failing after 3 attempts on this account, no other account is left.`}, false},
		{"Switch", rule(ActionSwitch, ""), 1, 2, Decision{Action: ActionSwitch, Delay: 10 * time.Second,
			Reason: `Rule "r" (#3): switching to another account in 10s.`}, false},
		{"SwitchIgnoresAttempts", rule(ActionSwitch, ""), 9, 1, Decision{Action: ActionSwitch, Delay: 10 * time.Second,
			Reason: `Rule "r" (#3): switching to another account in 10s.`}, false},
		{"SwitchNoAccountFails", rule(ActionSwitch, ""), 1, 0, Decision{Action: ActionFail,
			Reason: `Rule "r" (#3): failing, no other account is left.`}, false},
		{"Fail", rule(ActionFail, ""), 1, 3, Decision{Action: ActionFail,
			Reason: `Rule "r" (#3): failing.`}, false},
		{"AlertThenDefaultsToFail", rule(ActionAlert, ""), 1, 3, Decision{Action: ActionFail, Alert: true,
			Reason: `Rule "r" (#3): alerting, then failing.`}, true},
		{"AlertThenFail", rule(ActionAlert, ActionFail), 1, 3, Decision{Action: ActionFail, Alert: true,
			Reason: `Rule "r" (#3): alerting, then failing.`}, true},
		{"AlertThenRetry", rule(ActionAlert, ActionRetry), 1, 0, Decision{Action: ActionRetry, Delay: 10 * time.Second, Alert: true,
			Reason: `Rule "r" (#3): alerting, then retrying on the same account in 10s (retry 1 of 2).`}, true},
		{"AlertThenRetryExhausted", rule(ActionAlert, ActionRetry), 3, 1, Decision{Action: ActionSwitch, Alert: true,
			Reason: `Rule "r" (#3): alerting, then switching to another account after 3 attempts on this one.`}, true},
		{"AlertThenSwitch", rule(ActionAlert, ActionSwitch), 1, 1, Decision{Action: ActionSwitch, Delay: 10 * time.Second, Alert: true,
			Reason: `Rule "r" (#3): alerting, then switching to another account in 10s.`}, true},
		{"AlertThenSwitchNoAccount", rule(ActionAlert, ActionSwitch), 1, 0, Decision{Action: ActionFail, Alert: true,
			Reason: `Rule "r" (#3): alerting, then failing, no other account is left.`}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := sendInput(ClassTransient)
			in.Rules = []Rule{tc.rule}
			in.AttemptsOnAccount = tc.attempts
			in.TotalAttempts = tc.attempts
			in.AccountsLeft = tc.left
			want := tc.want
			want.RuleID, want.RuleName = 3, "r"
			require.Equal(t, want, Decide(in))
		})
	}
}

func TestDecideClampsInvalidRules(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		rule      Rule
		attempts  int
		want      Action
		wantDelay time.Duration
	}{
		{"NegativeMaxRetrySwitchesAtOnce", Rule{MaxRetry: -3, Action: ActionRetry, Delay: time.Second}, 1, ActionSwitch, 0},
		{"NegativeDelayIsZero", Rule{MaxRetry: 2, Action: ActionRetry, Delay: -time.Second, BackoffRate: 2}, 2, ActionRetry, 0},
		{"DelayAboveCapOnSwitch", Rule{Action: ActionSwitch, Delay: 5 * time.Hour}, 1, ActionSwitch, MaxDelay},
		{"BackoffBelowOneIsConstant", Rule{MaxRetry: 5, Action: ActionRetry, Delay: 8 * time.Second, BackoffRate: 0.5}, 4, ActionRetry, 8 * time.Second},
		{"BackoffNegativeIsConstant", Rule{MaxRetry: 5, Action: ActionRetry, Delay: 8 * time.Second, BackoffRate: -2}, 4, ActionRetry, 8 * time.Second},
		{"BackoffNaNIsConstant", Rule{MaxRetry: 5, Action: ActionRetry, Delay: 8 * time.Second, BackoffRate: math.NaN()}, 4, ActionRetry, 8 * time.Second},
		{"BackoffInfIsCapped", Rule{MaxRetry: 5, Action: ActionRetry, Delay: 8 * time.Second, BackoffRate: math.Inf(1)}, 2, ActionRetry, MaxDelay},
		{"BackoffInfFirstRetry", Rule{MaxRetry: 5, Action: ActionRetry, Delay: 8 * time.Second, BackoffRate: math.Inf(1)}, 1, ActionRetry, 8 * time.Second},
		{"BackoffInfNoDelay", Rule{MaxRetry: 5, Action: ActionRetry, BackoffRate: math.Inf(1)}, 3, ActionRetry, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := tc.rule
			r.ID, r.Name, r.Scene = 1, "bad", SceneSendFailure
			in := sendInput(ClassTransient)
			in.Rules = []Rule{r}
			in.AttemptsOnAccount = tc.attempts
			d := Decide(in)
			require.Equal(t, tc.want, d.Action)
			require.Equal(t, tc.wantDelay, d.Delay)
			require.Equal(t, int64(1), d.RuleID)
		})
	}
}

func TestDecideGuards(t *testing.T) {
	t.Parallel()
	retry := Rule{ID: 1, Name: "always retry", Scene: SceneSendFailure, Action: ActionRetry, MaxRetry: 3, Delay: time.Second, BackoffRate: 2}
	switchRule := Rule{ID: 2, Name: "always switch", Scene: SceneSendFailure, Action: ActionSwitch, Delay: 5 * time.Second}
	alertRetry := Rule{ID: 3, Name: "page and retry", Scene: SceneSendFailure, Action: ActionAlert, Then: ActionRetry, MaxRetry: 3, Delay: time.Second}
	failRule := Rule{ID: 4, Name: "give up", Scene: SceneSendFailure, Action: ActionFail}
	for _, tc := range []struct {
		name     string
		rules    []Rule
		class    Class
		attempts int
		total    int
		max      int
		left     int
		want     Decision
	}{
		{"PermanentRetryFails", []Rule{retry}, ClassPermanent, 1, 1, 0, 2, Decision{Action: ActionFail, RuleID: 1, RuleName: "always retry",
			Reason: `Rule "always retry" (#1): failing instead of retrying on the same account in 1s (retry 1 of 3), because a permanent failure cannot succeed on any account.`}},
		{"PermanentClassNormalized", []Rule{retry}, " PERMANENT ", 1, 1, 0, 2, Decision{Action: ActionFail, RuleID: 1, RuleName: "always retry",
			Reason: `Rule "always retry" (#1): failing instead of retrying on the same account in 1s (retry 1 of 3), because a permanent failure cannot succeed on any account.`}},
		{"PermanentSwitchRuleSwitches", []Rule{switchRule}, ClassPermanent, 1, 1, 0, 1, Decision{Action: ActionSwitch, Delay: 5 * time.Second, RuleID: 2, RuleName: "always switch",
			Reason: `Rule "always switch" (#2): switching to another account in 5s.`}},
		{"PermanentSwitchRuleNoAccountFails", []Rule{switchRule}, ClassPermanent, 1, 1, 0, 0, Decision{Action: ActionFail, RuleID: 2, RuleName: "always switch",
			Reason: `Rule "always switch" (#2): failing, no other account is left.`}},
		{"PermanentAlertKeepsAlert", []Rule{alertRetry}, ClassPermanent, 1, 1, 0, 1, Decision{Action: ActionFail, Alert: true, RuleID: 3, RuleName: "page and retry",
			Reason: `Rule "page and retry" (#3): alerting, then failing instead of retrying on the same account in 1s (retry 1 of 3), because a permanent failure cannot succeed on any account.`}},
		{"PermanentRetryExhaustedSwitchStays", []Rule{retry}, ClassPermanent, 4, 4, 0, 1, Decision{Action: ActionSwitch, RuleID: 1, RuleName: "always retry",
			Reason: `Rule "always retry" (#1): switching to another account after 4 attempts on this one.`}},
		{"ConfigRetrySwitches", []Rule{retry}, ClassConfig, 1, 1, 0, 1, Decision{Action: ActionSwitch, RuleID: 1, RuleName: "always retry",
			Reason: `Rule "always retry" (#1): switching to another account instead of retrying on the same account in 1s (retry 1 of 3), because a config failure is not retried on the same account.`}},
		{"ConfigRetryNoAccountFails", []Rule{retry}, ClassConfig, 1, 1, 0, 0, Decision{Action: ActionFail, RuleID: 1, RuleName: "always retry",
			Reason: `Rule "always retry" (#1): failing instead of retrying on the same account in 1s (retry 1 of 3), because a config failure is not retried on the same account and no other account is left.`}},
		{"ConfigSwitchRuleKeepsDelay", []Rule{switchRule}, ClassConfig, 1, 1, 0, 1, Decision{Action: ActionSwitch, Delay: 5 * time.Second, RuleID: 2, RuleName: "always switch",
			Reason: `Rule "always switch" (#2): switching to another account in 5s.`}},
		{"MaxAttemptsReachedRetryFails", []Rule{retry}, ClassTransient, 2, 5, 5, 1, Decision{Action: ActionFail, RuleID: 1, RuleName: "always retry",
			Reason: `Rule "always retry" (#1): failing instead of retrying on the same account in 2s (retry 2 of 3), because the message has reached its limit of 5 attempts.`}},
		{"MaxAttemptsExceededSwitchFails", []Rule{switchRule}, ClassTransient, 1, 7, 5, 1, Decision{Action: ActionFail, RuleID: 2, RuleName: "always switch",
			Reason: `Rule "always switch" (#2): failing instead of switching to another account in 5s, because the message has reached its limit of 5 attempts.`}},
		{"MaxAttemptsNotYetReached", []Rule{retry}, ClassTransient, 2, 4, 5, 1, Decision{Action: ActionRetry, Delay: 2 * time.Second, RuleID: 1, RuleName: "always retry",
			Reason: `Rule "always retry" (#1): retrying on the same account in 2s (retry 2 of 3).`}},
		{"MaxAttemptsZeroIsNoCap", []Rule{retry}, ClassTransient, 1, 1000, 0, 1, Decision{Action: ActionRetry, Delay: time.Second, RuleID: 1, RuleName: "always retry",
			Reason: `Rule "always retry" (#1): retrying on the same account in 1s (retry 1 of 3).`}},
		{"MaxAttemptsAfterConfigGuard", []Rule{retry}, ClassConfig, 1, 3, 3, 1, Decision{Action: ActionFail, RuleID: 1, RuleName: "always retry",
			Reason: `Rule "always retry" (#1): failing instead of retrying on the same account in 1s (retry 1 of 3), because a config failure is not retried on the same account and the message has reached its limit of 3 attempts.`}},
		{"MaxAttemptsLeavesFailAlone", []Rule{failRule}, ClassTransient, 1, 9, 3, 1, Decision{Action: ActionFail, RuleID: 4, RuleName: "give up",
			Reason: `Rule "give up" (#4): failing.`}},
		{"MaxAttemptsKeepsAlert", []Rule{alertRetry}, ClassTransient, 1, 2, 2, 1, Decision{Action: ActionFail, Alert: true, RuleID: 3, RuleName: "page and retry",
			Reason: `Rule "page and retry" (#3): alerting, then failing instead of retrying on the same account in 1s (retry 1 of 3), because the message has reached its limit of 2 attempts.`}},
		{"MaxAttemptsOnDefaultPolicy", nil, ClassTransient, 1, 3, 3, 1, Decision{Action: ActionFail, RuleName: DefaultRuleName,
			Reason: `Default policy (transient): failing instead of retrying on the same account in 1s (retry 1 of 3), because the message has reached its limit of 3 attempts.`}},
		{"MaxAttemptsOnDefaultSwitch", nil, ClassAccount, 1, 3, 3, 1, Decision{Action: ActionFail, Alert: true, RuleName: DefaultRuleName,
			Reason: `Default policy (account): alerting, then failing instead of switching to another account, because the message has reached its limit of 3 attempts.`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := sendInput(tc.class)
			in.Rules = tc.rules
			in.AttemptsOnAccount = tc.attempts
			in.TotalAttempts = tc.total
			in.MaxAttempts = tc.max
			in.AccountsLeft = tc.left
			require.Equal(t, tc.want, Decide(in))
		})
	}
}

func TestDefaultPolicy(t *testing.T) {
	t.Parallel()
	type step struct {
		attempts   int
		left       int
		retryAfter time.Duration
		want       Action
		wantDelay  time.Duration
		wantReason string
	}
	for _, tc := range []struct {
		name      string
		class     Class
		scene     Scene
		wantAlert bool
		steps     []step
	}{
		{"Transient", ClassTransient, SceneSendFailure, false, []step{
			{1, 1, 0, ActionRetry, time.Second, "Default policy (transient): retrying on the same account in 1s (retry 1 of 3)."},
			{2, 1, 0, ActionRetry, 2 * time.Second, "Default policy (transient): retrying on the same account in 2s (retry 2 of 3)."},
			{3, 1, 0, ActionRetry, 4 * time.Second, "Default policy (transient): retrying on the same account in 4s (retry 3 of 3)."},
			{3, 1, 9 * time.Second, ActionRetry, 9 * time.Second, "Default policy (transient): retrying on the same account in 9s (retry 3 of 3)."},
			{4, 1, 0, ActionSwitch, 0, "Default policy (transient): switching to another account after 4 attempts on this one."},
			{4, 0, 0, ActionFail, 0, "Default policy (transient): failing after 4 attempts on this account, no other account is left."},
		}},
		{"UnknownOutcome", ClassUnknownOutcome, SceneSendFailure, false, []step{
			{1, 1, 0, ActionRetry, time.Second, "Default policy (unknown_outcome): retrying on the same account in 1s (retry 1 of 3)."},
			{3, 1, 0, ActionRetry, 4 * time.Second, "Default policy (unknown_outcome): retrying on the same account in 4s (retry 3 of 3)."},
			{4, 2, 0, ActionSwitch, 0, "Default policy (unknown_outcome): switching to another account after 4 attempts on this one."},
			{4, 0, 0, ActionFail, 0, "Default policy (unknown_outcome): failing after 4 attempts on this account, no other account is left."},
		}},
		{"Throttled", ClassThrottled, SceneSendFailure, false, []step{
			{1, 1, 0, ActionRetry, 5 * time.Second, "Default policy (throttled): retrying on the same account in 5s (retry 1 of 5)."},
			{1, 1, 30 * time.Second, ActionRetry, 30 * time.Second, "Default policy (throttled): retrying on the same account in 30s (retry 1 of 5)."},
			{2, 1, 0, ActionRetry, 10 * time.Second, "Default policy (throttled): retrying on the same account in 10s (retry 2 of 5)."},
			{3, 1, 0, ActionRetry, 20 * time.Second, "Default policy (throttled): retrying on the same account in 20s (retry 3 of 5)."},
			{4, 1, 0, ActionRetry, 40 * time.Second, "Default policy (throttled): retrying on the same account in 40s (retry 4 of 5)."},
			{5, 1, 0, ActionRetry, 80 * time.Second, "Default policy (throttled): retrying on the same account in 1m20s (retry 5 of 5)."},
			{5, 1, 2 * time.Hour, ActionRetry, MaxDelay, "Default policy (throttled): retrying on the same account in 1h0m0s (retry 5 of 5)."},
			{6, 1, 0, ActionSwitch, 0, "Default policy (throttled): switching to another account after 6 attempts on this one."},
			// Throttling holds a message back; with no account to switch
			// to it waits again rather than fail (see TestDeferralBudget).
			{6, 0, 0, ActionRetry, 80 * time.Second, "Default policy (throttled): still throttled and no other account is left; waiting in 1m20s (held back 0s so far)."},
		}},
		{"Account", ClassAccount, SceneSendFailure, true, []step{
			{1, 1, 0, ActionSwitch, 0, "Default policy (account): alerting, then switching to another account."},
			{1, 0, 0, ActionFail, 0, "Default policy (account): alerting, then failing, no other account is left."},
		}},
		{"Config", ClassConfig, SceneSendFailure, false, []step{
			{1, 3, 0, ActionSwitch, 0, "Default policy (config): switching to another account."},
			{1, 0, 0, ActionFail, 0, "Default policy (config): failing, no other account is left."},
		}},
		{"Permanent", ClassPermanent, SceneSendFailure, false, []step{
			{1, 3, 0, ActionFail, 0, "Default policy (permanent): failing, no account will accept this message."},
		}},
		{"ReceiptFailed", ClassReceiptFailed, SceneCallbackFailure, false, []step{
			{1, 1, 0, ActionSwitch, 0, "Default policy (receipt_failed): switching to another account."},
			{1, 0, 0, ActionFail, 0, "Default policy (receipt_failed): failing, no other account is left."},
		}},
		{"ReceiptTimeout", ClassReceiptTimeout, SceneCallbackFailure, false, []step{
			{1, 3, 0, ActionFail, 0, "Default policy (receipt_timeout): failing, a re-send without a receipt could deliver the message twice."},
		}},
		{"UnknownClass", "exploded", SceneSendFailure, true, []step{
			{1, 3, 0, ActionFail, 0, `Default policy (unknown class "exploded"): alerting, then failing.`},
		}},
		{"EmptyClass", "", SceneSendFailure, true, []step{
			{1, 3, 0, ActionFail, 0, `Default policy (unknown class ""): alerting, then failing.`},
		}},
		{"ClassNormalized", " Throttled", SceneSendFailure, false, []step{
			{1, 1, 0, ActionRetry, 5 * time.Second, "Default policy (throttled): retrying on the same account in 5s (retry 1 of 5)."},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, s := range tc.steps {
				in := sendInput(tc.class)
				in.Failure.Scene = tc.scene
				in.AttemptsOnAccount = s.attempts
				in.TotalAttempts = s.attempts
				in.AccountsLeft = s.left
				in.Failure.RetryAfter = s.retryAfter
				want := Decision{Action: s.want, Delay: s.wantDelay, Alert: tc.wantAlert, RuleName: DefaultRuleName, Reason: s.wantReason}
				require.Equal(t, want, DefaultPolicy(in))
				// With no rules, Decide is the default policy.
				require.Equal(t, want, Decide(in))
			}
		})
	}

	t.Run("IgnoresRules", func(t *testing.T) {
		t.Parallel()
		in := sendInput(ClassPermanent)
		in.Rules = []Rule{catchAll(1, ActionSwitch)}
		require.Equal(t, ActionSwitch, Decide(in).Action)
		require.Equal(t, ActionFail, DefaultPolicy(in).Action)
	})
	t.Run("UsedWhenNoRuleMatches", func(t *testing.T) {
		t.Parallel()
		in := sendInput(ClassTransient)
		in.Rules = []Rule{
			{ID: 1, Name: "callback", Scene: SceneCallbackFailure, Action: ActionFail},
			{ID: 2, Name: "aliyun", Scene: SceneSendFailure, ProviderKind: "aliyun", Action: ActionFail},
			{ID: 3, Name: "balance", Scene: SceneSendFailure, ErrorKeywords: []string{"balance"}, Action: ActionFail},
		}
		d := Decide(in)
		require.Equal(t, ActionRetry, d.Action)
		require.Equal(t, int64(0), d.RuleID)
		require.Equal(t, DefaultRuleName, d.RuleName)
	})
}

func TestDecideIsPure(t *testing.T) {
	t.Parallel()
	in := sendInput(ClassTransient)
	in.Rules = []Rule{
		{ID: 9, Name: "late", Scene: SceneSendFailure, Priority: 9, Action: ActionFail, ErrorCodes: []string{"A", "B"}},
		{ID: 2, Name: "early", Scene: SceneSendFailure, Priority: 1, Action: ActionRetry, MaxRetry: 2, Delay: time.Second},
		{ID: 5, Name: "mid", Scene: SceneSendFailure, Priority: 5, Action: ActionSwitch},
	}
	before := slices.Clone(in.Rules)
	first := Decide(in)
	for range 10 {
		require.Equal(t, first, Decide(in))
	}
	require.Equal(t, before, in.Rules, "Decide must not reorder or modify the caller's rules")
	require.Equal(t, "early", first.RuleName)

	t.Run("NowDoesNotMatter", func(t *testing.T) {
		t.Parallel()
		in := in
		in.Now = time.Time{}
		require.Equal(t, first, Decide(in))
	})
}

func TestDeferralBudget(t *testing.T) {
	t.Parallel()
	in := Input{
		Failure:           Failure{Scene: SceneSendFailure, Class: ClassThrottled, Code: "130101", RetryAfter: 10 * time.Minute},
		AttemptsOnAccount: 6,
		TotalAttempts:     6,
	}
	t.Run("UnderTheBudgetWaits", func(t *testing.T) {
		t.Parallel()
		in := in
		in.DeferredFor = 50 * time.Minute
		d := Decide(in)
		require.Equal(t, ActionRetry, d.Action)
		require.Equal(t, 10*time.Minute, d.Delay, "never sooner than the provider asks")
		require.Contains(t, d.Reason, "held back 50m0s so far")
	})
	t.Run("BudgetSpentFails", func(t *testing.T) {
		t.Parallel()
		in := in
		in.DeferredFor = MaxDeferral
		require.Equal(t, ActionFail, Decide(in).Action)
	})
	t.Run("OtherClassesStillFail", func(t *testing.T) {
		t.Parallel()
		in := in
		in.Failure.Class = ClassTransient
		in.AttemptsOnAccount = 4
		require.Equal(t, ActionFail, Decide(in).Action)
	})
	t.Run("MaxAttemptsStillApplies", func(t *testing.T) {
		t.Parallel()
		in := in
		in.MaxAttempts = 6
		require.Equal(t, ActionFail, Decide(in).Action, "the workflow leaves throttled attempts out of TotalAttempts")
	})
}
