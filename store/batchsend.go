package store

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
)

// Statuses of a message, as the store keeps them; the batch functions
// below name them (the workflows package owns the vocabulary).
const (
	statusPending    = "pending"
	statusProcessing = "processing"
	statusSent       = "sent"
)

// BatchMemberFilter selects members of a batch-workflow batch by their
// BatchSeq range and state.
type BatchMemberFilter struct {
	BatchID string
	// FromSeq and ToSeq bound BatchSeq, both included; ToSeq 0 means no
	// upper bound.
	FromSeq, ToSeq int
	Statuses       []string
	// DueBy, when set, keeps pending members only if they have no
	// next_attempt_at or one at or before it (members of other statuses
	// are not affected).
	DueBy *time.Time
	// CallbackStatuses, when set, keeps members whose callback status is
	// one of them.
	CallbackStatuses []string
	// SentBefore, when set, keeps members without a receipt that a
	// provider accepted before it.
	SentBefore *time.Time
	// Limit bounds the result (0: no bound); members come in BatchSeq
	// order.
	Limit int
}

// memberOf and memberOfAny select the messages (alias m) of one batch or
// of several. Each repeats the condition of the partial indexes on
// batch_id: SQLite uses a partial index only for a query that states its
// condition, and otherwise walks another index (status, say) over every
// message in the store, fetching each row.
const (
	memberOf    = "m.batch_id = ? AND m.batch_id <> ''"
	memberOfAny = "m.batch_id IN (?) AND m.batch_id <> ''"
)

// LoadBatchMembers returns the members f selects, in BatchSeq order, with
// their own fields only: what the batch shares is the caller's to fill in.
func (db *DB) LoadBatchMembers(ctx context.Context, f BatchMemberFilter) ([]Message, error) {
	ms := []Message{}
	q := db.idb.NewSelect().Model(&ms).Where(memberOf, f.BatchID).Where("m.batch_seq >= ?", max(f.FromSeq, 1))
	if f.ToSeq > 0 {
		q = q.Where("m.batch_seq <= ?", f.ToSeq)
	}
	if len(f.Statuses) > 0 {
		q = q.Where("m.status IN (?)", bun.List(f.Statuses))
	}
	if f.DueBy != nil {
		q = q.Where("(m.status <> ? OR m.next_attempt_at IS NULL OR m.next_attempt_at <= ?)", statusPending, normTime(*f.DueBy))
	}
	if len(f.CallbackStatuses) > 0 {
		q = q.Where("m.callback_status IN (?)", bun.List(f.CallbackStatuses))
	}
	if f.SentBefore != nil {
		q = q.Where("m.callback_status = ''").Where("m.sent_at IS NOT NULL").Where("m.sent_at < ?", normTime(*f.SentBefore))
	}
	q = q.OrderExpr("m.batch_seq ASC")
	if f.Limit > 0 {
		q = q.Limit(int64(f.Limit))
	}
	if err := q.Scan(ctx); err != nil {
		return nil, fmt.Errorf("list members of batch %q: %w", f.BatchID, mapErr(err))
	}
	if err := openMessages(db.cipher, ms); err != nil {
		return nil, fmt.Errorf("list members of batch %q: %w", f.BatchID, err)
	}
	return ms, nil
}

// MemberPatch changes one member of a batch-workflow batch, if it is in
// one of the From statuses. Its MessagePatch settles quotas and counts
// statistics exactly as UpdateMessage does.
type MemberPatch struct {
	MessagePatch
	// From lists the statuses the member must be in for the patch to
	// apply; a member in any other is left as it is (a receipt, a cancel
	// or another chunk got there first).
	From []string
	// NewAttempt counts one more attempt (attempt_count + 1) and clears
	// what belonged to the last: its provider id, receipt verdict, send
	// time and retry time.
	NewAttempt bool
	// NextAttemptAt sets when a pending member is due again.
	NextAttemptAt *time.Time
	// FailedAccounts replaces the list of accounts switched away from.
	FailedAccounts *string
	// SentAt sets when a provider accepted the current attempt.
	SentAt *time.Time
	// Accepted records that AccountID's provider accepted the member under
	// ProviderMessageID (empty when it gave none), as RecordAccepted does:
	// the id maps back to the task and the quota unit is committed.
	Accepted bool
	// IDRecorded says the provider id of Accepted is recorded already
	// (AddProviderMessageIDs), saving its write.
	IDRecorded bool
	// UndoAttempt takes back the attempt a claim counted (a throttled
	// send: throttling delays a member, it does not use up its attempts).
	UndoAttempt bool
	// Throttled counts one more throttled refusal, which holds the member
	// back by Deferred.
	Throttled bool
	Deferred  time.Duration
	// Event, when set, is appended to the member's timeline (its Seq is
	// assigned here).
	Event *MessageEvent
}

