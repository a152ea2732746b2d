package rules

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// Scene says at which point of a message's life a failure happened. Rules
// are written for one scene.
type Scene string

// Scenes. The string values are stable: they are stored with each rule.
const (
	// SceneSendFailure is a failed send request to a provider.
	SceneSendFailure Scene = "send_failure"
	// SceneCallbackFailure is a message the provider accepted but then
	// reported as not delivered, or never reported on in time.
	SceneCallbackFailure Scene = "callback_failure"
)

// Valid reports whether s is one of the known scenes.
func (s Scene) Valid() bool {
	return s == SceneSendFailure || s == SceneCallbackFailure
}

// ParseScene reads a scene name, ignoring case and surrounding space.
func ParseScene(s string) (Scene, error) {
	sc := Scene(strings.ToLower(strings.TrimSpace(s)))
	if !sc.Valid() {
		return "", fmt.Errorf("parse scene: unknown scene %q (want %s or %s)", s, SceneSendFailure, SceneCallbackFailure)
	}
	return sc, nil
}

// Action is what a rule asks for after a failure.
type Action string

// Actions. The string values are stable: they are stored with each rule.
const (
	// ActionRetry sends again through the same account, with a backoff,
	// until the rule's MaxRetry is used up; then it switches account, or
	// fails when no account is left.
	ActionRetry Action = "retry"
	// ActionSwitch sends through another account of the channel's pool, or
	// fails when no account is left.
	ActionSwitch Action = "switch"
	// ActionFail gives the message up.
	ActionFail Action = "fail"
	// ActionAlert raises an alert and then does what the rule's Then says.
	// It never appears in a Decision: there it is the Alert flag.
	ActionAlert Action = "alert"
)

// Valid reports whether a is one of the known actions.
func (a Action) Valid() bool {
	switch a {
	case ActionRetry, ActionSwitch, ActionFail, ActionAlert:
		return true
	}
	return false
}

// ParseAction reads an action name, ignoring case and surrounding space. An
// empty string is an error; a rule's empty Then is not parsed but means fail.
func ParseAction(s string) (Action, error) {
	a := Action(strings.ToLower(strings.TrimSpace(s)))
	if !a.Valid() {
		return "", fmt.Errorf("parse action: unknown action %q (want %s, %s, %s or %s)",
			s, ActionRetry, ActionSwitch, ActionFail, ActionAlert)
	}
	return a, nil
}

// Class says what kind of failure happened, so Decide can choose between
// retrying, switching account and failing. It is Herald's one failure
// vocabulary: providers report the first six (package providers names this
// type and re-exports them), the send workflow adds the receipt classes for
// the callback_failure scene. The string values are stable: they are stored
// on the message timeline and matched by rules.
type Class string

// Failure classes.
const (
	// ClassTransient is a passing fault on the provider's side; the same
	// account may succeed if tried again later.
	ClassTransient Class = "transient"
	// ClassThrottled means the provider asked us to slow down.
	ClassThrottled Class = "throttled"
	// ClassAccount is a problem with the account itself (credentials,
	// balance, suspension, daily cap): switch to another account and alert.
	ClassAccount Class = "account"
	// ClassPermanent means the message itself is bad (receiver, content,
	// parameters); no account will accept it.
	ClassPermanent Class = "permanent"
	// ClassConfig means a template or signature is not approved on this
	// account; another account may have an approved equivalent.
	ClassConfig Class = "config"
	// ClassUnknownOutcome means the request may or may not have been
	// accepted (for example a timeout after the request was written). It
	// must not be blindly re-sent.
	ClassUnknownOutcome Class = "unknown_outcome"
	// ClassReceiptFailed is a receipt in which the provider reported that
	// the message was not delivered.
	ClassReceiptFailed Class = "receipt_failed"
	// ClassReceiptTimeout means no receipt arrived in time.
	ClassReceiptTimeout Class = "receipt_timeout"
)

// FromProvider reports whether c is one of the classes a provider reports
// for a failed send (the first six).
func (c Class) FromProvider() bool {
	switch c {
	case ClassTransient, ClassThrottled, ClassAccount, ClassPermanent, ClassConfig, ClassUnknownOutcome:
		return true
	}
	return false
}

// Valid reports whether c is one of the known classes.
func (c Class) Valid() bool {
	return c.FromProvider() || c == ClassReceiptFailed || c == ClassReceiptTimeout
}

// MaxDelay caps every delay a Decision asks for, so a single decision never
// parks a message for longer than this.
const MaxDelay = time.Hour

