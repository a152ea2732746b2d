package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"
)

// memberFixture stores a batch-workflow batch of n members under a quota
// of 100 a day, with an account to send them through.
func memberFixture(t *testing.T, db *DB, appID string, n int) (*Channel, *ProviderAccount) {
	t.Helper()
	ctx := t.Context()
	ch := quotaFixture(t, db, appID)
	require.NoError(t, db.SetQuota(ctx, &Quota{AppID: appID, Daily: 100}))
	acc := &ProviderAccount{Name: "acc-" + appID, Kind: "sandbox", Weight: 1, Enabled: true, Config: []byte(`{}`)}
	require.NoError(t, db.CreateAccount(ctx, acc))
	msgs := make([]*Message, n)
	for i := range msgs {
		msgs[i] = quotaMessage(appID, ch.ID, fmt.Sprintf("%s-m%d", appID, i+1))
		msgs[i].BatchID, msgs[i].BatchSeq = "batch-"+appID, i+1
	}
	b := &Batch{ID: "batch-" + appID, AppID: appID, ChannelID: ch.ID, TotalCount: n, Status: BatchRunning, WorkflowID: "batch-batch-" + appID, Content: "shared"}
	require.NoError(t, db.CreateMessages(ctx, msgs, b))
	return ch, acc
}

// applyMemberReceipt applies one receipt through ApplyMemberReceipts.
func applyMemberReceipt(ctx context.Context, db *DB, taskID string, r MemberReceipt) (string, error) {
	effects, err := db.ApplyMemberReceipts(ctx, []TaskReceipt{{TaskID: taskID, MemberReceipt: r}})
	if err != nil {
		return "", err
	}
	return effects[0], nil
}

func claimUpdate(taskID string, accountID int64) MemberUpdate {
	return MemberUpdate{TaskID: taskID, Patch: MemberPatch{From: []string{"pending"}, NewAttempt: true,
		MessagePatch: MessagePatch{Status: ptr("processing"), AccountID: &accountID}}}
}