// MemberUpdate is one member's patch in UpdateBatchMembers.
type MemberUpdate struct {
	TaskID string
	Patch  MemberPatch
}

// UpdateBatchMembers applies the updates in one transaction and reports,
// per update, whether it applied (the member was in one of its From
// statuses). Quotas and statistics settle as for UpdateMessage. The
// members' rows are locked and read in one statement, their events
// written in one, so a chunk of a hundred costs a few statements per
// member rather than a transaction each.
func (db *DB) UpdateBatchMembers(ctx context.Context, updates []MemberUpdate) ([]bool, error) {
	applied := make([]bool, len(updates))
	err := db.RunInTx(ctx, func(ctx context.Context, tx *DB) error {
		now := tx.timestamp()
		stats := statsBatch{kinds: map[int64]string{}}
		ids := make([]string, len(updates))
		for i, u := range updates {
			ids[i] = u.TaskID
		}
		states, err := lockMessageStates(ctx, tx.idb, ids)
		if err != nil {
			return err
		}
		seqs, err := nextEventSeqs(ctx, tx.idb, ids)
		if err != nil {
			return err
		}
		var events []*MessageEvent
		for i, u := range updates {
			st := states[u.TaskID]
			// A task twice in one call sees its first change only through
			// a lock of its own.
			delete(states, u.TaskID)
			ok, err := updateMemberLocked(ctx, tx.idb, tx.cipher, now, u.TaskID, st, u.Patch, &stats)
			if err != nil {
				return err
			}
			applied[i] = ok
			if ok && u.Patch.Event != nil {
				events = append(events, seqs.next(u.TaskID, u.Patch.Event))
			}
		}
		if err := addEvents(ctx, tx.idb, tx.cipher, now, events); err != nil {
			return err
		}
		return stats.apply(ctx, tx.idb)
	})
	if err != nil {
		return nil, err
	}
	return applied, nil
}

// lockMessageStates is lockMessageState for many messages, locking their
// rows in id order (PostgreSQL) so concurrent writers queue instead of
// deadlocking.
func lockMessageStates(ctx context.Context, idb bun.IDB, taskIDs []string) (map[string]*messageState, error) {
	members, err := lockMembers(ctx, idb, taskIDs)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*messageState, len(members))
	for id, m := range members {
		out[id] = &m.messageState
	}
	return out, nil
}

// memberState is a message's counted state with what a receipt is
// checked against.
type memberState struct {
	TaskID            string `bun:"task_id"`
	BatchSeq          int    `bun:"batch_seq"`
	ProviderMessageID string `bun:"provider_message_id"`
	messageState
}

// lockMembers reads and locks the messages' states as lockMessageStates
// does.
func lockMembers(ctx context.Context, idb bun.IDB, taskIDs []string) (map[string]*memberState, error) {
	out := make(map[string]*memberState, len(taskIDs))
	if len(taskIDs) == 0 {
		return out, nil
	}
	var rows []memberState
	q := `SELECT m.task_id, m.batch_seq, m.provider_message_id, m.app_id, m.channel_id, m.account_id, pa.kind, m.status, m.callback_status,
m.sms_segments, m.created_at, m.scheduled_at
FROM messages m LEFT JOIN provider_accounts pa ON pa.id = m.account_id WHERE m.task_id IN (?) ORDER BY m.id`
	if idb.Dialect().Name() == dialect.PG {
		q += " FOR UPDATE OF m"
	}
	if err := idb.NewRaw(q, bun.List(taskIDs)).Scan(ctx, &rows); err != nil {
		return nil, fmt.Errorf("lock members: %w", mapErr(err))
	}
	for i := range rows {
		out[rows[i].TaskID] = &rows[i]
	}
	return out, nil
}

// eventSeqs holds the next timeline seq of each of a write's tasks.
type eventSeqs map[string]int

// next returns a copy of e as the next event of the task's timeline.
func (s eventSeqs) next(taskID string, e *MessageEvent) *MessageEvent {
	ev := *e
	ev.TaskID, ev.Seq = taskID, s[taskID]
	s[taskID]++
	return &ev
}

