package store

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestChannels(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		tpl := &Template{Name: "t", Content: "{{code}}", Variables: []string{"code"}}
		require.NoError(t, db.CreateTemplate(ctx, tpl))

		ch := &Channel{
			Name: "login-sms", Type: ChannelSMS, TemplateID: &tpl.ID, SignatureNames: []string{"Acme", "Acme Shop"},
			SignatureRequired: true, Enabled: true, ReceiptTimeoutSeconds: 300, MaxAttempts: 3,
		}
		require.NoError(t, db.CreateChannel(ctx, ch))
		require.NotZero(t, ch.ID)

		t.Run("Get", func(t *testing.T) {
			got, err := db.GetChannel(ctx, ch.ID)
			require.NoError(t, err)
			require.Equal(t, ch, got)
		})
		t.Run("FindByName", func(t *testing.T) {
			got, err := db.FindChannelByName(ctx, "login-sms")
			require.NoError(t, err)
			require.Equal(t, ch, got)
			_, err = db.FindChannelByName(ctx, "nope")
			require.ErrorIs(t, err, ErrNotFound)
		})
		t.Run("ErrNotFound", func(t *testing.T) {
			_, err := db.GetChannel(ctx, ch.ID+100)
			require.ErrorIs(t, err, ErrNotFound)
			require.ErrorIs(t, db.UpdateChannel(ctx, ch.ID+100, ChannelPatch{Enabled: ptr(true)}), ErrNotFound)
		})
		t.Run("ErrConflictName", func(t *testing.T) {
			require.ErrorIs(t, db.CreateChannel(ctx, &Channel{Name: "login-sms", Type: ChannelEmail}), ErrConflict)
		})
		t.Run("UnknownTemplate", func(t *testing.T) {
			missing := tpl.ID + 100
			require.ErrorIs(t, db.CreateChannel(ctx, &Channel{Name: "x", Type: ChannelSMS, TemplateID: &missing}), ErrNotFound)
		})
		t.Run("Update", func(t *testing.T) {
			require.NoError(t, db.UpdateChannel(ctx, ch.ID, ChannelPatch{
				Name: ptr("login"), Type: ptr(ChannelEmail), SignatureNames: ptr([]string{"Other"}), SignatureRequired: ptr(false),
				Enabled: ptr(false), ReceiptTimeoutSeconds: ptr(60), MaxAttempts: ptr(5),
			}))
			got, err := db.GetChannel(ctx, ch.ID)
			require.NoError(t, err)
			require.Equal(t, "login", got.Name)
			require.Equal(t, ChannelEmail, got.Type)
			require.Equal(t, []string{"Other"}, got.SignatureNames)
			require.False(t, got.SignatureRequired)
			require.False(t, got.Enabled)
			require.Equal(t, 60, got.ReceiptTimeoutSeconds)
			require.Equal(t, 5, got.MaxAttempts)
			require.Equal(t, &tpl.ID, got.TemplateID)

			require.NoError(t, db.UpdateChannel(ctx, ch.ID, ChannelPatch{TemplateID: ptr(int64(0))}))
			got, err = db.GetChannel(ctx, ch.ID)
			require.NoError(t, err)
			require.Nil(t, got.TemplateID)

			require.NoError(t, db.UpdateChannel(ctx, ch.ID, ChannelPatch{TemplateID: &tpl.ID}))
			got, err = db.GetChannel(ctx, ch.ID)
			require.NoError(t, err)
			require.Equal(t, &tpl.ID, got.TemplateID)
		})
		t.Run("UpdateConflict", func(t *testing.T) {
			other := &Channel{Name: "other", Type: ChannelSMS}
			require.NoError(t, db.CreateChannel(ctx, other))
			require.ErrorIs(t, db.UpdateChannel(ctx, other.ID, ChannelPatch{Name: ptr("login")}), ErrConflict)
		})
	})
}

func TestListChannels(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		// ids 1..10: odd ids are SMS, every third is disabled.
		var all []*Channel
		for i := 1; i <= 10; i++ {
			ch := &Channel{Name: fmt.Sprintf("ch%02d", i), Type: ChannelEmail, Enabled: i%3 != 0}
			if i%2 == 1 {
				ch.Type = ChannelSMS
			}
			require.NoError(t, db.CreateChannel(ctx, ch))
			all = append(all, ch)
		}
		names := func(chs []Channel) []string {
			out := []string{}
			for _, c := range chs {
				out = append(out, c.Name)
			}
			return out
		}
		sms := ChannelSMS
		for _, tc := range []struct {
			name      string
			filter    ChannelFilter
			wantNames []string
			wantTotal int
		}{
			{"All", ChannelFilter{}, []string{"ch10", "ch09", "ch08", "ch07", "ch06", "ch05", "ch04", "ch03", "ch02", "ch01"}, 10},
			{"Type", ChannelFilter{Type: &sms}, []string{"ch09", "ch07", "ch05", "ch03", "ch01"}, 5},
			{"EnabledOnly", ChannelFilter{EnabledOnly: true}, []string{"ch10", "ch08", "ch07", "ch05", "ch04", "ch02", "ch01"}, 7},
			{"TypeEnabled", ChannelFilter{Type: &sms, EnabledOnly: true}, []string{"ch07", "ch05", "ch01"}, 3},
			{"FirstPage", ChannelFilter{Limit: 3}, []string{"ch10", "ch09", "ch08"}, 10},
			{"SecondPage", ChannelFilter{Offset: 3, Limit: 3}, []string{"ch07", "ch06", "ch05"}, 10},
			{"LastPartialPage", ChannelFilter{Offset: 9, Limit: 3}, []string{"ch01"}, 10},
			{"OffsetOnly", ChannelFilter{Offset: 8}, []string{"ch02", "ch01"}, 10},
			{"PastEnd", ChannelFilter{Offset: 20, Limit: 5}, []string{}, 10},
			{"NoMatch", ChannelFilter{Type: ptr("push")}, []string{}, 0},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, total, err := db.ListChannels(ctx, tc.filter)
				require.NoError(t, err)
				require.NotNil(t, got)
				require.Equal(t, tc.wantNames, names(got))
				require.Equal(t, tc.wantTotal, total)
			})
		}
		t.Run("FullRows", func(t *testing.T) {
			got, _, err := db.ListChannels(ctx, ChannelFilter{Limit: 1})
			require.NoError(t, err)
			require.Equal(t, *all[9], got[0])
		})
	})
}