func TestBatchMembers(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		ch, acc := memberFixture(t, db, "app-bm", 12)
		batchID := "batch-app-bm"
		require.Equal(t, int64(12), usageNow(t, db, "app-bm", 0, PeriodDay).Reserved)

		t.Run("ListByRange", func(t *testing.T) {
			ms, err := db.LoadBatchMembers(ctx, BatchMemberFilter{BatchID: batchID, FromSeq: 3, ToSeq: 7, Statuses: []string{"pending"}, Limit: 4})
			require.NoError(t, err)
			require.Len(t, ms, 4)
			for i, m := range ms {
				require.Equal(t, i+3, m.BatchSeq)
				require.Equal(t, "+8613800000000", m.Receiver)
			}
		})

		// Members 1-4 are claimed; a second claim of 1 does nothing.
		var claims []MemberUpdate
		for i := 1; i <= 4; i++ {
			claims = append(claims, claimUpdate(fmt.Sprintf("app-bm-m%d", i), acc.ID))
		}
		applied, err := db.UpdateBatchMembers(ctx, claims)
		require.NoError(t, err)
		require.Equal(t, []bool{true, true, true, true}, applied)
		applied, err = db.UpdateBatchMembers(ctx, claims[:1])
		require.NoError(t, err)
		require.Equal(t, []bool{false}, applied)
		m1, err := db.GetMessage(ctx, "app-bm-m1")
		require.NoError(t, err)
		require.Equal(t, "processing", m1.Status)
		require.Equal(t, 1, m1.AttemptCount)
		require.Equal(t, acc.ID, *m1.AccountID)

		// 1 accepted (sent), 2 delivered at once, 3 fails for good, 4 is
		// retried later off the account.
		now := time.Now().UTC()
		later := now.Add(time.Hour)
		failed := fmt.Sprint(acc.ID)
		applied, err = db.UpdateBatchMembers(ctx, []MemberUpdate{
			{TaskID: "app-bm-m1", Patch: MemberPatch{From: []string{"processing"}, Accepted: true, SentAt: &now,
				MessagePatch: MessagePatch{Status: ptr("sent"), AccountID: &acc.ID, ProviderMessageID: ptr("pm-1")}}},
			{TaskID: "app-bm-m2", Patch: MemberPatch{From: []string{"processing"}, Accepted: true,
				MessagePatch: MessagePatch{Status: ptr("success"), AccountID: &acc.ID, ProviderMessageID: ptr("pm-2"), FinishedAt: &now}}},
			{TaskID: "app-bm-m3", Patch: MemberPatch{From: []string{"processing"},
				MessagePatch: MessagePatch{Status: ptr("failed"), LastError: ptr("permanent: bad number"), FinishedAt: &now}}},
			{TaskID: "app-bm-m4", Patch: MemberPatch{From: []string{"processing"}, NextAttemptAt: &later, FailedAccounts: &failed,
				MessagePatch: MessagePatch{Status: ptr("pending")}}},
		})
		require.NoError(t, err)
		require.Equal(t, []bool{true, true, true, true}, applied)
		u := usageNow(t, db, "app-bm", 0, PeriodDay)
		// Two committed (1, 2), one released (3), nine reserved.
		require.Equal(t, int64(2), u.Committed)
		require.Equal(t, int64(9), u.Reserved)
		task, err := db.FindTaskByProviderMessageID(ctx, acc.ID, "pm-1")
		require.NoError(t, err)
		require.Equal(t, "app-bm-m1", task)

		t.Run("Counts", func(t *testing.T) {
			c, err := db.CountBatchWork(ctx, batchID, time.Now(), 5)
			require.NoError(t, err)
			require.Equal(t, map[string]int{"sent": 1, "success": 1, "failed": 1, "pending": 9}, c.ByStatus)
			require.Equal(t, 8, c.Due)
			require.Equal(t, 1, c.Waiting)
			require.WithinDuration(t, later, *c.NextDue, time.Millisecond)
			// Seqs 5-12 are due: buckets 1-5 (seq 5) and 6-10 and 11-15.
			require.Equal(t, []SeqRange{{1, 5}, {6, 10}, {11, 15}}, c.WorkRanges)
			require.False(t, c.Final())
		})

		t.Run("Receipts", func(t *testing.T) {
			// A failed receipt of another send changes nothing.
			effect, err := applyMemberReceipt(ctx, db, "app-bm-m1", MemberReceipt{AccountID: acc.ID, ProviderMessageID: "pm-old", Status: "failed"})
			require.NoError(t, err)
			require.Equal(t, ReceiptLate, effect)
			// Its current send's failure waits for the rule engine.
			effect, err = applyMemberReceipt(ctx, db, "app-bm-m1", MemberReceipt{AccountID: acc.ID, ProviderMessageID: "pm-1", Status: "failed", Code: "UNDELIV"})
			require.NoError(t, err)
			require.Equal(t, ReceiptFailedMarked, effect)
			ms, err := db.LoadBatchMembers(ctx, BatchMemberFilter{BatchID: batchID, Statuses: []string{"sent"}, CallbackStatuses: []string{"failed", "rejected"}})
			require.NoError(t, err)
			require.Len(t, ms, 1)
			// A delivered one ends it success.
			effect, err = applyMemberReceipt(ctx, db, "app-bm-m1", MemberReceipt{AccountID: acc.ID, ProviderMessageID: "pm-1", Status: "delivered"})
			require.NoError(t, err)
			require.Equal(t, ReceiptDelivered, effect)
			m, err := db.GetMessage(ctx, "app-bm-m1")
			require.NoError(t, err)
			require.Equal(t, "success", m.Status)
			require.NotNil(t, m.FinishedAt)
			// A repeat (the provider pushing again) writes nothing.
			effect, err = applyMemberReceipt(ctx, db, "app-bm-m1", MemberReceipt{AccountID: acc.ID, ProviderMessageID: "pm-1", Status: "delivered"})
			require.NoError(t, err)
			require.Equal(t, ReceiptRepeated, effect)
			evs, err := db.ListEvents(ctx, "app-bm-m1")
			require.NoError(t, err)
			require.Len(t, evs, 3) // late, receipt, receipt
			// Single sends are no members.
			single := quotaMessage("app-bm", ch.ID, "app-bm-single")
			require.NoError(t, db.CreateMessages(ctx, []*Message{single}, nil))
			effect, err = applyMemberReceipt(ctx, db, single.TaskID, MemberReceipt{AccountID: acc.ID, Status: "delivered"})
			require.NoError(t, err)
			require.Equal(t, ReceiptNotMember, effect)
		})

		t.Run("ReceiptsInOnePush", func(t *testing.T) {
			// m2 ended success at acceptance; put two more members on a
			// send to receive a push with the single send among them.
			now := time.Now().UTC()
			applied, err := db.UpdateBatchMembers(ctx, []MemberUpdate{claimUpdate("app-bm-m5", acc.ID), claimUpdate("app-bm-m6", acc.ID)})
			require.NoError(t, err)
			require.Equal(t, []bool{true, true}, applied)
			applied, err = db.UpdateBatchMembers(ctx, []MemberUpdate{
				{TaskID: "app-bm-m5", Patch: MemberPatch{From: []string{"processing"}, Accepted: true, SentAt: &now,
					MessagePatch: MessagePatch{Status: ptr("sent"), AccountID: &acc.ID, ProviderMessageID: ptr("pm-5")}}},
				{TaskID: "app-bm-m6", Patch: MemberPatch{From: []string{"processing"}, Accepted: true, SentAt: &now,
					MessagePatch: MessagePatch{Status: ptr("sent"), AccountID: &acc.ID, ProviderMessageID: ptr("pm-6")}}},
			})
			require.NoError(t, err)
			require.Equal(t, []bool{true, true}, applied)
			effects, err := db.ApplyMemberReceipts(ctx, []TaskReceipt{
				{TaskID: "app-bm-m5", MemberReceipt: MemberReceipt{AccountID: acc.ID, ProviderMessageID: "pm-5", Status: "failed"}},
				{TaskID: "app-bm-single", MemberReceipt: MemberReceipt{AccountID: acc.ID, Status: "delivered"}},
				{TaskID: "app-bm-m6", MemberReceipt: MemberReceipt{AccountID: acc.ID, ProviderMessageID: "pm-6", Status: "delivered"}},
				// The same task again sees the first receipt's result.
				{TaskID: "app-bm-m5", MemberReceipt: MemberReceipt{AccountID: acc.ID, ProviderMessageID: "pm-5", Status: "failed"}},
				{TaskID: "app-bm-m5", MemberReceipt: MemberReceipt{AccountID: acc.ID, ProviderMessageID: "pm-5", Status: "delivered"}},
			})
			require.NoError(t, err)
			require.Equal(t, []string{ReceiptFailedMarked, ReceiptNotMember, ReceiptDelivered, ReceiptRepeated, ReceiptDelivered}, effects)
			for _, id := range []string{"app-bm-m5", "app-bm-m6"} {
				m, err := db.GetMessage(ctx, id)
				require.NoError(t, err)
				require.Equal(t, "success", m.Status, id)
				require.Equal(t, "delivered", m.CallbackStatus, id)
			}
			evs, err := db.ListEvents(ctx, "app-bm-m5")
			require.NoError(t, err)
			var kinds []string
			for _, e := range evs {
				kinds = append(kinds, e.Kind+"/"+e.Status)
			}
			require.Equal(t, []string{"receipt/failed", "receipt/delivered"}, kinds[len(kinds)-2:])
			single, err := db.GetMessage(ctx, "app-bm-single")
			require.NoError(t, err)
			require.NotEqual(t, "success", single.Status, "a single send's receipt is its workflow's to apply")
			c, err := db.CountBatchWork(ctx, batchID, time.Now(), 5)
			require.NoError(t, err)
			require.Equal(t, 4, c.ByStatus["success"])
		})

		t.Run("CancelAndFinish", func(t *testing.T) {
			ms, err := db.LoadBatchMembers(ctx, BatchMemberFilter{BatchID: batchID, Statuses: []string{"pending"}})
			require.NoError(t, err)
			var ups []MemberUpdate
			for _, m := range ms {
				ups = append(ups, MemberUpdate{TaskID: m.TaskID, Patch: MemberPatch{From: []string{"pending"},
					MessagePatch: MessagePatch{Status: ptr("cancelled"), FinishedAt: ptr(time.Now())}}})
			}
			_, err = db.UpdateBatchMembers(ctx, ups)
			require.NoError(t, err)
			c, err := db.CountBatchWork(ctx, batchID, time.Now(), 5)
			require.NoError(t, err)
			require.True(t, c.Final())
			require.Empty(t, c.WorkRanges)
			u := usageNow(t, db, "app-bm", 0, PeriodDay)
			require.Equal(t, int64(4), u.Committed)
			require.Equal(t, int64(1), u.Reserved, "only the single send is left reserved")
			require.NoError(t, db.RecordBatchStatus(ctx, batchID, BatchFinished, true))
			b, err := db.GetBatch(ctx, batchID)
			require.NoError(t, err)
			require.Equal(t, BatchFinished, b.Status)
			require.NotNil(t, b.FinishedAt)
		})
	})
}

