package store

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// newWorkflowBatch returns a batch-workflow batch of n members of app on
// channel, with its member template and receivers.
func newWorkflowBatch(appID string, channelID int64, n int) (*Batch, *Message, []string) {
	id := uuid.NewString()
	sched := time.Now().Add(time.Hour).UTC().Truncate(time.Microsecond)
	b := &Batch{
		ID: id, AppID: appID, ChannelID: channelID, TotalCount: n + 1, SuccessCount: n, FailedCount: 1,
		IdempotencyKey: "key-" + id, RequestHash: "hash", WorkflowID: "batch-" + id,
		Subject: "Sale", Content: "Hello, 50% off", TemplateParams: map[string]string{"pct": "50"},
		ScheduledAt: &sched,
	}
	exp := sched.Add(24 * time.Hour)
	member := &Message{
		AppID: appID, ChannelID: channelID, MessageType: ChannelSMS, SignatureName: "Acme", Status: "pending",
		MaxAttempts: 3, ExpiresAt: &exp, RequestHash: "hash",
	}
	receivers := make([]string, n)
	for i := range receivers {
		receivers[i] = fmt.Sprintf("+86138%08d", i)
	}
	return b, member, receivers
}

// createWorkflowBatch stores a batch as newWorkflowBatch makes it, its
// members staged, and returns them.
func createWorkflowBatch(t testing.TB, db *DB, appID string, channelID int64, n int) (*Batch, *Message, []BatchMember) {
	t.Helper()
	b, member, receivers := newWorkflowBatch(appID, channelID, n)
	require.NoError(t, db.CreateBatch(t.Context(), b, member, receivers))
	return b, member, membersOf(b, receivers)
}

// membersOf pairs a stored batch's receivers with their task ids.
func membersOf(b *Batch, receivers []string) []BatchMember {
	out := make([]BatchMember, len(receivers))
	for i, r := range receivers {
		out[i] = BatchMember{TaskID: b.MemberTaskID(i + 1), Receiver: r}
	}
	return out
}

// expandAll gives every staged member of a batch its row, as the batch
// workflow does when it starts.
func expandAll(t testing.TB, db *DB, batchID string) {
	t.Helper()
	_, err := db.ExpandBatchMembers(t.Context(), batchID, 1, 0)
	require.NoError(t, err)
}

// memberRows counts a batch's message rows.
func memberRows(t testing.TB, db *DB, batchID string) int {
	t.Helper()
	n, err := db.Bun().NewSelect().Table("messages").Where("batch_id = ?", batchID).Count(t.Context())
	require.NoError(t, err)
	return int(n)
}

