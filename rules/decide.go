package rules

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// Failure describes what just went wrong with one message.
type Failure struct {
	Scene Scene
	// Class is one of the Class* constants; any other value is an unknown
	// class, which the default policy fails and alerts on.
	Class Class
	// Code is the vendor's own error code, matched by Rule.ErrorCodes.
	Code string
	// Message is the vendor's error text, searched by Rule.ErrorKeywords.
	Message      string
	ProviderKind string
	MessageType  string
	// RetryAfter is the provider's hint of when the same account may be
	// tried again. Retry delays are never shorter (up to MaxDelay).
	RetryAfter time.Duration
}

// Input is everything Decide looks at.
type Input struct {
	// Now is the time of the decision. No current policy depends on it; it
	// is part of the input so that any future time-aware policy stays a
	// pure function of its input.
	Now time.Time
	// Rules are the candidate rules in any order; Decide orders them.
	Rules   []Rule
	Failure Failure
	// AttemptsOnAccount counts the attempts made on the current account,
	// including the one that just failed (at least 1).
	AttemptsOnAccount int
	// TotalAttempts counts the attempts made for this message across all
	// accounts (at least 1).
	TotalAttempts int
	// MaxAttempts caps TotalAttempts; 0 means no cap.
	MaxAttempts int
	// AccountsLeft counts the enabled accounts of the pool that have not yet
	// failed for this message.
	AccountsLeft int
	// DeferredFor is how long the message has already waited because
	// providers throttled it. While it is under MaxDeferral, a throttled
	// failure whose retries ran out and that has no account to switch to
	// keeps waiting instead of failing: throttling delays a message, it
	// never drops it.
	DeferredFor time.Duration
}

// MaxDeferral bounds how long throttling may hold a message back before a
// throttled failure is treated like any other.
const MaxDeferral = 24 * time.Hour

// Decision is what to do next with a failed message.
type Decision struct {
	// Action is ActionRetry, ActionSwitch or ActionFail, never ActionAlert:
	// alerting is the Alert flag.
	Action Action
	// Delay is how long to wait before retrying or switching; 0 for fail.
	Delay time.Duration
	// Alert asks for an operator alert, whatever the Action.
	Alert bool
	// RuleID and RuleName identify the rule that decided; 0 and
	// DefaultRuleName for the default policy.
	RuleID   int64
	RuleName string
	// Reason is one sentence for the message timeline.
	Reason string
}

// DefaultRuleName is Decision.RuleName when the default policy decided.
const DefaultRuleName = "default"

// Decide returns what to do after in.Failure. The first rule that matches
// the failure (see Match) decides; when none matches, DefaultPolicy does.
// Either way the hard guards apply last: a permanent failure is never retried
// on the same account, a config failure switches account instead of
// retrying, and once TotalAttempts reaches a non-zero MaxAttempts every retry
// or switch becomes a fail.
//
// Decide is pure and deterministic. It does not require rules to pass
// Validate: it ignores a rule whose scene, action or then-action it does not
// know, and reads a negative MaxRetry or Delay as 0, a Delay above MaxDelay
// as MaxDelay, and a BackoffRate below 1 as 1.
func Decide(in Input) Decision {
	if r, ok := Match(in.Rules, in.Failure); ok {
		return decide(in, planFor(r), fmt.Sprintf("Rule %q (#%d)", r.Name, r.ID), r.ID, r.Name)
	}
	return DefaultPolicy(in)
}

// DefaultPolicy returns the decision for in when no rule matches, ignoring
// in.Rules. The hard guards of Decide apply. The policy per class is listed
// in the package documentation.
func DefaultPolicy(in Input) Decision {
	class := normClass(in.Failure.Class)
	p, known := defaultPlan(class)
	who := fmt.Sprintf("Default policy (%s)", class)
	if !known {
		who = fmt.Sprintf("Default policy (unknown class %q)", class)
	}
	return decide(in, p, who, 0, DefaultRuleName)
}

