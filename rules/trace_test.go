package rules

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// update rewrites the golden files: go test ./rules/ -run TestTrace -update.
// A test flag has to be registered at package level, before testing parses
// the command line.
var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current decisions")

// traceMessage is one message's life: the failure of each attempt, in order.
type traceMessage struct {
	name         string
	providerKind string
	messageType  string
	pool         int // accounts in the channel's pool
	maxAttempts  int
	failures     []Failure
}

// runTrace plays each message's failures through Decide the way a send
// workflow would (retry keeps the account, switch moves to the next one, fail
// ends the message) and writes every decision.
func runTrace(rules []Rule, msgs []traceMessage) string {
	var b strings.Builder
	start := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	for i, m := range msgs {
		if i > 0 {
			b.WriteString("\n")
		}
		limit := "no attempt cap"
		if m.maxAttempts > 0 {
			limit = fmt.Sprintf("at most %d attempts", m.maxAttempts)
		}
		fmt.Fprintf(&b, "== %s (%s/%s, pool of %d, %s)\n", m.name, m.providerKind, m.messageType, m.pool, limit)
		account, onAccount, total := 1, 0, 0
		var elapsed time.Duration
		failed := false
		for _, f := range m.failures {
			onAccount++
			total++
			f.ProviderKind, f.MessageType = m.providerKind, m.messageType
			d := Decide(Input{
				Now:               start.Add(elapsed),
				Rules:             rules,
				Failure:           f,
				AttemptsOnAccount: onAccount,
				TotalAttempts:     total,
				MaxAttempts:       m.maxAttempts,
				AccountsLeft:      m.pool - account,
			})
			alert := ""
			if d.Alert {
				alert = " ALERT"
			}
			code := f.Code
			if code == "" {
				code = "-"
			}
			if f.RetryAfter > 0 {
				code += fmt.Sprintf(" (retry after %s)", f.RetryAfter)
			}
			fmt.Fprintf(&b, "%2d. t=%-6s account %d try %d  %s/%s %s\n", total, elapsed, account, onAccount, f.Scene, f.Class, code)
			fmt.Fprintf(&b, "    -> %s", d.Action)
			if d.Delay > 0 {
				fmt.Fprintf(&b, " after %s", d.Delay)
			}
			fmt.Fprintf(&b, "%s [rule %d %s]\n", alert, d.RuleID, d.RuleName)
			fmt.Fprintf(&b, "    %s\n", d.Reason)

			elapsed += d.Delay
			switch d.Action {
			case ActionSwitch:
				account++
				onAccount = 0
			case ActionFail:
				failed = true
			}
			if failed {
				break
			}
		}
		if failed {
			fmt.Fprintf(&b, "   message failed after %s and %s\n", plural(total, "attempt"), elapsed)
		} else {
			fmt.Fprintf(&b, "   trace ends; the next attempt goes to account %d at t=%s\n", account, elapsed)
		}
	}
	return b.String()
}

func sendFail(class Class, code, msg string) Failure {
	return Failure{Scene: SceneSendFailure, Class: class, Code: code, Message: msg}
}

func throttledFor(code string, after time.Duration) Failure {
	f := sendFail(ClassThrottled, code, "request limit exceeded")
	f.RetryAfter = after
	return f
}

func receiptFail(class Class, code, msg string) Failure {
	return Failure{Scene: SceneCallbackFailure, Class: class, Code: code, Message: msg}
}

func repeat(f Failure, n int) []Failure {
	out := make([]Failure, n)
	for i := range out {
		out[i] = f
	}
	return out
}