func TestCreateBatch(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		ch := quotaFixture(t, db, "bulk")
		keys := NewReceiverKeyer(make([]byte, 32))
		db.keys = keys
		accepted := time.Now().UTC().Truncate(time.Minute).Add(5 * time.Second)
		db.now = func() time.Time { return accepted }

		b, member, members := createWorkflowBatch(t, db, "bulk", ch.ID, 1203)

		t.Run("Staged", func(t *testing.T) {
			require.Zero(t, memberRows(t, db, b.ID), "members are accepted without message rows")
			counts, err := db.CountBatchMembers(ctx, b.ID)
			require.NoError(t, err)
			require.Equal(t, BatchCounts{"pending": 1203}, counts, "staged members count as pending")
			got, err := db.ListBatchMembers(ctx, b.ID)
			require.NoError(t, err)
			require.Equal(t, members, got, "a replay answers with every task id")
			id, err := uuid.Parse(members[0].TaskID)
			require.NoError(t, err)
			require.Equal(t, uuid.Version(8), id.Version())
			var sealed string
			require.NoError(t, db.Bun().NewSelect().Table("batch_receivers").Column("receivers").
				Where("batch_id = ?", b.ID).Limit(1).Scan(ctx, &sealed))
			require.NotContains(t, sealed, "13800000000", "staged receivers are sealed")
		})
		t.Run("ReadExpandsItsRun", func(t *testing.T) {
			m, err := db.GetMessage(ctx, members[1100].TaskID)
			require.NoError(t, err)
			require.Equal(t, 1101, m.BatchSeq)
			require.Equal(t, 203, memberRows(t, db, b.ID), "the read wrote its run of members, not the batch")
			_, err = db.GetMessage(ctx, b.MemberTaskID(1204))
			require.ErrorIs(t, err, ErrNotFound, "past the batch's last member")
			_, err = db.GetMessage(ctx, MemberTaskID("aaaaaaaa-aaaa-8aaa-aaaa-aaaa", 1))
			require.ErrorIs(t, err, ErrNotFound, "no batch has that prefix")
			got, err := db.ListBatchMembers(ctx, b.ID)
			require.NoError(t, err)
			require.Equal(t, members, got, "rows and runs together, each member once, in order")
		})
		t.Run("Expand", func(t *testing.T) {
			n, err := db.ExpandBatchMembers(ctx, b.ID, 1, 0)
			require.NoError(t, err)
			require.Equal(t, 1000, n)
			n, err = db.ExpandBatchMembers(ctx, b.ID, 1, 0)
			require.NoError(t, err)
			require.Zero(t, n, "expanded runs are gone")
			require.Equal(t, 1203, memberRows(t, db, b.ID))
			counts, err := db.CountBatchMembers(ctx, b.ID)
			require.NoError(t, err)
			require.Equal(t, BatchCounts{"pending": 1203}, counts)
		})
		t.Run("Batch", func(t *testing.T) {
			got, err := db.GetBatch(ctx, b.ID)
			require.NoError(t, err)
			require.Equal(t, BatchRunning, got.Status)
			require.Equal(t, b.WorkflowID, got.WorkflowID)
			require.Equal(t, "Sale", got.Subject)
			require.Equal(t, "Hello, 50% off", got.Content)
			require.Equal(t, map[string]string{"pct": "50"}, got.TemplateParams)
			require.Equal(t, ChannelSMS, got.MessageType)
			require.Equal(t, "Acme", got.SignatureName)
			require.Equal(t, b.ScheduledAt, got.ScheduledAt)
			require.Equal(t, accepted, got.CreatedAt)
		})
		t.Run("SealedAtRest", func(t *testing.T) {
			var subject, content, params string
			require.NoError(t, db.Bun().NewSelect().Table("batches").Column("subject", "content", "template_params").
				Where("id = ?", b.ID).Scan(ctx, &subject, &content, &params))
			require.NotContains(t, subject, "Sale")
			require.NotContains(t, content, "50% off")
			require.NotContains(t, params, "pct")
			var receiver, rowContent string
			require.NoError(t, db.Bun().NewSelect().Table("messages").Column("receiver", "content").
				Where("task_id = ?", members[0].TaskID).Scan(ctx, &receiver, &rowContent))
			require.NotContains(t, receiver, "13800000000")
			require.Empty(t, rowContent, "a member stores no content of its own")
		})
		t.Run("MembersHydrated", func(t *testing.T) {
			m, err := db.GetMessage(ctx, members[7].TaskID)
			require.NoError(t, err)
			require.Equal(t, 8, m.BatchSeq)
			require.Equal(t, b.ID, m.BatchID)
			require.Equal(t, members[7].Receiver, m.Receiver)
			require.Equal(t, "Hello, 50% off", m.Content)
			require.Equal(t, "Sale", m.Subject)
			require.Equal(t, map[string]string{"pct": "50"}, m.TemplateParams)
			require.Equal(t, "Acme", m.SignatureName)
			require.Equal(t, 1, m.SMSSegments)
			require.Equal(t, b.ScheduledAt, m.ScheduledAt)
			require.Equal(t, member.ExpiresAt, m.ExpiresAt)
			require.Equal(t, keys.Key(ChannelSMS, members[7].Receiver), m.ReceiverKey)
			require.Empty(t, m.IdempotencyKey, "the key is the batch's")

			ms, err := db.ListBatchMessages(ctx, b.ID)
			require.NoError(t, err)
			require.Len(t, ms, len(members))
			for i, m := range ms {
				require.Equal(t, i+1, m.BatchSeq)
				require.Equal(t, members[i].TaskID, m.TaskID)
				require.Equal(t, "Hello, 50% off", m.Content)
			}
			list, err := db.ListMessages(ctx, MessageFilter{AppID: "bulk", Limit: 3})
			require.NoError(t, err)
			require.Len(t, list, 3)
			for _, m := range list {
				require.Equal(t, "Hello, 50% off", m.Content)
			}

			got, err := db.ListBatchMembers(ctx, b.ID)
			require.NoError(t, err)
			require.Equal(t, members, got)
		})
		t.Run("Counts", func(t *testing.T) {
			counts, err := db.CountBatchMembers(ctx, b.ID)
			require.NoError(t, err)
			require.Equal(t, BatchCounts{"pending": 1203}, counts)
			require.Equal(t, 1203, counts.Total())
			got := readStats(t, db, accepted, "bulk")
			require.Equal(t, map[string]int64{"pending": 1203}, got.byStatus)
			require.Equal(t, int64(1203), got.segments)
		})
		t.Run("ErrConflict", func(t *testing.T) {
			again, m2, rs := newWorkflowBatch("bulk", ch.ID, 3)
			again.IdempotencyKey = b.IdempotencyKey
			require.ErrorIs(t, db.CreateBatch(ctx, again, m2, rs), ErrConflict)
			_, err := db.GetMessage(ctx, again.MemberTaskID(1))
			require.ErrorIs(t, err, ErrNotFound, "nothing of a refused batch is stored")
			_, err = db.GetBatch(ctx, again.ID)
			require.ErrorIs(t, err, ErrNotFound)
		})
		t.Run("NeverStale", func(t *testing.T) {
			stale, err := db.ListStaleMessages(ctx, "pending", accepted.Add(48*time.Hour), 0)
			require.NoError(t, err)
			require.Empty(t, stale, "the sweeper never starts a send workflow for a member")
		})
		t.Run("Status", func(t *testing.T) {
			require.NoError(t, db.SetBatchStatus(ctx, b.ID, BatchPaused))
			got, err := db.GetBatch(ctx, b.ID)
			require.NoError(t, err)
			require.Equal(t, BatchPaused, got.Status)
			require.ErrorIs(t, db.SetBatchStatus(ctx, "missing", BatchPaused), ErrNotFound)
			require.Error(t, db.SetBatchStatus(ctx, b.ID, BatchFinished))
		})
	})
}