// nextEventSeqs is nextEventSeq for many tasks: every one of taskIDs gets
// a seq, 1 for a task without events.
func nextEventSeqs(ctx context.Context, idb bun.IDB, taskIDs []string) (eventSeqs, error) {
	out := make(eventSeqs, len(taskIDs))
	if len(taskIDs) == 0 {
		return out, nil
	}
	var rows []struct {
		TaskID string `bun:"task_id"`
		Last   int    `bun:"last"`
	}
	err := idb.NewSelect().Model((*MessageEvent)(nil)).ColumnExpr("ev.task_id, MAX(ev.seq) AS last").
		Where("ev.task_id IN (?)", bun.List(taskIDs)).GroupExpr("ev.task_id").Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("next event seqs: %w", mapErr(err))
	}
	for _, id := range taskIDs {
		out[id] = 1
	}
	for _, r := range rows {
		out[r.TaskID] = r.Last + 1
	}
	return out, nil
}

// addEvents inserts events in one statement; like addEvent, one whose
// (task, seq) exists is skipped.
func addEvents(ctx context.Context, idb bun.IDB, c *Cipher, now time.Time, events []*MessageEvent) error {
	if len(events) == 0 {
		return nil
	}
	rows := make([]MessageEvent, len(events))
	for i, e := range events {
		if e.CreatedAt.IsZero() {
			e.CreatedAt = now
		}
		e.CreatedAt = normTime(e.CreatedAt)
		row, err := sealEvent(c, e)
		if err != nil {
			return fmt.Errorf("add event %d of task %q: %w", e.Seq, e.TaskID, err)
		}
		rows[i] = row
	}
	if _, err := idb.NewInsert().Model(&rows).On("CONFLICT (task_id, seq) DO NOTHING").Exec(ctx); err != nil {
		return fmt.Errorf("add member events: %w", mapErr(err))
	}
	return nil
}

// updateMemberLocked applies p to one member whose state st was read under
// its row lock (nil: lock and read it here); the caller writes p.Event.
func updateMemberLocked(ctx context.Context, idb bun.IDB, c *Cipher, now time.Time, taskID string, st *messageState, p MemberPatch, stats *statsBatch) (bool, error) {
	// The row lock (PostgreSQL) orders this change after any concurrent
	// one, so the From check below sees its result.
	if st == nil {
		var err error
		if st, err = lockMessageState(ctx, idb, taskID); err != nil {
			return false, err
		}
	}
	if len(p.From) > 0 && !slices.Contains(p.From, st.Status) {
		return false, nil
	}
	mp := p.MessagePatch
	if p.Accepted {
		if p.AccountID == nil {
			return false, fmt.Errorf("update member %q: acceptance without an account", taskID)
		}
		key := acceptedWithoutID(taskID)
		if mp.ProviderMessageID != nil && *mp.ProviderMessageID != "" {
			key = *mp.ProviderMessageID
		}
		if !p.IDRecorded {
			if err := addProviderMessageID(ctx, idb, now, taskID, *p.AccountID, key); err != nil {
				return false, err
			}
		}
		if err := settleQuota(ctx, idb, taskID, QuotaCommitted); err != nil {
			return false, err
		}
	}
	if statsTouched(mp) {
		if err := stats.countChange(ctx, idb, st, mp, now); err != nil {
			return false, err
		}
	}
	q := idb.NewUpdate().Model((*Message)(nil)).Set("updated_at = ?", now).Where("task_id = ?", taskID)
	if p.NewAttempt {
		q = q.Set("attempt_count = attempt_count + 1").Set("provider_message_id = ''").Set("callback_status = ''").
			Set("sent_at = NULL").Set("next_attempt_at = NULL")
	}
	if p.UndoAttempt {
		q = q.Set("attempt_count = CASE WHEN attempt_count > 0 THEN attempt_count - 1 ELSE 0 END")
	}
	if p.Throttled {
		q = q.Set("throttled_count = throttled_count + 1").Set("deferred_ms = deferred_ms + ?", p.Deferred.Milliseconds())
	}
	if mp.Status != nil {
		q = q.Set("status = ?", *mp.Status)
	}
	if mp.CallbackStatus != nil {
		q = q.Set("callback_status = ?", *mp.CallbackStatus)
	}
	if mp.AccountID != nil {
		q = q.Set("account_id = ?", *mp.AccountID)
	}
	if mp.ProviderMessageID != nil {
		q = q.Set("provider_message_id = ?", *mp.ProviderMessageID)
	}
	if mp.LastError != nil {
		sealed, err := c.SealText(*mp.LastError)
		if err != nil {
			return false, fmt.Errorf("update member %q: seal last error: %w", taskID, err)
		}
		q = q.Set("last_error = ?", sealed)
	}
	if mp.FinishedAt != nil {
		q = q.Set("finished_at = ?", normTime(*mp.FinishedAt))
	}
	if p.NextAttemptAt != nil {
		q = q.Set("next_attempt_at = ?", normTime(*p.NextAttemptAt))
	}
	if p.FailedAccounts != nil {
		q = q.Set("failed_accounts = ?", *p.FailedAccounts)
	}
	if p.SentAt != nil {
		q = q.Set("sent_at = ?", normTime(*p.SentAt))
	}
	if err := execOne(ctx, q); err != nil {
		return false, fmt.Errorf("update member %q: %w", taskID, err)
	}
	if p.Accepted && mp.Status != nil && quotaStateFor(*mp.Status) == QuotaCommitted {
		// Committed with the acceptance above.
		return true, nil
	}
	if err := settleFinalQuota(ctx, idb, taskID, mp); err != nil {
		return false, err
	}
	return true, nil
}