func TestTrace(t *testing.T) {
	t.Parallel()
	timeout := sendFail(ClassTransient, "InternalError.Timeout", "request timeout")

	operatorRules := []Rule{
		{ID: 1, Name: "blacklisted numbers", Scene: SceneSendFailure, Priority: 1, ProviderKind: "tencent",
			ErrorCodes: []string{"FailedOperation.PhoneNumberInBlacklist"}, Action: ActionFail},
		{ID: 2, Name: "low balance", Scene: SceneSendFailure, Priority: 5,
			ErrorKeywords: []string{"balance", "余额"}, Action: ActionAlert, Then: ActionSwitch},
		{ID: 3, Name: "tencent api throttle", Scene: SceneSendFailure, Priority: 10, ProviderKind: "tencent",
			ErrorCodes: []string{"RequestLimitExceeded"}, Action: ActionRetry, MaxRetry: 2, Delay: 3 * time.Second, BackoffRate: 3},
		{ID: 4, Name: "sms timeouts", Scene: SceneSendFailure, Priority: 10, MessageType: "sms",
			ErrorKeywords: []string{"timeout"}, Action: ActionRetry, MaxRetry: 1, Delay: 500 * time.Millisecond},
		{ID: 5, Name: "sandbox receipts resend", Scene: SceneCallbackFailure, Priority: 1, ProviderKind: "sandbox",
			Action: ActionSwitch, Delay: 30 * time.Second},
		{ID: 6, Name: "retry bad numbers anyway", Scene: SceneSendFailure, Priority: 99,
			ErrorCodes: []string{"InvalidParameterValue.IncorrectPhoneNumber"}, Action: ActionRetry, MaxRetry: 3, Delay: time.Second},
		{ID: 7, Name: "template pending", Scene: SceneSendFailure, Priority: 50,
			ErrorKeywords: []string{"template"}, Action: ActionRetry, MaxRetry: 5, Delay: time.Minute},
		{ID: 8, Name: "page on unknown", Scene: SceneSendFailure, Priority: 100,
			ErrorCodes: []string{"UnknownError"}, Action: ActionAlert, Then: ActionRetry, MaxRetry: 2, Delay: 10 * time.Second, BackoffRate: 2},
		{ID: 9, Name: "broken row", Scene: SceneSendFailure, Priority: 0, Action: "drop"},
	}

	for _, tc := range []struct {
		name  string
		rules []Rule
		msgs  []traceMessage
	}{
		{"default_policy", nil, []traceMessage{
			{"flaky provider walks the pool", "tencent", "sms", 3, 0, append(repeat(timeout, 4),
				sendFail(ClassUnknownOutcome, "", "read tcp: i/o timeout"),
				timeout,
				throttledFor("RequestLimitExceeded", 0),
				throttledFor("RequestLimitExceeded", 45*time.Second),
				timeout, timeout, timeout, timeout,
				throttledFor("RequestLimitExceeded", 0))},
			{"throttled on a single account", "webhook", "webhook", 1, 0, append(
				repeat(throttledFor("429", 0), 3),
				throttledFor("429", 2*time.Minute), throttledFor("429", 0), throttledFor("429", 0))},
			{"account trouble then bad number", "tencent", "sms", 3, 0, []Failure{
				sendFail(ClassAccount, "FailedOperation.InsufficientBalanceInSmsPackage", "insufficient balance"),
				sendFail(ClassConfig, "FailedOperation.TemplateIncorrectOrUnapproved", "template not approved"),
				sendFail(ClassPermanent, "InvalidParameterValue.IncorrectPhoneNumber", "incorrect phone number"),
			}},
			{"config everywhere", "tencent", "sms", 2, 0, repeat(
				sendFail(ClassConfig, "FailedOperation.SignatureIncorrectOrUnapproved", "signature not approved"), 3)},
			{"receipts", "tencent", "sms", 3, 0, []Failure{
				receiptFail(ClassReceiptFailed, "UNDELIV", "undelivered"),
				receiptFail(ClassReceiptTimeout, "", "no receipt within 72h"),
			}},
			{"attempt cap", "aliyun", "sms", 5, 5, repeat(timeout, 8)},
			{"unknown class", "email", "email", 2, 0, []Failure{sendFail("meltdown", "X1", "???")}},
		}},
		{"operator_rules", operatorRules, []traceMessage{
			{"tencent throttle rule then timeouts", "tencent", "sms", 3, 0, []Failure{
				throttledFor("RequestLimitExceeded", 0),
				throttledFor("RequestLimitExceeded", 0),
				throttledFor("RequestLimitExceeded", 0),
				timeout, timeout,
				throttledFor("RequestLimitExceeded", 20*time.Second),
				sendFail(ClassAccount, "FailedOperation.InsufficientBalanceInSmsPackage", "Insufficient Balance in package"),
			}},
			{"same codes on aliyun fall back to defaults", "aliyun", "sms", 2, 0, []Failure{
				throttledFor("RequestLimitExceeded", 0),
				sendFail(ClassPermanent, "FailedOperation.PhoneNumberInBlacklist", "blacklisted"),
			}},
			{"blacklist beats everything", "tencent", "sms", 3, 0, []Failure{
				sendFail(ClassPermanent, "FailedOperation.PhoneNumberInBlacklist", "number in blacklist, timeout"),
			}},
			{"guarded retries", "tencent", "voice", 3, 0, []Failure{
				sendFail(ClassConfig, "FailedOperation.TemplateIncorrectOrUnapproved", "Template not approved"),
				sendFail(ClassConfig, "FailedOperation.TemplateIncorrectOrUnapproved", "Template not approved"),
				sendFail(ClassPermanent, "InvalidParameterValue.IncorrectPhoneNumber", "incorrect number"),
			}},
			{"alert then retry", "webhook", "webhook", 2, 4, []Failure{
				sendFail(ClassUnknownOutcome, "UnknownError", "connection reset"),
				sendFail(ClassUnknownOutcome, "UnknownError", "connection reset"),
				sendFail(ClassUnknownOutcome, "UnknownError", "connection reset"),
				sendFail(ClassUnknownOutcome, "UnknownError", "connection reset"),
			}},
			{"chinese keyword", "aliyun", "sms", 2, 0, []Failure{
				sendFail(ClassAccount, "isv.AMOUNT_NOT_ENOUGH", "账户余额不足"),
				sendFail(ClassAccount, "isv.AMOUNT_NOT_ENOUGH", "账户余额不足"),
			}},
			{"sandbox receipts", "sandbox", "sms", 2, 0, []Failure{
				receiptFail(ClassReceiptTimeout, "", "no receipt"),
				receiptFail(ClassReceiptFailed, "REJECTD", "rejected by carrier"),
			}},
			{"tencent receipts use defaults", "tencent", "sms", 2, 0, []Failure{
				receiptFail(ClassReceiptTimeout, "", "no receipt"),
			}},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := runTrace(tc.rules, tc.msgs)
			path := filepath.Join("testdata", tc.name+".golden")
			if *update {
				require.NoError(t, os.MkdirAll("testdata", 0o755))
				require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "read golden file (run with -update to create it)")
			require.Equal(t, string(want), got)
		})
	}
}