func TestCreateBatchQuota(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		ch := quotaFixture(t, db, "bulk-quota")
		require.NoError(t, db.SetQuota(ctx, &Quota{AppID: "bulk-quota", Daily: 500}))
		b, member, receivers := newWorkflowBatch("bulk-quota", ch.ID, 501)
		var qe *QuotaExceededError
		require.ErrorAs(t, db.CreateBatch(ctx, b, member, receivers), &qe)
		require.Equal(t, int64(501), qe.Asked)
		_, err := db.GetBatch(ctx, b.ID)
		require.ErrorIs(t, err, ErrNotFound, "a refused batch stores nothing")

		b, _, members := createWorkflowBatch(t, db, "bulk-quota", ch.ID, 500)
		require.Equal(t, int64(500), usageNow(t, db, "bulk-quota", 0, PeriodDay).Reserved)
		changed, err := db.ReconcileQuotas(ctx, time.Now())
		require.NoError(t, err)
		require.Zero(t, changed, "staged members keep their reservations through a reconciliation")
		require.Equal(t, 500, memberRows(t, db, b.ID), "reconciling counted them as rows")
		m, err := db.GetMessage(ctx, members[499].TaskID)
		require.NoError(t, err)
		require.Equal(t, QuotaReserved, m.QuotaState)
		require.Equal(t, ScopeAppDay, m.QuotaScopes)

		// A member's final status settles its unit through the ordinary path.
		require.NoError(t, db.UpdateMessage(ctx, members[0].TaskID, MessagePatch{Status: ptr("failed")}))
		require.Equal(t, int64(499), usageNow(t, db, "bulk-quota", 0, PeriodDay).Reserved)
	})
}

