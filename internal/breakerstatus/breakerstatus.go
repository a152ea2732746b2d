// Package breakerstatus is what operators read about provider accounts'
// circuit breakers, and how their orders are checked: the one source of
// `herald breaker list|history|open|close|auto` and of the operators' API
// under /admin/api/v1/breakers.
//
// The breaker workflow (workflows.BreakerWorkflow) publishes each
// account's state to the store; List joins it with the accounts, so an
// account whose breaker has never heard of a send reads closed.
package breakerstatus

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/breaker"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/workflows"
)

// Store is what List and History read.
type Store interface {
	ListAccounts(ctx context.Context) ([]store.ProviderAccount, error)
	ListBreakerStates(ctx context.Context) ([]store.BreakerState, error)
	ListBreakerEvents(ctx context.Context, accountID int64) ([]store.BreakerEvent, error)
}

// Forced values of Row.Forced.
const (
	ForcedNone   = ""
	ForcedOpen   = "open"
	ForcedClosed = "closed"
)

// Row is one account's breaker as last published.
type Row struct {
	AccountID    int64
	AccountName  string
	ProviderKind string
	// State is breaker.Closed, breaker.Open or breaker.HalfOpen.
	State breaker.State
	// Since is when the breaker entered State; for a breaker never
	// published, when the account was created (it has been closed since).
	Since time.Time
	// Published is false for a breaker that has never heard of a send.
	Published bool
	// Failures and Total count the sends of the current window.
	Failures int
	Total    int
	// Forced is ForcedOpen or ForcedClosed while an operator's order
	// holds the breaker, else ForcedNone.
	Forced string
	// Reason is why the breaker is in State.
	Reason string
}

// List returns every account's breaker, by account id.
func List(ctx context.Context, db Store) ([]Row, error) {
	accounts, err := db.ListAccounts(ctx)
	if err != nil {
		return nil, fmt.Errorf("list breakers: %w", err)
	}
	states, err := db.ListBreakerStates(ctx)
	if err != nil {
		return nil, fmt.Errorf("list breakers: %w", err)
	}
	byAccount := make(map[int64]store.BreakerState, len(states))
	for _, st := range states {
		byAccount[st.AccountID] = st
	}
	rows := make([]Row, 0, len(accounts))
	for _, a := range accounts {
		row := Row{AccountID: a.ID, AccountName: a.Name, ProviderKind: a.Kind, State: breaker.Closed, Since: a.CreatedAt.UTC()}
		if st, ok := byAccount[a.ID]; ok {
			row.State = breaker.State(st.State)
			row.Since = st.Since.UTC()
			row.Published = true
			row.Failures, row.Total = st.WindowFailures, st.WindowTotal
			row.Reason = st.Reason
			if st.Forced {
				row.Forced = forcedOf(row.State)
			}
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// forcedOf names the order that holds a forced breaker in state: only
// open and closed can be forced.
func forcedOf(state breaker.State) string {
	if state == breaker.Closed {
		return ForcedClosed
	}
	return ForcedOpen
}

// History returns an account's breaker transitions, oldest first.
func History(ctx context.Context, db Store, accountID int64) ([]store.BreakerEvent, error) {
	events, err := db.ListBreakerEvents(ctx, accountID)
	if err != nil {
		return nil, fmt.Errorf("breaker history: %w", err)
	}
	return events, nil
}

// Orders operators give, as the API spells them.
const (
	OrderOpen   = "open"
	OrderClosed = "closed"
	OrderAuto   = "auto"
)

// MaxReasonLength bounds an order's reason, which goes into the audit
// trail and the alert.
const MaxReasonLength = 500

// Force is an operator's order to an account's breaker.
type Force struct {
	// Order is OrderOpen, OrderClosed or OrderAuto.
	Order  string
	Reason string
	// Actor names who gives the order, for the breaker's audit trail.
	Actor string
}

// FieldError says which field of an order is wrong and how to fix it.
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

// Validate lists every problem of the order; each is a *FieldError.
func (f Force) Validate() error {
	var errs []error
	switch f.Order {
	case OrderOpen, OrderClosed, OrderAuto:
	case "":
		errs = append(errs, &FieldError{"order", "order is required: open, closed or auto"})
	default:
		errs = append(errs, &FieldError{"order", fmt.Sprintf("order %q is not one of open, closed or auto", f.Order)})
	}
	if strings.TrimSpace(f.Reason) == "" {
		errs = append(errs, &FieldError{"reason", "reason is required: it goes into the breaker's audit trail and the alert"})
	} else if len(f.Reason) > MaxReasonLength {
		errs = append(errs, &FieldError{"reason", fmt.Sprintf("reason must be at most %d characters", MaxReasonLength)})
	}
	return errors.Join(errs...)
}

// Signal turns a valid order into the breaker workflow's signal.
func (f Force) Signal() workflows.BreakerForce {
	order := f.Order
	switch f.Order {
	case OrderOpen:
		order = workflows.BreakerForceOpen
	case OrderClosed:
		order = workflows.BreakerForceClosed
	case OrderAuto:
		order = workflows.BreakerForceAuto
	}
	return workflows.BreakerForce{Order: order, Reason: strings.TrimSpace(f.Reason), Actor: f.Actor}
}

// Engine delivers orders to breaker workflows (workflows.Client).
type Engine interface {
	ForceBreaker(ctx context.Context, accountID int64, f workflows.BreakerForce) error
}

// Send validates f and sends it to the breaker of accountID.
func Send(ctx context.Context, engine Engine, accountID int64, f Force) error {
	if err := f.Validate(); err != nil {
		return err
	}
	return engine.ForceBreaker(ctx, accountID, f.Signal())
}