// BatchMemberCounts is how many members of a batch are in each state.
type BatchMemberCounts struct {
	// ByStatus counts members per status.
	ByStatus map[string]int
	// Due counts pending members due now (no next_attempt_at, or one
	// passed) and Waiting those due later; NextDue is the earliest
	// next_attempt_at of the waiting ones.
	Due     int
	Waiting int
	NextDue *time.Time
	// WorkRanges are the buckets (BatchSeq ranges of the bucket size
	// asked for) holding members due now or left processing, in order.
	WorkRanges []SeqRange
}

// SeqRange is a range of BatchSeq, both ends included.
type SeqRange struct{ From, To int }

// Final reports whether no member is left to settle.
func (c BatchMemberCounts) Final() bool {
	for s, n := range c.ByStatus {
		if n > 0 && s != "success" && s != "failed" && s != "cancelled" {
			return false
		}
	}
	return true
}

// CountBatchWork counts a batch's members by state at now; the work
// ranges are buckets of bucket seqs (at least 1).
func (db *DB) CountBatchWork(ctx context.Context, batchID string, now time.Time, bucket int) (BatchMemberCounts, error) {
	bucket = max(bucket, 1)
	now = normTime(now)
	out := BatchMemberCounts{ByStatus: map[string]int{}}
	var rows []struct {
		Status string `bun:"status"`
		N      int    `bun:"n"`
	}
	err := db.idb.NewSelect().Model((*Message)(nil)).ColumnExpr("m.status, COUNT(*) AS n").
		Where(memberOf, batchID).Where("m.batch_seq > 0").GroupExpr("m.status").Scan(ctx, &rows)
	if err != nil {
		return out, fmt.Errorf("count members of batch %q: %w", batchID, mapErr(err))
	}
	for _, r := range rows {
		out.ByStatus[r.Status] = r.N
	}
	if out.ByStatus[statusPending] > 0 {
		var waiting struct {
			N     int          `bun:"n"`
			First bun.NullTime `bun:"first"`
		}
		err := db.idb.NewSelect().Model((*Message)(nil)).ColumnExpr("COUNT(*) AS n, MIN(m.next_attempt_at) AS first").
			Where(memberOf, batchID).Where("m.batch_seq > 0").Where("m.status = ?", statusPending).
			Where("m.next_attempt_at > ?", now).Scan(ctx, &waiting)
		if err != nil {
			return out, fmt.Errorf("count waiting members of batch %q: %w", batchID, mapErr(err))
		}
		out.Waiting = waiting.N
		out.Due = out.ByStatus[statusPending] - out.Waiting
		if waiting.N > 0 && !waiting.First.IsZero() {
			t := waiting.First.UTC()
			out.NextDue = &t
		}
	}
	if out.Due == 0 && out.ByStatus[statusProcessing] == 0 {
		return out, nil
	}
	var buckets []int
	err = db.idb.NewSelect().Model((*Message)(nil)).ColumnExpr("DISTINCT (m.batch_seq - 1) / ? AS b", bucket).
		Where(memberOf, batchID).Where("m.batch_seq > 0").
		Where("(m.status = ? OR (m.status = ? AND (m.next_attempt_at IS NULL OR m.next_attempt_at <= ?)))", statusProcessing, statusPending, now).
		OrderExpr("b ASC").Scan(ctx, &buckets)
	if err != nil {
		return out, fmt.Errorf("find work of batch %q: %w", batchID, mapErr(err))
	}
	for _, b := range buckets {
		out.WorkRanges = append(out.WorkRanges, SeqRange{From: b*bucket + 1, To: (b + 1) * bucket})
	}
	return out, nil
}