// Match returns the rule that decides f among rules: the matching rule with
// the lowest Priority, ties broken by the lowest ID and then by position in
// rules. Rules with an unknown scene, action or then-action are skipped.
func Match(rules []Rule, f Failure) (Rule, bool) {
	best := -1
	for i := range rules {
		r := &rules[i]
		if !usable(r) || !r.Matches(f) {
			continue
		}
		if best < 0 || r.Priority < rules[best].Priority ||
			(r.Priority == rules[best].Priority && r.ID < rules[best].ID) {
			best = i
		}
	}
	if best < 0 {
		return Rule{}, false
	}
	return rules[best], true
}

// Matches reports whether r's criteria select f: same scene, ProviderKind
// and MessageType empty or equal, ErrorCodes empty or holding f.Code, and
// ErrorKeywords empty or one of them found in f.Message. Text comparisons
// ignore case and surrounding space; blank list items are ignored.
func (r Rule) Matches(f Failure) bool {
	if r.Scene != f.Scene {
		return false
	}
	if !anyOrEqual(r.ProviderKind, f.ProviderKind) || !anyOrEqual(r.MessageType, f.MessageType) {
		return false
	}
	if !listMatches(r.ErrorCodes, func(c string) bool { return strings.EqualFold(c, strings.TrimSpace(f.Code)) }) {
		return false
	}
	msg := strings.ToLower(f.Message)
	return listMatches(r.ErrorKeywords, func(k string) bool { return strings.Contains(msg, strings.ToLower(k)) })
}

func anyOrEqual(want, got string) bool {
	want = strings.TrimSpace(want)
	return want == "" || strings.EqualFold(want, strings.TrimSpace(got))
}

// listMatches reports whether items is empty (after dropping blank items) or
// one item satisfies ok.
func listMatches(items []string, ok func(string) bool) bool {
	empty := true
	for _, it := range items {
		if it = strings.TrimSpace(it); it == "" {
			continue
		}
		if ok(it) {
			return true
		}
		empty = false
	}
	return empty
}

func usable(r *Rule) bool {
	if !r.Scene.Valid() || !r.Action.Valid() {
		return false
	}
	return r.Action != ActionAlert || r.Then == "" || (r.Then.Valid() && r.Then != ActionAlert)
}

func normClass(c Class) Class { return Class(strings.ToLower(strings.TrimSpace(string(c)))) }

// plan is a rule or a default-policy entry reduced to what decide needs.
type plan struct {
	action   Action // retry, switch or fail
	alert    bool
	maxRetry int
	delay    time.Duration
	rate     float64
	// failNote explains a plain fail in the reason, starting with ", ".
	failNote string
}

func planFor(r Rule) plan {
	p := plan{action: r.Action, maxRetry: max(r.MaxRetry, 0), delay: min(max(r.Delay, 0), MaxDelay), rate: r.BackoffRate}
	if p.action == ActionAlert {
		p.alert = true
		p.action = r.Then
		if p.action == "" {
			p.action = ActionFail
		}
	}
	return p
}

// Default policy settings; see doc.go.
const (
	transientRetries = 3
	transientDelay   = time.Second
	throttledRetries = 5
	throttledDelay   = 5 * time.Second
	defaultRate      = 2
)

func defaultPlan(class Class) (plan, bool) {
	switch class {
	case ClassTransient, ClassUnknownOutcome:
		return plan{action: ActionRetry, maxRetry: transientRetries, delay: transientDelay, rate: defaultRate}, true
	case ClassThrottled:
		return plan{action: ActionRetry, maxRetry: throttledRetries, delay: throttledDelay, rate: defaultRate}, true
	case ClassAccount:
		return plan{action: ActionSwitch, alert: true}, true
	case ClassConfig, ClassReceiptFailed:
		return plan{action: ActionSwitch}, true
	case ClassPermanent:
		return plan{action: ActionFail, failNote: ", no account will accept this message"}, true
	case ClassReceiptTimeout:
		return plan{action: ActionFail, failNote: ", a re-send without a receipt could deliver the message twice"}, true
	}
	return plan{action: ActionFail, alert: true}, false
}