func TestListBatches(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		ch := quotaFixture(t, db, "lb")
		base := time.Now().UTC().Truncate(time.Second)
		var ids []string
		for i := range 3 {
			db.now = func() time.Time { return base.Add(time.Duration(i) * time.Minute) }
			b, member, receivers := newWorkflowBatch("lb", ch.ID, 2)
			b.ScheduledAt = nil
			require.NoError(t, db.CreateBatch(ctx, b, member, receivers))
			ids = append(ids, b.ID)
		}
		// An older batch, one workflow per message.
		db.now = func() time.Time { return base.Add(-time.Hour) }
		legacy := &Batch{ID: uuid.NewString(), AppID: "lb", ChannelID: ch.ID, TotalCount: 1, SuccessCount: 1}
		require.NoError(t, db.CreateMessages(ctx, []*Message{quotaMessage("lb", ch.ID, uuid.NewString())}, legacy))

		page, err := db.ListBatches(ctx, BatchFilter{AppID: "lb", Limit: 2})
		require.NoError(t, err)
		require.Equal(t, []string{ids[2], ids[1]}, []string{page[0].ID, page[1].ID})
		require.Empty(t, page[0].Content, "lists leave content out")
		rest, err := db.ListBatches(ctx, BatchFilter{AppID: "lb", Before: &BatchCursor{CreatedAt: page[1].CreatedAt, ID: page[1].ID}})
		require.NoError(t, err)
		require.Len(t, rest, 2)
		require.Equal(t, ids[0], rest[0].ID)
		require.Equal(t, legacy.ID, rest[1].ID)
		only, err := db.ListBatches(ctx, BatchFilter{AppID: "lb", WorkflowOnly: true})
		require.NoError(t, err)
		require.Len(t, only, 3)
		none, err := db.ListBatches(ctx, BatchFilter{AppID: "other"})
		require.NoError(t, err)
		require.Empty(t, none)

		t.Run("ToStart", func(t *testing.T) {
			require.NoError(t, db.SetBatchStatus(ctx, ids[1], BatchPaused))
			require.NoError(t, db.SetBatchStatus(ctx, ids[2], BatchCancelled))
			got, err := db.ListBatchesToStart(ctx, base.Add(90*time.Second), "", 0)
			require.NoError(t, err)
			var started []string
			for _, b := range got {
				started = append(started, b.ID)
				require.NotNil(t, b.ExpiresAt, "the members' expiry travels to the workflow")
				require.Equal(t, 2, b.SuccessCount)
			}
			require.ElementsMatch(t, []string{ids[0], ids[1]}, started, "running and paused, old enough; never legacy or cancelled")
			page, err := db.ListBatchesToStart(ctx, base.Add(90*time.Second), started[0], 0)
			require.NoError(t, err)
			require.Len(t, page, 1)
			require.Equal(t, started[1], page[0].ID)
		})
	})
}

