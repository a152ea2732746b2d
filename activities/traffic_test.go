package activities

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/store"
)

func TestSendRefusesExpired(t *testing.T) {
	t.Parallel()
	req := SendRequest{TaskID: taskID, AccountID: 11, Attempt: 1}

	t.Run("Expired", func(t *testing.T) {
		t.Parallel()
		w := setup(t)
		m := w.st.messages[taskID]
		m.ExpiresAt = ptrTo(now)
		w.st.messages[taskID] = m
		r := req
		r.OnStart = &StatusUpdate{Status: "processing", AccountID: 11, Attempts: 1}

		_, err := runSend(t, w.acts, r)
		f, ok := DisabledOf(err)
		require.True(t, ok, err)
		require.Equal(t, CodeExpired, f.Code)
		require.Contains(t, f.Message, "nothing was sent")
		_, isProvider := FailureOf(err)
		require.False(t, isProvider)
		require.Empty(t, w.prov.messages())
		require.Empty(t, w.st.records, "nothing is written")
	})
	t.Run("NotYetExpired", func(t *testing.T) {
		t.Parallel()
		w := setup(t)
		m := w.st.messages[taskID]
		m.ExpiresAt = ptrTo(now.Add(time.Second))
		w.st.messages[taskID] = m
		_, err := runSend(t, w.acts, req)
		require.NoError(t, err)
		require.Len(t, w.prov.messages(), 1)
	})
}

func TestLoadPlanQuietHours(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	in := PlanInput{TaskID: taskID, ChannelID: 3}
	// quietNow puts now inside the quiet hours: from an hour before now to
	// an hour after, in Shanghai time.
	quietNow := func() *store.QuietHours {
		sh, err := time.LoadLocation("Asia/Shanghai")
		require.NoError(t, err)
		l := now.In(sh)
		return &store.QuietHours{Start: l.Add(-time.Hour).Format("15:04"), End: l.Add(time.Hour).Format("15:04"), TimeZone: "Asia/Shanghai"}
	}
	opening := now.Add(time.Hour).Truncate(time.Minute)

	for _, tc := range []struct {
		name  string
		edit  func(w *world)
		quiet bool
	}{
		{"None", func(*world) {}, false},
		{"Channel", func(w *world) { c := w.st.channels[3]; c.QuietHours = quietNow(); w.st.channels[3] = c }, true},
		{"OutsideWindow", func(w *world) {
			c := w.st.channels[3]
			c.QuietHours = &store.QuietHours{Start: now.Add(2 * time.Hour).UTC().Format("15:04"), End: now.Add(3 * time.Hour).UTC().Format("15:04"), TimeZone: "UTC"}
			w.st.channels[3] = c
		}, false},
		{"AppOverridesChannel", func(w *world) {
			c := w.st.channels[3]
			c.QuietHours = &store.QuietHours{Start: now.Add(2 * time.Hour).UTC().Format("15:04"), End: now.Add(3 * time.Hour).UTC().Format("15:04"), TimeZone: "UTC"}
			w.st.channels[3] = c
			a := w.st.apps["app-1"]
			a.QuietHours = quietNow()
			w.st.apps["app-1"] = a
		}, true},
		{"CriticalMessage", func(w *world) {
			c := w.st.channels[3]
			c.QuietHours = quietNow()
			w.st.channels[3] = c
			m := w.st.messages[taskID]
			m.Priority = PriorityCritical
			w.st.messages[taskID] = m
		}, false},
		{"CriticalTemplate", func(w *world) {
			c := w.st.channels[3]
			c.QuietHours = quietNow()
			w.st.channels[3] = c
			tpl := w.st.templates[*c.TemplateID]
			tpl.Critical = true
			w.st.templates[*c.TemplateID] = tpl
		}, false},
		{"InvalidIgnored", func(w *world) {
			c := w.st.channels[3]
			c.QuietHours = &store.QuietHours{Start: "25:00", End: "08:00", TimeZone: "UTC"}
			w.st.channels[3] = c
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := setup(t)
			tc.edit(w)
			p, err := w.acts.LoadPlan(ctx, in)
			require.NoError(t, err)
			if !tc.quiet {
				require.True(t, p.QuietUntil.IsZero(), "quiet until %v", p.QuietUntil)
				return
			}
			require.True(t, opening.Equal(p.QuietUntil), "got %v, want %v", p.QuietUntil, opening)
			require.Equal(t, "Asia/Shanghai", p.QuietZone)
		})
	}
}

func ptrTo[T any](v T) *T { return &v }
