package breakerstatus_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/breaker"
	"github.com/heraldhq/herald/internal/breakerstatus"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/workflows"
)

type fakeStore struct {
	accounts []store.ProviderAccount
	states   []store.BreakerState
}

func (f fakeStore) ListAccounts(context.Context) ([]store.ProviderAccount, error) {
	return f.accounts, nil
}

func (f fakeStore) ListBreakerStates(context.Context) ([]store.BreakerState, error) {
	return f.states, nil
}

func (f fakeStore) ListBreakerEvents(context.Context, int64) ([]store.BreakerEvent, error) {
	return nil, errors.New("disk on fire")
}

func TestList(t *testing.T) {
	t.Parallel()
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("CST", 8*3600))
	since := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	db := fakeStore{
		accounts: []store.ProviderAccount{
			{ID: 1, Name: "quiet", Kind: "sandbox", CreatedAt: created},
			{ID: 2, Name: "tripped", Kind: "tencent"},
			{ID: 3, Name: "held-open", Kind: "aliyun"},
			{ID: 4, Name: "held-closed", Kind: "aliyun"},
		},
		states: []store.BreakerState{
			{AccountID: 2, State: "half_open", Since: since, Reason: "cool-down over", WindowFailures: 2, WindowTotal: 9},
			{AccountID: 3, State: "open", Since: since, Forced: true, Reason: "maintenance"},
			{AccountID: 4, State: "closed", Since: since, Forced: true, Reason: "vendor bug"},
			// A state of a deleted account is not listed.
			{AccountID: 99, State: "open", Since: since},
		},
	}
	rows, err := breakerstatus.List(t.Context(), db)
	require.NoError(t, err)
	require.Equal(t, []breakerstatus.Row{
		{AccountID: 1, AccountName: "quiet", ProviderKind: "sandbox", State: breaker.Closed, Since: created.UTC()},
		{AccountID: 2, AccountName: "tripped", ProviderKind: "tencent", State: breaker.HalfOpen, Since: since, Published: true, Failures: 2, Total: 9, Reason: "cool-down over"},
		{AccountID: 3, AccountName: "held-open", ProviderKind: "aliyun", State: breaker.Open, Since: since, Published: true, Forced: breakerstatus.ForcedOpen, Reason: "maintenance"},
		{AccountID: 4, AccountName: "held-closed", ProviderKind: "aliyun", State: breaker.Closed, Since: since, Published: true, Forced: breakerstatus.ForcedClosed, Reason: "vendor bug"},
	}, rows)

	_, err = breakerstatus.History(t.Context(), db, 1)
	require.ErrorContains(t, err, "breaker history: disk on fire")
}

type recordingEngine struct{ got []workflows.BreakerForce }

func (e *recordingEngine) ForceBreaker(_ context.Context, _ int64, f workflows.BreakerForce) error {
	e.got = append(e.got, f)
	return nil
}

func TestForce(t *testing.T) {
	t.Parallel()
	t.Run("OrdersMapToSignals", func(t *testing.T) {
		e := &recordingEngine{}
		for _, order := range []string{breakerstatus.OrderOpen, breakerstatus.OrderClosed, breakerstatus.OrderAuto} {
			require.NoError(t, breakerstatus.Send(t.Context(), e, 7, breakerstatus.Force{Order: order, Reason: " why \n", Actor: "olga"}))
		}
		require.Equal(t, []workflows.BreakerForce{
			{Order: workflows.BreakerForceOpen, Reason: "why", Actor: "olga"},
			{Order: workflows.BreakerForceClosed, Reason: "why", Actor: "olga"},
			{Order: workflows.BreakerForceAuto, Reason: "why", Actor: "olga"},
		}, e.got)
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		e := &recordingEngine{}
		err := breakerstatus.Send(t.Context(), e, 7, breakerstatus.Force{Order: "close", Reason: strings.Repeat("x", 501)})
		var fe *breakerstatus.FieldError
		require.ErrorAs(t, err, &fe)
		require.Equal(t, "order", fe.Field)
		require.ErrorContains(t, err, "reason must be at most 500 characters")
		require.ErrorContains(t, breakerstatus.Force{}.Validate(), "order is required")
		require.ErrorContains(t, breakerstatus.Force{Order: "auto"}.Validate(), "reason is required")
		require.Empty(t, e.got, "an invalid order is never sent")
	})
}