// Rule is one operator-written failure rule. Its zero values mean "any" for
// the match criteria.
type Rule struct {
	ID   int64
	Name string
	// Scene is the kind of failure the rule is written for.
	Scene Scene
	// Priority orders rules: lower runs first, ties by ID.
	Priority int

	// ProviderKind and MessageType restrict the rule to one provider kind
	// and one message type; empty matches any. Compared case-insensitively.
	ProviderKind string
	MessageType  string
	// ErrorCodes restricts the rule to these vendor error codes
	// (case-insensitive); empty matches any.
	ErrorCodes []string
	// ErrorKeywords restricts the rule to failures whose message contains
	// one of these words (case-insensitive); empty matches any.
	ErrorKeywords []string

	Action Action
	// MaxRetry is how many times ActionRetry sends again through the same
	// account before switching.
	MaxRetry int
	// Delay is the wait before a retry (the first one; later ones grow by
	// BackoffRate) or before a switch.
	Delay time.Duration
	// BackoffRate multiplies the retry delay after each retry; 0 means a
	// constant delay.
	BackoffRate float64
	// Then is what an ActionAlert rule does after alerting: retry, switch or
	// fail; empty means fail. Other actions ignore it.
	Then Action
}

// ParseList splits a comma-separated list into its trimmed, non-empty items.
// It returns nil when s has no items.
func ParseList(s string) []string {
	var out []string
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// ValidationError lists everything wrong with a rule.
type ValidationError struct {
	// Rule names the rule: its quoted name, or "#<ID>" when it has none.
	Rule string
	// Problems are short sentences, one per problem, in field order.
	Problems []string
}

// Error joins the problems into one line.
func (e *ValidationError) Error() string {
	return fmt.Sprintf("invalid rule %s: %s", e.Rule, strings.Join(e.Problems, "; "))
}

// Validate checks r and returns a *ValidationError naming every problem, or
// nil. Decide tolerates rules that fail it (see Decide), but rules should be
// validated before they are stored.
func (r Rule) Validate() error {
	var p []string
	add := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }

	if strings.TrimSpace(r.Name) == "" {
		add("name is required")
	}
	switch {
	case r.Scene == "":
		add("scene is required")
	case !r.Scene.Valid():
		add("unknown scene %q (want %s or %s)", r.Scene, SceneSendFailure, SceneCallbackFailure)
	}
	if r.Priority < 0 {
		add("priority %d is negative", r.Priority)
	}
	if hasBlank(r.ErrorCodes) {
		add("error_codes has a blank item")
	}
	if hasBlank(r.ErrorKeywords) {
		add("error_keywords has a blank item")
	}

	switch {
	case r.Action == "":
		add("action is required")
	case !r.Action.Valid():
		add("unknown action %q (want %s, %s, %s or %s)", r.Action, ActionRetry, ActionSwitch, ActionFail, ActionAlert)
	}
	// What the rule does in the end: the action itself, or Then for alerts.
	effective := r.Action
	if r.Action == ActionAlert {
		effective = r.Then
		switch {
		case r.Then == ActionAlert:
			add("then_action of an alert rule cannot be alert again (want %s, %s or %s)", ActionRetry, ActionSwitch, ActionFail)
		case r.Then != "" && !r.Then.Valid():
			add("unknown then_action %q (want %s, %s or %s)", r.Then, ActionRetry, ActionSwitch, ActionFail)
		}
	}

	switch {
	case r.MaxRetry < 0:
		add("max_retry %d is negative", r.MaxRetry)
	case effective == ActionRetry && r.MaxRetry == 0:
		// Such a rule would never retry and would read as a switch rule.
		add("max_retry must be at least 1 for a rule that retries")
	}
	switch {
	case r.Delay < 0:
		add("delay %s is negative", r.Delay)
	case r.Delay > MaxDelay:
		add("delay %s exceeds the maximum of %s", r.Delay, MaxDelay)
	}
	switch {
	case math.IsNaN(r.BackoffRate) || math.IsInf(r.BackoffRate, 0):
		add("backoff_rate %v is not a finite number", r.BackoffRate)
	case r.BackoffRate < 0:
		add("backoff_rate %v is negative", r.BackoffRate)
	case r.BackoffRate > 0 && r.BackoffRate < 1:
		// A rate below 1 would shrink the delay after every retry.
		add("backoff_rate %v is below 1 (use 0 or 1 for a constant delay)", r.BackoffRate)
	}

	if len(p) == 0 {
		return nil
	}
	name := r.Name
	if strings.TrimSpace(name) == "" {
		name = fmt.Sprintf("#%d", r.ID)
	} else {
		name = fmt.Sprintf("%q", name)
	}
	return &ValidationError{Rule: name, Problems: p}
}

func hasBlank(items []string) bool {
	for _, s := range items {
		if strings.TrimSpace(s) == "" {
			return true
		}
	}
	return false
}
