package messages

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/heraldhq/herald/activities"
	"github.com/heraldhq/herald/internal/adminhttp"
	"github.com/heraldhq/herald/rules"
	"github.com/heraldhq/herald/store"
)

// DraftRule is one rule of a draft rule set, in the fields of a stored
// rule.
type DraftRule struct {
	ID            int64   `json:"id"`
	Name          string  `json:"name"`
	Scene         string  `json:"scene"`
	Priority      int     `json:"priority"`
	ProviderKind  string  `json:"provider_kind"`
	MessageType   string  `json:"message_type"`
	ErrorCodes    string  `json:"error_codes"`
	ErrorKeywords string  `json:"error_keywords"`
	Action        string  `json:"action"`
	MaxRetry      int     `json:"max_retry"`
	DelaySeconds  int     `json:"delay_seconds"`
	BackoffRate   float64 `json:"backoff_rate"`
	ThenAction    string  `json:"then_action"`
}

// DryRunRequest is the body of POST /rules/dry-run: a draft rule set (it
// replaces every current rule) and which recorded decisions to replay, the
// last N (default 1000) or those in [since, until).
type DryRunRequest struct {
	Rules []DraftRule `json:"rules"`
	Last  int         `json:"last"`
	Since string      `json:"since"`
	Until string      `json:"until"`
}

// DryRunChange counts decisions the draft would change one way.
type DryRunChange struct {
	From    string `json:"from"`
	To      string `json:"to"`
	Count   int    `json:"count"`
	Summary string `json:"summary"`
}

// DryRunSample is one changed decision.
type DryRunSample struct {
	TaskID   string `json:"task_id"`
	Seq      int    `json:"seq"`
	Class    string `json:"class"`
	Code     string `json:"code"`
	Provider string `json:"provider_kind"`
	From     string `json:"from"`
	FromRule string `json:"from_rule"`
	To       string `json:"to"`
	ToRule   string `json:"to_rule"`
	ToReason string `json:"to_reason"`
}

// DryRunResult says what the draft would have decided differently.
type DryRunResult struct {
	// Considered counts the recorded decisions replayed; Changed those the
	// draft decides differently (another action, or the same action
	// with/without an alert).
	Considered int            `json:"considered"`
	Changed    int            `json:"changed"`
	Changes    []DryRunChange `json:"changes"`
	// Samples are up to 20 changed decisions, newest first.
	Samples []DryRunSample `json:"samples"`
}

const maxDryRunSamples = 20

// dryRun replays recorded decisions against a draft rule set. It reads
// and changes nothing else.
func (h *handlers) dryRun(c echo.Context) error {
	var req DryRunRequest
	if err := json.NewDecoder(c.Request().Body).Decode(&req); err != nil {
		return adminhttp.Invalid("body", "body must be a JSON object {rules, last | since, until}")
	}
	draft := make([]rules.Rule, 0, len(req.Rules))
	for i, d := range req.Rules {
		r, err := activities.ToRule(store.Rule{
			ID: d.ID, Name: d.Name, Scene: d.Scene, Priority: d.Priority, ProviderKind: d.ProviderKind,
			MessageType: d.MessageType, ErrorCodes: d.ErrorCodes, ErrorKeywords: d.ErrorKeywords, Action: d.Action,
			MaxRetry: d.MaxRetry, DelaySeconds: d.DelaySeconds, BackoffRate: d.BackoffRate, ThenAction: d.ThenAction,
		})
		if err != nil {
			return adminhttp.Invalid(fmt.Sprintf("rules[%d]", i), err.Error())
		}
		if r.ID == 0 {
			// Ties in priority break by id: draft rules without one keep
			// their order in the request.
			r.ID = int64(i + 1)
		}
		draft = append(draft, r)
	}
	f := store.DecisionFilter{Limit: req.Last}
	if req.Last < 0 || req.Last > store.MaxDecisions {
		return adminhttp.Invalid("last", fmt.Sprintf("last must be from 1 to %d", store.MaxDecisions))
	}
	now := h.Now()
	var err error
	if f.Since, err = parseTime(url.Values{"since": {req.Since}}, "since", now); err != nil {
		return err
	}
	if f.Until, err = parseTime(url.Values{"until": {req.Until}}, "until", now); err != nil {
		return err
	}
	if req.Last != 0 && (req.Since != "" || req.Until != "") {
		return adminhttp.Invalid("last", "give last or since/until, not both")
	}
	if req.Since != "" || req.Until != "" {
		f.Limit = store.MaxDecisions
	}
	events, err := h.Store.ListDecisions(c.Request().Context(), f)
	if err != nil {
		return adminhttp.Internal("list decisions", err)
	}
	return c.JSON(http.StatusOK, DryRun(events, draft, now))
}

// DryRun replays the decisions of events (decision events with inputs)
// against draft. It is pure.
func DryRun(events []store.MessageEvent, draft []rules.Rule, now time.Time) DryRunResult {
	res := DryRunResult{Changes: []DryRunChange{}, Samples: []DryRunSample{}}
	counts := map[[2]string]int{}
	for _, e := range events {
		var facts activities.DecisionFacts
		if err := json.Unmarshal(e.Inputs, &facts); err != nil {
			continue
		}
		res.Considered++
		d := rules.Decide(rules.Input{
			Now: now, Rules: draft, Failure: facts.Failure, AttemptsOnAccount: facts.AttemptsOnAccount,
			TotalAttempts: facts.TotalAttempts, MaxAttempts: facts.MaxAttempts, AccountsLeft: facts.AccountsLeft,
			DeferredFor: facts.DeferredFor,
		})
		from, to := outcome(facts.Decision), outcome(d)
		if from == to {
			continue
		}
		res.Changed++
		counts[[2]string{from, to}]++
		if len(res.Samples) < maxDryRunSamples {
			res.Samples = append(res.Samples, DryRunSample{
				TaskID: e.TaskID, Seq: e.Seq, Class: string(facts.Failure.Class), Code: facts.Failure.Code,
				Provider: facts.Failure.ProviderKind, From: from, FromRule: facts.Decision.RuleName,
				To: to, ToRule: d.RuleName, ToReason: d.Reason,
			})
		}
	}
	for k, n := range counts {
		res.Changes = append(res.Changes, DryRunChange{From: k[0], To: k[1], Count: n, Summary: fmt.Sprintf("%d would %s instead of %s", n, k[1], k[0])})
	}
	sort.Slice(res.Changes, func(i, j int) bool {
		a, b := res.Changes[i], res.Changes[j]
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		return a.From+a.To < b.From+b.To
	})
	return res
}

// outcome names a decision for comparison: its action, with "+alert"
// when it alerts.
func outcome(d rules.Decision) string {
	s := strings.ToLower(string(d.Action))
	if d.Alert {
		s += " and alert"
	}
	return s
}