// RecordBatchStatus sets a batch's status, and its finished time with a
// final one (finished, cancelled once every member is final).
func (db *DB) RecordBatchStatus(ctx context.Context, batchID, status string, finished bool) error {
	now := db.timestamp()
	q := db.idb.NewUpdate().Model((*Batch)(nil)).Set("status = ?", status).Set("updated_at = ?", now).Where("id = ?", batchID)
	if finished {
		q = q.Set("finished_at = ?", now)
	}
	if err := execOne(ctx, q); err != nil {
		return fmt.Errorf("set status of batch %q: %w", batchID, err)
	}
	return nil
}

// ProviderID maps one provider message id on an account to its task.
type ProviderID struct {
	TaskID            string
	AccountID         int64
	ProviderMessageID string
}

// AddProviderMessageIDs records many provider ids at once, as
// AddProviderMessageID does one; an empty id records an acceptance
// without one. A batch chunk records them the moment the provider answers,
// before the members' statuses, so that a receipt pushed at once finds its
// member. Ids already recorded are left as they are.
func (db *DB) AddProviderMessageIDs(ctx context.Context, ids []ProviderID) error {
	if len(ids) == 0 {
		return nil
	}
	now := db.timestamp()
	rows := make([]messageProviderID, len(ids))
	for i, id := range ids {
		key := id.ProviderMessageID
		if key == "" {
			key = acceptedWithoutID(id.TaskID)
		}
		rows[i] = messageProviderID{TaskID: id.TaskID, AccountID: id.AccountID, ProviderMessageID: key, CreatedAt: now}
	}
	if _, err := db.idb.NewInsert().Model(&rows).On("CONFLICT (account_id, provider_message_id) DO NOTHING").Exec(ctx); err != nil {
		return fmt.Errorf("add provider message ids: %w", mapErr(err))
	}
	return nil
}

// MemberReceipt is a delivery receipt for a batch member, already bound
// to a send its account accepted (see api's receipt resolution).
type MemberReceipt struct {
	AccountID         int64
	ProviderMessageID string
	// Status is "delivered", "failed" or "rejected".
	Status      string
	Code        string
	Description string
}

// Effects of ApplyMemberReceipts.
const (
	// ReceiptNotMember: the task is no batch-workflow member; nothing
	// was written.
	ReceiptNotMember = ""
	// ReceiptDelivered: the member ended success.
	ReceiptDelivered = "delivered"
	// ReceiptFailedMarked: the member's current send failed; it waits,
	// status sent with the receipt's verdict, for the batch workflow's
	// rule engine.
	ReceiptFailedMarked = "failed_marked"
	// ReceiptLate: the receipt names no send the member waits for; it is
	// on the timeline only.
	ReceiptLate = "late"
	// ReceiptRepeated: the member already holds this receipt's verdict
	// for the same send (a provider pushing again); nothing was written.
	ReceiptRepeated = "repeated"
)

// Timeline kinds the receipt of a member writes.
const (
	memberEventReceipt     = "receipt"
	memberEventLateReceipt = "late_receipt"
)

// TaskReceipt is a MemberReceipt for the task it was bound to.
type TaskReceipt struct {
	TaskID string
	MemberReceipt
}

