package store

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestListMessages(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		db.keys = NewReceiverKeyer([]byte("test master key"))
		acct := &ProviderAccount{Name: "ali", Kind: "aliyun", Config: []byte(`{}`), Weight: 1, Enabled: true}
		require.NoError(t, db.CreateAccount(ctx, acct))
		base := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
		var all []*Message
		for i := range 7 {
			m := newMessage(fmt.Sprintf("00000000-0000-4000-8000-%012d", i))
			m.CreatedAt = base.Add(time.Duration(i/2) * time.Minute) // pairs share a time
			m.Receiver = fmt.Sprintf("+861380000000%d", i%3)
			if i%2 == 0 {
				m.Status = "failed"
				m.AccountID = &acct.ID
			}
			all = append(all, m)
		}
		require.NoError(t, db.CreateMessages(ctx, all, nil))
		require.Equal(t, db.keys.Key(ChannelSMS, all[0].Receiver), all[0].ReceiverKey)

		ids := func(ms []Message) []string {
			var out []string
			for _, m := range ms {
				out = append(out, m.TaskID[len(m.TaskID)-1:])
			}
			return out
		}
		t.Run("NewestFirst", func(t *testing.T) {
			got, err := db.ListMessages(ctx, MessageFilter{})
			require.NoError(t, err)
			require.Equal(t, []string{"6", "5", "4", "3", "2", "1", "0"}, ids(got))
		})
		t.Run("Pages", func(t *testing.T) {
			var seen []string
			f := MessageFilter{Limit: 2}
			for {
				got, err := db.ListMessages(ctx, f)
				require.NoError(t, err)
				seen = append(seen, ids(got)...)
				if len(got) < 2 {
					break
				}
				c := got[len(got)-1].Cursor()
				f.After = &c
			}
			require.Equal(t, []string{"6", "5", "4", "3", "2", "1", "0"}, seen)
		})
		t.Run("Filters", func(t *testing.T) {
			got, err := db.ListMessages(ctx, MessageFilter{Statuses: []string{"failed"}, ProviderKind: "aliyun"})
			require.NoError(t, err)
			require.Equal(t, []string{"6", "4", "2", "0"}, ids(got))
			got, err = db.ListMessages(ctx, MessageFilter{ProviderKind: "tencent"})
			require.NoError(t, err)
			require.Empty(t, got)
			got, err = db.ListMessages(ctx, MessageFilter{AccountID: acct.ID, Since: base.Add(time.Minute), Until: base.Add(3 * time.Minute)})
			require.NoError(t, err)
			require.Equal(t, []string{"4", "2"}, ids(got))
			got, err = db.ListMessages(ctx, MessageFilter{ReceiverKeys: []string{db.keys.Key(ChannelSMS, "+8613800000001")}})
			require.NoError(t, err)
			require.Equal(t, []string{"4", "1"}, ids(got))
			got, err = db.ListMessages(ctx, MessageFilter{AppID: "other"})
			require.NoError(t, err)
			require.Empty(t, got)
		})
		t.Run("Resend", func(t *testing.T) {
			re := newMessage("10000000-0000-4000-8000-000000000000")
			require.NoError(t, db.ResendMessage(ctx, all[0].TaskID, re))
			require.Equal(t, all[0].TaskID, re.RedrivenFrom)
			orig, err := db.GetMessage(ctx, all[0].TaskID)
			require.NoError(t, err)
			require.Equal(t, re.TaskID, orig.RedrivenTo)
			got, err := db.ListMessages(ctx, MessageFilter{Statuses: []string{"failed"}, NotRedriven: true})
			require.NoError(t, err)
			require.Equal(t, []string{"6", "4", "2"}, ids(got))

			again := newMessage("10000000-0000-4000-8000-000000000001")
			require.ErrorIs(t, db.ResendMessage(ctx, all[0].TaskID, again), ErrConflict)
			_, err = db.GetMessage(ctx, again.TaskID)
			require.ErrorIs(t, err, ErrNotFound)
			require.ErrorIs(t, db.ResendMessage(ctx, "20000000-0000-4000-8000-000000000000", again), ErrNotFound)
		})
	})
}

func TestRedrives(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		acct := int64(3)
		r := &Redrive{ID: "rd-1", Filter: `{"status":"failed"}`, AccountID: &acct, Status: RedriveRunning, CreatedBy: "user:ops"}
		require.NoError(t, db.CreateRedrive(ctx, r))
		require.NoError(t, db.UpdateRedrive(ctx, "rd-1", "", RedriveCounts{Matched: 3, Resent: 2, Skipped: 1}))
		require.NoError(t, db.UpdateRedrive(ctx, "rd-1", RedriveDone, RedriveCounts{Matched: 1, Failed: 1}))
		got, err := db.GetRedrive(ctx, "rd-1")
		require.NoError(t, err)
		require.Equal(t, RedriveDone, got.Status)
		require.Equal(t, []int{4, 2, 1, 1}, []int{got.Matched, got.Resent, got.Skipped, got.Failed})
		require.ErrorIs(t, db.UpdateRedrive(ctx, "nope", "", RedriveCounts{}), ErrNotFound)
		_, err = db.GetRedrive(ctx, "nope")
		require.ErrorIs(t, err, ErrNotFound)
		list, err := db.ListRedrives(ctx, time.Time{}, 0)
		require.NoError(t, err)
		require.Len(t, list, 1)
	})
}

func TestWatchEvents(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		a, b := newMessage("30000000-0000-4000-8000-000000000000"), newMessage("30000000-0000-4000-8000-000000000001")
		b.AppID = "other"
		require.NoError(t, db.CreateMessages(ctx, []*Message{a, b}, nil))
		last, err := db.LastEventID(ctx)
		require.NoError(t, err)
		notes, stop, err := db.EventNotifications(ctx)
		require.NoError(t, err)
		defer func() { require.NoError(t, stop()) }()

		require.NoError(t, db.AddEvent(ctx, &MessageEvent{TaskID: a.TaskID, Seq: 1, Kind: "accepted"}))
		require.NoError(t, db.AddEvent(ctx, &MessageEvent{TaskID: b.TaskID, Seq: 1, Kind: "accepted"}))
		if db.Dialect() == DialectPostgres {
			// The listener's own connection may still be on its way while
			// the server is busy (a notification sent before it listens is
			// not delivered): another app's event tries again, leaving
			// app's events as they are.
			notified := false
			for seq := 2; seq <= 5 && !notified; seq++ {
				select {
				case <-notes:
					notified = true
				case <-time.After(5 * time.Second):
					require.NoError(t, db.AddEvent(ctx, &MessageEvent{TaskID: b.TaskID, Seq: seq, Kind: "attempt"}))
				}
			}
			require.True(t, notified, "no notification of the new events")
		} else {
			require.Nil(t, notes)
		}
		got, err := db.ListEventsAfter(ctx, last, MessageFilter{AppID: "app"}, 0)
		require.NoError(t, err)
		require.Len(t, got, 1)
		require.Equal(t, a.TaskID, got[0].TaskID)
		require.Equal(t, a.Receiver, got[0].Receiver)
		got, err = db.ListEventsAfter(ctx, got[0].ID, MessageFilter{AppID: "app"}, 0)
		require.NoError(t, err)
		require.Empty(t, got)
	})
}