// queryLog records the statements a store runs.
type queryLog struct{ queries []string }

func (l *queryLog) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context { return ctx }
func (l *queryLog) AfterQuery(_ context.Context, e *bun.QueryEvent) {
	l.queries = append(l.queries, e.Query)
}

// logged returns db with its statements recorded in a new log.
func logged(db *DB) (*DB, *queryLog) {
	log := &queryLog{}
	c := *db
	c.bun = db.bun.WithQueryHook(log)
	c.idb = c.bun
	return &c, log
}

// TestBatchQueriesUseTheBatchIndexes checks SQLite's plans for the reads
// a batch workflow repeats: each must find its batch's members through a
// batch index, not walk another index over every message in the store.
func TestBatchQueriesUseTheBatchIndexes(t *testing.T) {
	t.Parallel()
	db := setup(t, "sqlite")
	ctx := t.Context()
	_, _ = memberFixture(t, db, "app-plan", 3)
	batchID := "batch-app-plan"
	plain := db
	db, log := logged(db)
	now := time.Now()
	_, err := db.LoadBatchMembers(ctx, BatchMemberFilter{BatchID: batchID, FromSeq: 1, ToSeq: 100, Statuses: []string{"pending"}, DueBy: &now, Limit: 100})
	require.NoError(t, err)
	_, err = db.LoadBatchMembers(ctx, BatchMemberFilter{BatchID: batchID, Statuses: []string{"sent"}, CallbackStatuses: []string{"failed"}})
	require.NoError(t, err)
	_, err = db.CountBatchWork(ctx, batchID, now, 100)
	require.NoError(t, err)
	_, err = db.CountBatchMembers(ctx, batchID)
	require.NoError(t, err)
	_, err = db.CountBatchesMembers(ctx, []string{batchID, "another"})
	require.NoError(t, err)
	_, err = db.ListBatchesToStart(ctx, now.Add(time.Hour), "", 10)
	require.NoError(t, err)

	checked := plannedThrough(t, plain, log.queries, "messages_batch_")
	require.GreaterOrEqual(t, checked, 6, "every read above reads members: %v", log.queries)
}

