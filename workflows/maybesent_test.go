package workflows_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/activities"
	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/workflows"
)

// TestFinalUpdateSaysMaybeSent pins the typed flag the store settles a
// failed message's quota unit by: set after an unknown outcome, never
// otherwise.
func TestFinalUpdateSaysMaybeSent(t *testing.T) {
	t.Parallel()
	final := func(h *harness) activities.StatusUpdate {
		h.mu.Lock()
		defer h.mu.Unlock()
		for i := len(h.updates) - 1; i >= 0; i-- {
			if h.updates[i].Final {
				return h.updates[i]
			}
		}
		t.Fatal("no final update")
		return activities.StatusUpdate{}
	}
	for name, tc := range map[string]struct {
		class providers.Class
		want  bool
	}{
		"UnknownOutcome": {providers.ClassUnknownOutcome, true},
		"Permanent":      {providers.ClassPermanent, false},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			// A webhook account that cannot be asked and does not resend:
			// an unknown outcome ends the message failed at once.
			acc := hook(1)
			acc.FailOnUnknownOutcome = true
			plan := newPlan(acc)
			plan.MaxAttempts = 1
			h := setup(t, plan)
			h.send = func(int, activities.SendRequest) (activities.SendResult, error) {
				return activities.SendResult{}, providerErr(tc.class, "X", "x", 0)
			}
			res := h.run(t, input())
			require.Equal(t, workflows.StatusFailed, res.Status)
			require.Equal(t, tc.want, final(h).MaybeSent)
		})
	}
}