// ApplyMemberReceipts applies receipts to members of batch-workflow
// batches directly, with no workflow per member, and reports each one's
// effect: a delivered receipt of any send the member's account accepted
// ends it success (the receiver has the message, so a retry waiting
// elsewhere must not go); a failed or rejected one of its current send
// marks it for the batch workflow's rule engine; a repeat of the verdict
// the member holds changes nothing; anything else (a member already
// final, a stale send's failure) is recorded on its timeline and changes
// nothing. Receipts of other messages get ReceiptNotMember and write
// nothing.
//
// A provider pushes receipts by the hundred, mostly for the members of
// one chunk: they are applied in one transaction, their rows locked in
// one statement in the order chunks lock them, so a push costs one
// commit rather than one per receipt. Receipts of one task apply in the
// order given.
func (db *DB) ApplyMemberReceipts(ctx context.Context, receipts []TaskReceipt) ([]string, error) {
	effects := make([]string, len(receipts))
	ids := make([]string, 0, len(receipts))
	for _, r := range receipts {
		ids = append(ids, r.TaskID)
	}
	// Most receipts are for single sends: one plain read tells them
	// apart before any transaction.
	var members []string
	err := db.idb.NewSelect().Model((*Message)(nil)).Column("task_id").
		Where("task_id IN (?)", bun.List(ids)).Where("batch_seq > 0").Scan(ctx, &members)
	if err != nil {
		return nil, fmt.Errorf("find batch members of receipts: %w", mapErr(err))
	}
	if len(members) == 0 {
		return effects, nil
	}
	err = db.RunInTx(ctx, func(ctx context.Context, tx *DB) error {
		now := tx.timestamp()
		stats := statsBatch{kinds: map[int64]string{}}
		states, err := lockMembers(ctx, tx.idb, members)
		if err != nil {
			return err
		}
		seqs, err := nextEventSeqs(ctx, tx.idb, members)
		if err != nil {
			return err
		}
		var events []*MessageEvent
		for i, r := range receipts {
			st, ok := states[r.TaskID]
			if !ok || st.BatchSeq == 0 {
				continue
			}
			effect, p := memberReceiptPatch(st, r.MemberReceipt, now)
			effects[i] = effect
			if effect == ReceiptRepeated {
				continue
			}
			applied, err := updateMemberLocked(ctx, tx.idb, tx.cipher, now, r.TaskID, &st.messageState, p, &stats)
			if err != nil {
				return err
			}
			if !applied {
				effects[i] = ReceiptLate
				continue
			}
			// A later receipt of the same task sees this one's result.
			if p.Status != nil {
				st.Status = *p.Status
			}
			if p.CallbackStatus != nil {
				st.CallbackStatus = *p.CallbackStatus
			}
			events = append(events, seqs.next(r.TaskID, p.Event))
		}
		if err := addEvents(ctx, tx.idb, tx.cipher, now, events); err != nil {
			return err
		}
		return stats.apply(ctx, tx.idb)
	})
	if err != nil {
		return nil, fmt.Errorf("apply receipts to batch members: %w", err)
	}
	return effects, nil
}

// memberReceiptPatch decides what receipt r does to a member in state st
// (see ApplyMemberReceipts).
func memberReceiptPatch(st *memberState, r MemberReceipt, now time.Time) (string, MemberPatch) {
	accountID := r.AccountID
	ev := &MessageEvent{Kind: memberEventReceipt, Status: r.Status, AccountID: &accountID, Code: r.Code, Detail: receiptDetail(r)}
	current := st.AccountID != nil && *st.AccountID == r.AccountID && st.ProviderMessageID == r.ProviderMessageID
	switch {
	case current && st.CallbackStatus == r.Status && (finalStatus(st.Status) || st.Status == statusSent):
		return ReceiptRepeated, MemberPatch{}
	case r.Status == ReceiptDelivered && !finalStatus(st.Status):
		success, cb := "success", r.Status
		return ReceiptDelivered, MemberPatch{From: []string{statusPending, statusProcessing, statusSent}, Event: ev,
			MessagePatch: MessagePatch{Status: &success, CallbackStatus: &cb, FinishedAt: &now}}
	case r.Status != ReceiptDelivered && st.Status == statusSent && current && st.CallbackStatus == "":
		cb, lastErr := r.Status, "receipt "+receiptDetail(r)
		return ReceiptFailedMarked, MemberPatch{From: []string{statusSent}, Event: ev,
			MessagePatch: MessagePatch{CallbackStatus: &cb, LastError: &lastErr}}
	}
	ev.Kind = memberEventLateReceipt
	p := MemberPatch{Event: ev}
	if finalStatus(st.Status) && st.CallbackStatus == "" {
		cb := r.Status
		p.CallbackStatus = &cb
	}
	return ReceiptLate, p
}

func receiptDetail(r MemberReceipt) string {
	d := r.Status
	if r.Description != "" {
		d += " (" + r.Description + ")"
	}
	return d
}