// plannedThrough runs SQLite's EXPLAIN QUERY PLAN on each query that reads
// messages (alias m), requires every step that reads m to go through an
// index named with prefix, and returns how many such steps it saw.
func plannedThrough(t *testing.T, db *DB, queries []string, prefix string) int {
	t.Helper()
	checked := 0
	for _, q := range queries {
		if !strings.Contains(q, "messages AS m") && !strings.Contains(q, `"messages" AS "m"`) {
			continue
		}
		rows, err := db.Bun().QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+q)
		require.NoError(t, err)
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			require.NoError(t, rows.Scan(&id, &parent, &unused, &detail))
			plan = append(plan, detail)
		}
		require.NoError(t, rows.Err())
		require.NoError(t, rows.Close())
		for _, step := range plan {
			if strings.HasPrefix(step, "SCAN m") || strings.HasPrefix(step, "SEARCH m ") {
				require.Contains(t, step, prefix, "query %s\nplan %v", q, plan)
				checked++
			}
		}
	}
	return checked
}

// TestPartialIndexesServeTheirReads checks that the indexes which leave
// batch members out (those not sent yet, or all of them) still serve the
// reads they exist for: SQLite uses a partial index only when the query
// states its condition, or one that implies it.
func TestPartialIndexesServeTheirReads(t *testing.T) {
	t.Parallel()
	db := setup(t, "sqlite")
	ctx := t.Context()
	for _, tc := range []struct {
		name  string
		index string
		read  func(db *DB) error
	}{
		{"Sweeper", "messages_status_updated_at_idx", func(db *DB) error {
			_, err := db.ListStaleMessages(ctx, "pending", time.Now(), 10)
			return err
		}},
		// Either index on the account serves it; which one is the
		// planner's to choose.
		{"LatestToReceiver", "messages_account_", func(db *DB) error {
			_, err := db.FindLatestMessageTo(ctx, 7, []string{"+8613800138000"})
			if errors.Is(err, ErrNotFound) {
				return nil
			}
			return err
		}},
		{"ListByAccount", "messages_account_created_at_idx", func(db *DB) error {
			_, err := db.ListMessages(ctx, MessageFilter{AccountID: 7, Limit: 10})
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hooked, log := logged(db)
			require.NoError(t, tc.read(hooked))
			require.Positive(t, plannedThrough(t, db, log.queries, tc.index), "%v", log.queries)
		})
	}
}

func TestThrottledMemberPatch(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		_, acc := memberFixture(t, db, "app-thr", 1)
		id := "app-thr-m1"
		for i := 1; i <= 2; i++ {
			applied, err := db.UpdateBatchMembers(ctx, []MemberUpdate{claimUpdate(id, acc.ID)})
			require.NoError(t, err)
			require.Equal(t, []bool{true}, applied)
			later := time.Now().Add(time.Duration(i) * 5 * time.Second)
			applied, err = db.UpdateBatchMembers(ctx, []MemberUpdate{{TaskID: id, Patch: MemberPatch{
				From: []string{"processing"}, NextAttemptAt: &later, UndoAttempt: true, Throttled: true, Deferred: time.Duration(i) * 5 * time.Second,
				MessagePatch: MessagePatch{Status: ptr("pending")},
			}}})
			require.NoError(t, err)
			require.Equal(t, []bool{true}, applied)
		}
		m, err := db.GetMessage(ctx, id)
		require.NoError(t, err)
		require.Equal(t, 0, m.AttemptCount)
		require.Equal(t, 2, m.ThrottledCount)
		require.Equal(t, int64(15000), m.DeferredMS)
	})
}