// decide applies p to in, then the hard guards, and words the reason.
func decide(in Input, p plan, who string, ruleID int64, ruleName string) Decision {
	n := max(in.AttemptsOnAccount, 1)
	var (
		action Action
		delay  time.Duration
		phrase string
	)
	switch p.action {
	case ActionRetry:
		switch {
		case n <= p.maxRetry:
			action = ActionRetry
			delay = backoff(p.delay, p.rate, n, in.Failure.RetryAfter)
			phrase = fmt.Sprintf("retrying on the same account%s (retry %d of %d)", inDelay(delay), n, p.maxRetry)
		case in.AccountsLeft > 0:
			action = ActionSwitch
			phrase = fmt.Sprintf("switching to another account after %s on this one", plural(n, "attempt"))
		case in.Failure.Class == ClassThrottled && in.DeferredFor < MaxDeferral:
			action = ActionRetry
			delay = backoff(p.delay, p.rate, p.maxRetry, in.Failure.RetryAfter)
			phrase = fmt.Sprintf("still throttled and no other account is left; waiting%s (held back %s so far)", inDelay(delay), in.DeferredFor)
		default:
			action = ActionFail
			phrase = fmt.Sprintf("failing after %s on this account, no other account is left", plural(n, "attempt"))
		}
	case ActionSwitch:
		if in.AccountsLeft > 0 {
			action, delay = ActionSwitch, p.delay
			phrase = "switching to another account" + inDelay(delay)
		} else {
			action = ActionFail
			phrase = "failing, no other account is left"
		}
	default:
		action = ActionFail
		phrase = "failing" + p.failNote
	}

	final, finalDelay, whys := guard(in, action, delay)

	var b strings.Builder
	b.WriteString(who)
	b.WriteString(": ")
	if p.alert {
		b.WriteString("alerting, then ")
	}
	if len(whys) == 0 {
		b.WriteString(phrase)
	} else {
		if final == ActionSwitch {
			b.WriteString("switching to another account")
		} else {
			b.WriteString("failing")
		}
		b.WriteString(" instead of ")
		b.WriteString(phrase)
		b.WriteString(", because ")
		b.WriteString(strings.Join(whys, " and "))
	}
	b.WriteString(".")

	return Decision{
		Action:   final,
		Delay:    finalDelay,
		Alert:    p.alert,
		RuleID:   ruleID,
		RuleName: ruleName,
		Reason:   b.String(),
	}
}

// guard applies the rules no operator rule can override. It returns the
// final action and delay, and why it changed them (empty when it did not).
func guard(in Input, action Action, delay time.Duration) (Action, time.Duration, []string) {
	var whys []string
	if action == ActionRetry {
		switch normClass(in.Failure.Class) {
		case ClassPermanent:
			// The message itself is bad: no account will take it, so a
			// retry does not turn into a switch either.
			action, delay = ActionFail, 0
			whys = append(whys, "a permanent failure cannot succeed on any account")
		case ClassConfig:
			if in.AccountsLeft > 0 {
				action, delay = ActionSwitch, 0
				whys = append(whys, "a config failure is not retried on the same account")
			} else {
				action, delay = ActionFail, 0
				whys = append(whys, "a config failure is not retried on the same account and no other account is left")
			}
		}
	}
	if (action == ActionRetry || action == ActionSwitch) && in.MaxAttempts > 0 && in.TotalAttempts >= in.MaxAttempts {
		action, delay = ActionFail, 0
		whys = append(whys, fmt.Sprintf("the message has reached its limit of %d attempts", in.MaxAttempts))
	}
	return action, delay, whys
}

// backoff returns base*rate^(n-1), rounded to the millisecond, at least
// floor, and at most MaxDelay. A rate below 1 counts as 1.
func backoff(base time.Duration, rate float64, n int, floor time.Duration) time.Duration {
	var d time.Duration
	if base > 0 {
		if math.IsNaN(rate) || rate < 1 {
			rate = 1
		}
		f := float64(base) * math.Pow(rate, float64(n-1))
		if f < float64(MaxDelay) {
			d = time.Duration(f).Round(time.Millisecond)
		} else {
			d = MaxDelay
		}
	}
	return min(max(d, floor), MaxDelay)
}

func inDelay(d time.Duration) string {
	if d <= 0 {
		return ""
	}
	return " in " + d.String()
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
