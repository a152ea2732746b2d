package rules

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// FuzzDecide checks the matcher and the decision on any rule and failure:
// matching ignores ASCII case, a rule without conditions matches every
// failure of its scene and none of another, the chosen rule has the lowest
// priority among the matching ones, and the decision stays within the
// documented bounds (known action, delay between the provider's
// Retry-After and MaxDelay, no delay on a fail, the hard guards).
func FuzzDecide(f *testing.F) {
	f.Add("send_failure", "tencent", "sms", "InternalError.Timeout,LimitExceeded", "daily limit", "retry", 3, int64(1000), 2.0, 5,
		"send_failure", "throttled", "TENCENT", "SMS", "internalerror.timeout", "Daily Limit reached", int64(0), 1, 1, 5, 2, int64(0))
	f.Add("callback_failure", "", "wechat_work", "UNDELIV", "", "alert", 0, int64(0), 0.0, 0,
		"callback_failure", "receipt_failed", "sandbox", "wechat_work", "undeliv", "", int64(0), 1, 2, 0, 1, int64(0))
	f.Add("send_failure", "", "", "", "", "switch", 0, int64(3600001), 1.5, -1,
		"send_failure", "permanent", "aliyun", "sms", "isv.MOBILE_NUMBER_ILLEGAL", "bad number", int64(7200000), 9, 9, 3, 0, int64(0))
	f.Add("send_failure", "dingtalk", "", "130101", "", "retry", 100, int64(-5), -3.0, 0,
		"send_failure", "throttled", "dingtalk", "dingtalk", "130101", "send too fast", int64(60000), 200, 200, 0, 0, int64(86400000))
	f.Add("bogus", "x", "y", " , ,", "", "alert", 1, int64(1), 1e308, 7,
		"send_failure", "config", "x", "y", "", "", int64(-1), 0, 0, 1, 1, int64(-1))
	f.Fuzz(func(t *testing.T,
		scene, kind, msgType, codes, keywords, action string, maxRetry int, delayMs int64, rate float64, priority int,
		fScene, class, fKind, fType, fCode, fMessage string, retryAfterMs int64, attemptsOnAccount, totalAttempts, maxAttempts, accountsLeft int, deferredMs int64,
	) {
		if len(codes)+len(keywords)+len(fMessage)+len(kind)+len(msgType)+len(fKind)+len(fType)+len(fCode) > 4096 {
			t.Skip()
		}
		r := Rule{
			ID: 7, Name: "fuzzed", Scene: Scene(scene), Priority: priority,
			ProviderKind: kind, MessageType: msgType, ErrorCodes: ParseList(codes), ErrorKeywords: ParseList(keywords),
			Action: Action(action), MaxRetry: maxRetry, Delay: time.Duration(delayMs) * time.Millisecond, BackoffRate: rate,
			Then: ActionSwitch,
		}
		fail := Failure{
			Scene: Scene(fScene), Class: Class(class), Code: fCode, Message: fMessage, ProviderKind: fKind, MessageType: fType,
			RetryAfter: time.Duration(retryAfterMs) * time.Millisecond,
		}

		// Case-insensitive: flipping the case of every ASCII letter on either
		// side changes nothing.
		matches := r.Matches(fail)
		flipped := r
		flipped.ProviderKind, flipped.MessageType = swapASCIICase(r.ProviderKind), swapASCIICase(r.MessageType)
		flipped.ErrorCodes, flipped.ErrorKeywords = swapAll(r.ErrorCodes), swapAll(r.ErrorKeywords)
		require.Equal(t, matches, flipped.Matches(fail), "the rule's case changed the match")
		flippedFail := fail
		flippedFail.Code, flippedFail.Message = swapASCIICase(fail.Code), swapASCIICase(fail.Message)
		flippedFail.ProviderKind, flippedFail.MessageType = swapASCIICase(fail.ProviderKind), swapASCIICase(fail.MessageType)
		require.Equal(t, matches, r.Matches(flippedFail), "the failure's case changed the match")

		// A rule with no conditions matches exactly the failures of its scene.
		bare := Rule{ID: 8, Name: "bare", Scene: Scene(scene), Priority: priority + 1, Action: ActionFail}
		require.Equal(t, bare.Scene == fail.Scene, bare.Matches(fail))

		in := Input{
			Now: time.Unix(1700000000, 0), Rules: []Rule{bare, r}, Failure: fail,
			AttemptsOnAccount: attemptsOnAccount, TotalAttempts: totalAttempts, MaxAttempts: maxAttempts,
			AccountsLeft: accountsLeft, DeferredFor: time.Duration(deferredMs) * time.Millisecond,
		}
		if chosen, ok := Match(in.Rules, fail); ok {
			for _, other := range in.Rules {
				if usable(&other) && other.Matches(fail) {
					require.LessOrEqual(t, chosen.Priority, other.Priority, "a matching rule with a lower priority was passed over")
				}
			}
		}

		d := Decide(in)
		require.Contains(t, []Action{ActionRetry, ActionSwitch, ActionFail}, d.Action)
		require.GreaterOrEqual(t, d.Delay, time.Duration(0))
		require.LessOrEqual(t, d.Delay, MaxDelay)
		require.NotEmpty(t, d.RuleName)
		require.True(t, strings.HasSuffix(d.Reason, "."), d.Reason)
		switch d.Action {
		case ActionFail:
			require.Zero(t, d.Delay, "a fail does not wait")
		case ActionRetry:
			require.GreaterOrEqual(t, d.Delay, min(fail.RetryAfter, MaxDelay), "a retry comes sooner than the provider asked")
			require.NotEqual(t, ClassPermanent, normClass(Class(class)), "a permanent failure was retried")
			require.NotEqual(t, ClassConfig, normClass(Class(class)), "a config failure was retried on the same account")
		}
		if d.Action == ActionSwitch {
			require.Positive(t, accountsLeft, "switched with no account left")
		}
		if maxAttempts > 0 && totalAttempts >= maxAttempts {
			require.Equal(t, ActionFail, d.Action, "the message's attempts are used up")
		}
	})
}

func swapASCIICase(s string) string {
	b := []byte(s)
	for i, c := range b {
		switch {
		case 'a' <= c && c <= 'z':
			b[i] = c - 'a' + 'A'
		case 'A' <= c && c <= 'Z':
			b[i] = c - 'A' + 'a'
		}
	}
	return string(b)
}

func swapAll(items []string) []string {
	out := make([]string, len(items))
	for i, s := range items {
		out[i] = swapASCIICase(s)
	}
	return out
}