func TestEraseBatchContent(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		ch := quotaFixture(t, db, "erase-bulk")
		db.now = func() time.Time { return time.Now().Add(-48 * time.Hour) }
		b, member, receivers := newWorkflowBatch("erase-bulk", ch.ID, 3)
		b.Attachments = json.RawMessage(`[{"filename":"a.txt"}]`)
		require.NoError(t, db.CreateBatch(ctx, b, member, receivers))
		members := membersOf(b, receivers)
		expandAll(t, db, b.ID)
		held, _, _ := createWorkflowBatch(t, db, "erase-bulk", ch.ID, 2) // staged all along: never started
		db.now = time.Now
		cutoff := time.Now().Add(-24 * time.Hour)
		for _, m := range members[:2] {
			require.NoError(t, db.UpdateMessage(ctx, m.TaskID, MessagePatch{Status: ptr("success")}))
		}
		res, err := db.EraseMessages(ctx, EraseFilter{AppID: "erase-bulk", Before: cutoff})
		require.NoError(t, err)
		require.Equal(t, 2, res.Messages)

		erased, err := db.GetMessage(ctx, members[0].TaskID)
		require.NoError(t, err)
		require.NotNil(t, erased.ErasedAt)
		require.Empty(t, erased.Content, "an erased member shows none of its batch's content")
		require.Empty(t, erased.Receiver)
		require.Nil(t, erased.TemplateParams)

		n, err := db.EraseBatchAttachments(ctx, "erase-bulk", cutoff)
		require.NoError(t, err)
		require.Zero(t, n, "a member still kept reads the batch's content")
		kept, err := db.GetMessage(ctx, members[2].TaskID)
		require.NoError(t, err)
		require.Equal(t, "Hello, 50% off", kept.Content)

		require.NoError(t, db.UpdateMessage(ctx, members[2].TaskID, MessagePatch{Status: ptr("failed")}))
		_, err = db.EraseMessages(ctx, EraseFilter{AppID: "erase-bulk", Before: cutoff})
		require.NoError(t, err)
		n, err = db.EraseBatchAttachments(ctx, "erase-bulk", cutoff)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		got, err := db.GetBatch(ctx, b.ID)
		require.NoError(t, err)
		require.Empty(t, got.Subject)
		require.Empty(t, got.Content)
		require.Nil(t, got.TemplateParams)
		require.Empty(t, got.Attachments)
		got, err = db.GetBatch(ctx, held.ID)
		require.NoError(t, err)
		require.Equal(t, "Hello, 50% off", got.Content, "staged members are kept, and read their batch's content")
	})
}

// BenchmarkCreateBatch measures storing a batch of 100,000 members, the
// largest batch the API accepts, on each database.
func BenchmarkCreateBatch(b *testing.B) {
	for _, d := range testDialects() {
		b.Run(d, func(b *testing.B) {
			db := setup(b, d)
			ctx := b.Context()
			ch := &Channel{Name: "bench", Type: ChannelSMS, Enabled: true}
			require.NoError(b, db.CreateChannel(ctx, ch))
			require.NoError(b, db.CreateApp(ctx, &App{ID: "bench", Name: "bench", Secret: "s", Enabled: true}))
			require.NoError(b, db.SetQuota(ctx, &Quota{AppID: "bench", Daily: 1 << 40}))
			db.keys = NewReceiverKeyer(make([]byte, 32))
			for b.Loop() {
				batch, member, receivers := newWorkflowBatch("bench", ch.ID, 100000)
				require.NoError(b, db.CreateBatch(ctx, batch, member, receivers))
			}
		})
	}
}

// TestConcurrentExpansion expands one batch from several callers at once,
// as its chunks, its background expansion and reads of its members do:
// every member gets one row, written once.
func TestConcurrentExpansion(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		ch := quotaFixture(t, db, "expand")
		b, _, members := createWorkflowBatch(t, db, "expand", ch.ID, 3500)
		var wg sync.WaitGroup
		errs := make([]error, 6)
		for i := range errs {
			wg.Go(func() {
				switch i % 3 {
				case 0:
					_, errs[i] = db.ExpandBatchMembers(ctx, b.ID, 1, 0)
				case 1:
					_, errs[i] = db.ExpandBatchMembers(ctx, b.ID, 900+i*100, 1100+i*100)
				default:
					_, errs[i] = db.GetMessage(ctx, members[len(members)-i].TaskID)
				}
			})
		}
		wg.Wait()
		for _, err := range errs {
			require.NoError(t, err)
		}
		require.Equal(t, 3500, memberRows(t, db, b.ID))
		staged, err := db.Bun().NewSelect().Table("batch_receivers").Where("batch_id = ?", b.ID).Count(ctx)
		require.NoError(t, err)
		require.Zero(t, staged)
		got, err := db.ListBatchMembers(ctx, b.ID)
		require.NoError(t, err)
		require.Equal(t, members, got)
	})
}
