// Package rules decides what Herald does after a message fails: retry on the
// same account, switch to another account of the channel's pool, or fail,
// and whether to alert an operator.
//
// The package is pure: Decide is a function of its Input (the failure, the
// attempt counts, the accounts left and the operator's rules) and returns a
// Decision value. It reads no clock, does no I/O and imports only the
// standard library, so workflows can call it from a local activity and tests
// can replay long traces exactly.
//
// # Rules
//
// A Rule is written for one Scene (a failed send, or a failed or missing
// delivery receipt) and may narrow itself to a provider kind, a message
// type, vendor error codes and keywords of the error text. Among the rules
// that match a failure, the one with the lowest Priority (then the lowest
// ID) decides:
//
//   - retry: send again through the same account while AttemptsOnAccount
//     <= MaxRetry, after Delay*BackoffRate^(AttemptsOnAccount-1) (a
//     BackoffRate of 0 keeps the delay constant; rounded to the
//     millisecond), never sooner than the provider's RetryAfter; then switch
//     account at once, or fail when none is left.
//   - switch: send through another account after Delay, or fail when none
//     is left.
//   - fail: give the message up.
//   - alert: raise Decision.Alert, then do what Then says (retry, switch or
//     fail; empty means fail).
//
// Every delay is capped at MaxDelay (one hour), RetryAfter included.
//
// # Guards
//
// Some outcomes no rule can override. A permanent failure (the message
// itself is bad) is never retried on the same account: a retry becomes a
// fail, not a switch, since no account would accept the message. A switch
// still stands (a switch rule, or a retry rule whose retries on this account
// are used up), because an operator asked for it. A config failure
// (template or signature not approved on this account) is never retried on
// the same account: a retry becomes an immediate switch, or a fail when no
// account is left. And once TotalAttempts reaches a non-zero MaxAttempts,
// every retry or switch becomes a fail.
//
// # Default policy
//
// When no rule matches, DefaultPolicy decides by failure class:
//
//	transient, unknown_outcome  retry up to 3 times, after 1s, 2s, 4s (at least RetryAfter); then switch, then fail
//	throttled                   retry up to 5 times, after 5s, 10s, 20s, 40s, 80s (at least RetryAfter); then switch, then fail
//	account                     alert, and switch (fail when no account is left)
//	config                      switch (fail when no account is left)
//	permanent                   fail
//	receipt_failed              switch (fail when no account is left)
//	receipt_timeout             fail: re-sending without a receipt could deliver the message twice
//	any other class             alert, and fail
//
// The guards apply to the default policy too.
//
// # Usage
//
// The caller keeps the attempt counts and applies the decision:
//
//	d := rules.Decide(rules.Input{
//		Now:   now,
//		Rules: loaded, // e.g. the enabled rules of the scene, converted from storage
//		Failure: rules.Failure{
//			Scene:        rules.SceneSendFailure,
//			Class:        perr.Class, // providers.Class is rules.Class
//			Code:         perr.Code,
//			Message:      perr.Message,
//			ProviderKind: account.Kind,
//			MessageType:  msg.MessageType,
//			RetryAfter:   perr.RetryAfter,
//		},
//		AttemptsOnAccount: attemptsOnAccount,
//		TotalAttempts:     totalAttempts,
//		MaxAttempts:       maxAttempts,
//		AccountsLeft:      accountsLeft,
//	})
//	if d.Alert {
//		alertOperator(d.Reason)
//	}
//	switch d.Action {
//	case rules.ActionRetry:
//		// wait d.Delay, then send again through the same account
//	case rules.ActionSwitch:
//		// wait d.Delay, then send through the next account of the pool
//	case rules.ActionFail:
//		// mark the message failed
//	}
//
// Rules read from storage are converted with ParseScene, ParseAction and
// ParseList, and checked with Rule.Validate before they are saved.
package rules
