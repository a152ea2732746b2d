package rules_test

import (
	"fmt"
	"time"

	"github.com/heraldhq/herald/rules"
)

func ExampleDecide() {
	throttle := rules.Rule{
		ID: 1, Name: "tencent throttle", Scene: rules.SceneSendFailure, Priority: 10,
		ProviderKind: "tencent", ErrorCodes: rules.ParseList("RequestLimitExceeded, RequestLimitExceeded.IPLimitExceeded"),
		Action: rules.ActionRetry, MaxRetry: 2, Delay: 3 * time.Second, BackoffRate: 2,
	}
	if err := throttle.Validate(); err != nil {
		fmt.Println(err)
		return
	}

	in := rules.Input{
		Rules: []rules.Rule{throttle},
		Failure: rules.Failure{
			Scene: rules.SceneSendFailure, Class: rules.ClassThrottled, Code: "RequestLimitExceeded",
			Message: "request limit exceeded", ProviderKind: "tencent", MessageType: "sms",
		},
		AttemptsOnAccount: 2,
		TotalAttempts:     2,
		AccountsLeft:      1,
	}
	d := rules.Decide(in)
	fmt.Println(d.Action, d.Delay, d.RuleName)
	fmt.Println(d.Reason)

	// Retries used up: the rule moves on to the next account.
	in.AttemptsOnAccount, in.TotalAttempts = 3, 3
	fmt.Println(rules.Decide(in).Reason)
	// Output:
	// retry 6s tencent throttle
	// Rule "tencent throttle" (#1): retrying on the same account in 6s (retry 2 of 2).
	// Rule "tencent throttle" (#1): switching to another account after 3 attempts on this one.
}

func ExampleRule_Validate() {
	r := rules.Rule{Name: "page", Scene: "send", Action: rules.ActionAlert, Then: rules.ActionAlert, BackoffRate: 0.5}
	fmt.Println(r.Validate())
	// Output:
	// invalid rule "page": unknown scene "send" (want send_failure or callback_failure); then_action of an alert rule cannot be alert again (want retry, switch or fail); backoff_rate 0.5 is below 1 (use 0 or 1 for a constant delay)
}
