package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
)

// BatchMember is one receiver of a batch-workflow batch: its task id and
// its normalised receiver.
type BatchMember struct {
	TaskID   string
	Receiver string
}

// sqliteChunk is how many members one SQLite statement inserts, within the
// driver's limit on bound parameters.
const sqliteChunk = 500

// CreateBatch stores a batch run by a batch workflow and its members in
// one transaction. b carries what the members share (MessageType, Subject,
// Content, TemplateParams, SignatureName, Attachments, ScheduledAt) and a
// WorkflowID; member carries the rest of every member row (AppID,
// ChannelID, Status, MaxAttempts, ExpiresAt, Priority, RequestHash); the
// i-th of receivers becomes the member with BatchSeq i+1 and task id
// b.MemberTaskID(i+1) (CreateBatch draws b.MemberPrefix when it is
// empty).
//
// The members are stored staged: their receivers in runs of a thousand,
// not yet as message rows, which the batch's chunks and its background
// expansion write (ExpandBatchMembers), or a read of the task (GetMessage)
// does. They are reserved against their app's quotas and counted in the
// statistics now, with one statement per quota and per rollup row, so
// accepting a batch costs a few statements whatever its size.
//
// It returns ErrConflict, storing nothing, if the batch's (app id,
// idempotency key) or its member prefix exists, and a *QuotaExceededError,
// storing nothing, if the members do not all fit their app's quotas.
func (db *DB) CreateBatch(ctx context.Context, b *Batch, member *Message, receivers []string) error {
	if b.WorkflowID == "" {
		return errors.New("create batch: a batch with members stored apart needs its workflow id")
	}
	if len(receivers) == 0 {
		return errors.New("create batch: no members")
	}
	if b.MemberPrefix == "" {
		prefix, err := newMemberPrefix()
		if err != nil {
			return fmt.Errorf("create batch: %w", err)
		}
		b.MemberPrefix = prefix
	}
	now := db.timestamp()
	return db.RunInTx(ctx, func(ctx context.Context, tx *DB) error {
		return createBatch(ctx, tx.idb, now, tx.cipher, b, member, receivers)
	})
}

// MemberTaskID is the task id of the batch's member at seq (from 1).
func (b *Batch) MemberTaskID(seq int) string { return MemberTaskID(b.MemberPrefix, seq) }

func createBatch(ctx context.Context, idb bun.IDB, now time.Time, c *Cipher, b *Batch, member *Message, receivers []string) error {
	if b.CreatedAt.IsZero() {
		b.CreatedAt = now
	}
	b.CreatedAt = normTime(b.CreatedAt)
	b.UpdatedAt = &b.CreatedAt
	b.ScheduledAt = normTimePtr(b.ScheduledAt)
	if b.Status == "" {
		b.Status = BatchRunning
	}
	b.MessageType = member.MessageType
	b.SignatureName = member.SignatureName

	m := *member
	m.CreatedAt = b.CreatedAt
	m.ExpiresAt = normTimePtr(m.ExpiresAt)
	if m.MessageType == ChannelSMS && m.SMSSegments == 0 {
		m.SMSSegments = SMSSegments(b.Content, b.SignatureName)
	}
	// Reserved first: the batch row records the reservation its members
	// start with.
	mark, err := reserveQuotaGroup(ctx, idb, m.AppID, m.ChannelID, m.CreatedAt, int64(len(receivers)))
	if err != nil {
		return err
	}
	if mark.scopes != 0 {
		m.QuotaState, m.QuotaScopes, m.QuotaDay, m.QuotaMonth = QuotaReserved, mark.scopes, mark.day, mark.month
	}
	defaults, err := json.Marshal(defaultsOf(&m))
	if err != nil {
		return fmt.Errorf("create batch: %w", err)
	}
	b.MemberDefaults = string(defaults)
	row, err := sealBatch(c, b)
	if err != nil {
		return fmt.Errorf("create batch: %w", err)
	}
	if _, err := idb.NewInsert().Model(&row).Exec(ctx); err != nil {
		return fmt.Errorf("create batch: %w", mapErr(err))
	}
	if err := stageMembers(ctx, idb, c, b.ID, receivers); err != nil {
		return err
	}
	var stats statsBatch
	stats.countAcceptedAlike(&m, int64(len(receivers)))
	// Counted last, after the quota rows, as every writer does (see
	// statsBatch).
	return stats.apply(ctx, idb)
}

// countAcceptedAlike adds n newly stored messages that share m's rollup
// key (app, channel, status, accept minute, no account yet) at once.
func (b *statsBatch) countAcceptedAlike(m *Message, n int64) {
	d := b.at(statsKey{minute: minuteOf(m.CreatedAt), appID: m.AppID, channelID: m.ChannelID, status: m.Status})
	d.messages += n
	d.segments += n * int64(m.SMSSegments)
	if finalStatus(m.Status) {
		d.final[LatencyBucket(0)] += n
	}
}

// memberColumns are the columns every member row shares with m; the
// receiver, its key, the task id and batch_seq differ per member.
var memberColumns = []string{
	"batch_id", "app_id", "channel_id", "message_type", "subject", "content", "signature_name",
	"status", "callback_status", "provider_message_id", "attempt_count", "max_attempts", "last_error",
	"scheduled_at", "expires_at", "priority", "idempotency_key", "request_hash",
	"quota_state", "quota_scopes", "quota_day", "quota_month", "sms_segments",
	"redriven_to", "redriven_from", "created_at", "updated_at", "failed_accounts",
}

func memberValues(m *Message) []any {
	return []any{
		m.BatchID, m.AppID, m.ChannelID, m.MessageType, "", "", m.SignatureName,
		m.Status, m.CallbackStatus, "", 0, m.MaxAttempts, "",
		m.ScheduledAt, m.ExpiresAt, m.Priority, "", m.RequestHash,
		m.QuotaState, m.QuotaScopes, m.QuotaDay, m.QuotaMonth, m.SMSSegments,
		"", "", m.CreatedAt, m.UpdatedAt, "",
	}
}

// insertMembersPostgres inserts the members, the first at BatchSeq
// firstSeq, in one statement that sends the per-member values as three
// arrays and the shared ones once: INSERT … SELECT … FROM unnest(…) WITH
// ORDINALITY.
func insertMembersPostgres(ctx context.Context, idb bun.IDB, keys *ReceiverKeyer, c *Cipher, m *Message, members []BatchMember, firstSeq int) error {
	shared := memberValues(m)
	placeholders := strings.TrimSuffix(strings.Repeat("?, ", len(shared)), ", ")
	query := "INSERT INTO messages (task_id, receiver, receiver_key, batch_seq, " + strings.Join(memberColumns, ", ") + ")\n" +
		"SELECT u.task_id, u.receiver, u.receiver_key, u.n + ?, " + placeholders + "\n" +
		"FROM unnest(?::text[], ?::text[], ?::text[]) WITH ORDINALITY AS u(task_id, receiver, receiver_key, n)"
	taskIDs := make([]string, len(members))
	receivers := make([]string, len(members))
	receiverKeys := make([]string, len(members))
	for i, mb := range members {
		sealed, err := c.SealText(mb.Receiver)
		if err != nil {
			return fmt.Errorf("insert batch members: seal receiver: %w", err)
		}
		taskIDs[i], receivers[i] = mb.TaskID, sealed
		if keys != nil {
			receiverKeys[i] = keys.Key(m.MessageType, mb.Receiver)
		}
	}
	args := make([]any, 0, len(shared)+4)
	args = append(args, firstSeq-1)
	args = append(args, shared...)
	args = append(args, pgdialect.Array(taskIDs), pgdialect.Array(receivers), pgdialect.Array(receiverKeys))
	if _, err := idb.NewRaw(query, args...).Exec(ctx); err != nil {
		return fmt.Errorf("insert batch members: %w", mapErr(err))
	}
	return nil
}

// insertMembersRows inserts the members, the first at BatchSeq firstSeq,
// as ordinary rows, sqliteChunk at a time: the embedded store of
// development.
func insertMembersRows(ctx context.Context, idb bun.IDB, keys *ReceiverKeyer, c *Cipher, m *Message, members []BatchMember, firstSeq int) error {
	rows := make([]Message, 0, min(sqliteChunk, len(members)))
	for start := 0; start < len(members); start += sqliteChunk {
		rows = rows[:0]
		for i, mb := range members[start:min(start+sqliteChunk, len(members))] {
			row := *m
			row.TaskID = mb.TaskID
			row.BatchSeq = firstSeq + start + i
			sealed, err := c.SealText(mb.Receiver)
			if err != nil {
				return fmt.Errorf("insert batch members: seal receiver: %w", err)
			}
			row.Receiver = sealed
			if keys != nil {
				row.ReceiverKey = keys.Key(m.MessageType, mb.Receiver)
			}
			rows = append(rows, row)
		}
		if _, err := idb.NewInsert().Model(&rows).Exec(ctx); err != nil {
			return fmt.Errorf("insert batch members: %w", mapErr(err))
		}
	}
	return nil
}

// sealBatch returns the row to store for b: a copy whose shared personal
// data (subject, content, template parameters, attachments) is sealed.
func sealBatch(c *Cipher, b *Batch) (Batch, error) {
	row := *b
	var err error
	if row.Attachments, err = sealJSON(c, b.Attachments); err != nil {
		return Batch{}, fmt.Errorf("seal attachments: %w", err)
	}
	if row.Subject, err = c.SealText(b.Subject); err != nil {
		return Batch{}, fmt.Errorf("seal subject: %w", err)
	}
	if row.Content, err = c.SealText(b.Content); err != nil {
		return Batch{}, fmt.Errorf("seal content: %w", err)
	}
	row.TemplateParamsText = ""
	if b.TemplateParams != nil {
		raw, err := json.Marshal(b.TemplateParams)
		if err != nil {
			return Batch{}, fmt.Errorf("encode template params: %w", err)
		}
		if row.TemplateParamsText, err = c.SealText(string(raw)); err != nil {
			return Batch{}, fmt.Errorf("seal template params: %w", err)
		}
	}
	return row, nil
}

// fillFromBatch gives a member of a batch-workflow batch what it shares
// with the batch; the member's own non-empty values win. An erased member
// stays empty: its batch's content may outlive it until every member is
// erased, but is no longer part of this member's record.
func fillFromBatch(m *Message, b *Batch) {
	if m.ErasedAt != nil {
		return
	}
	if m.Subject == "" {
		m.Subject = b.Subject
	}
	if m.Content == "" {
		m.Content = b.Content
	}
	if m.TemplateParams == nil && b.TemplateParams != nil {
		m.TemplateParams = b.TemplateParams
	}
	if len(m.Attachments) == 0 {
		m.Attachments = b.Attachments
	}
}

// hydrateMembers fills the members of batch-workflow batches among ms,
// already opened, from their batches: one query for all the batches they
// belong to.
func hydrateMembers(ctx context.Context, idb bun.IDB, c *Cipher, ms []Message) error {
	var ids []string
	seen := map[string]bool{}
	for i := range ms {
		if ms[i].BatchSeq > 0 && ms[i].ErasedAt == nil && !seen[ms[i].BatchID] {
			seen[ms[i].BatchID] = true
			ids = append(ids, ms[i].BatchID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	bs := []Batch{}
	if err := idb.NewSelect().Model(&bs).Where("b.id IN (?)", bun.List(ids)).Scan(ctx); err != nil {
		return fmt.Errorf("load batches of members: %w", mapErr(err))
	}
	byID := make(map[string]*Batch, len(bs))
	for i := range bs {
		if err := openBatch(c, &bs[i]); err != nil {
			return fmt.Errorf("load batch %q of members: %w", bs[i].ID, err)
		}
		byID[bs[i].ID] = &bs[i]
	}
	for i := range ms {
		if b := byID[ms[i].BatchID]; b != nil && ms[i].BatchSeq > 0 {
			fillFromBatch(&ms[i], b)
		}
	}
	return nil
}

// hydrateMember is hydrateMembers for one message.
func hydrateMember(ctx context.Context, idb bun.IDB, c *Cipher, m *Message) error {
	if m.BatchSeq == 0 || m.ErasedAt != nil {
		return nil
	}
	ms := []Message{*m}
	if err := hydrateMembers(ctx, idb, c, ms); err != nil {
		return err
	}
	*m = ms[0]
	return nil
}

// BatchCounts counts a batch's members by status; the ordinary message
// statuses are its keys.
type BatchCounts map[string]int

// Total is the number of members counted.
func (c BatchCounts) Total() int {
	n := 0
	for _, v := range c {
		n += v
	}
	return n
}

// CountBatchMembers counts the members of a batch by status, in one
// grouped query over the batch's index.
func (db *DB) CountBatchMembers(ctx context.Context, batchID string) (BatchCounts, error) {
	var rows []struct {
		Status string `bun:"status"`
		N      int    `bun:"n"`
	}
	err := db.idb.NewSelect().TableExpr("messages AS m").ColumnExpr("m.status, count(*) AS n").
		Where(memberOf, batchID).GroupExpr("m.status").Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("count members of batch %q: %w", batchID, mapErr(err))
	}
	counts := BatchCounts{}
	for _, r := range rows {
		counts[r.Status] = r.N
	}
	staged, err := stagedCounts(ctx, db.idb, []string{batchID})
	if err != nil {
		return nil, fmt.Errorf("count members of batch %q: %w", batchID, err)
	}
	counts.addStaged(staged[batchID])
	return counts, nil
}

// addStaged counts n staged members: pending, as their rows will start.
func (c BatchCounts) addStaged(n int) {
	if n > 0 {
		c[statusPending] += n
	}
}

// CountBatchesMembers is CountBatchMembers for a page of batches, in one
// grouped query; a batch without members maps to empty counts.
func (db *DB) CountBatchesMembers(ctx context.Context, batchIDs []string) (map[string]BatchCounts, error) {
	out := make(map[string]BatchCounts, len(batchIDs))
	if len(batchIDs) == 0 {
		return out, nil
	}
	var rows []struct {
		BatchID string `bun:"batch_id"`
		Status  string `bun:"status"`
		N       int    `bun:"n"`
	}
	err := db.idb.NewSelect().TableExpr("messages AS m").ColumnExpr("m.batch_id, m.status, count(*) AS n").
		Where(memberOfAny, bun.List(batchIDs)).GroupExpr("m.batch_id, m.status").Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("count members of %d batches: %w", len(batchIDs), mapErr(err))
	}
	for _, id := range batchIDs {
		out[id] = BatchCounts{}
	}
	for _, r := range rows {
		out[r.BatchID][r.Status] = r.N
	}
	staged, err := stagedCounts(ctx, db.idb, batchIDs)
	if err != nil {
		return nil, fmt.Errorf("count members of %d batches: %w", len(batchIDs), err)
	}
	for id, n := range staged {
		out[id].addStaged(n)
	}
	return out, nil
}

// SetBatchStatus records the status a batch's workflow answered a pause,
// resume or cancel with. It changes only a batch still running or paused,
// so an answer that arrives late never reopens a batch its workflow has
// since marked finished or cancelled. It returns ErrNotFound for an
// unknown batch and nothing else when the batch has moved on.
func (db *DB) SetBatchStatus(ctx context.Context, batchID, status string) error {
	switch status {
	case BatchRunning, BatchPaused, BatchCancelled:
	default:
		return fmt.Errorf("set status of batch %q: %q is not running, paused or cancelled", batchID, status)
	}
	now := db.timestamp()
	_, err := db.idb.NewUpdate().Model((*Batch)(nil)).Set("status = ?", status).Set("updated_at = ?", now).
		Where("id = ?", batchID).Where("status IN (?)", bun.List([]string{BatchRunning, BatchPaused})).
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("set status of batch %q: %w", batchID, mapErr(err))
	}
	if _, err := getBatch(ctx, db.idb, db.cipher, batchID); err != nil {
		return fmt.Errorf("set status: %w", err)
	}
	return nil
}

// BatchFilter selects batches for ListBatches. Zero fields do not filter.
type BatchFilter struct {
	AppID  string
	Status string
	// WorkflowOnly keeps only batches run by a batch workflow.
	WorkflowOnly bool
	// Before is a cursor: only batches accepted before it, or at the same
	// time with a smaller id.
	Before *BatchCursor
	// Limit bounds the page; 0 or less means 50, and it is at most 500.
	Limit int
}

// BatchCursor is a position in the newest-first order of ListBatches.
type BatchCursor struct {
	CreatedAt time.Time
	ID        string
}

// ListBatches returns the batches matching f, newest first. Their shared
// subject, content and parameters are left out (a list shows progress,
// not content); GetBatch returns them.
func (db *DB) ListBatches(ctx context.Context, f BatchFilter) ([]Batch, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultMessagePage
	}
	limit = min(limit, MaxMessagePage)
	bs := []Batch{}
	q := db.idb.NewSelect().Model(&bs).
		ExcludeColumn("subject", "content", "template_params", "attachments").
		OrderExpr("b.created_at DESC, b.id DESC").Limit(int64(limit))
	if f.AppID != "" {
		q = q.Where("b.app_id = ?", f.AppID)
	}
	if f.Status != "" {
		q = q.Where("b.status = ?", f.Status)
	}
	if f.WorkflowOnly {
		q = q.Where("b.workflow_id <> ''")
	}
	if f.Before != nil {
		q = q.Where("(b.created_at, b.id) < (?, ?)", normTime(f.Before.CreatedAt), f.Before.ID)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, fmt.Errorf("list batches: %w", mapErr(err))
	}
	for i := range bs {
		normBatchTimes(&bs[i])
	}
	return bs, nil
}

// BatchToStart is a batch whose workflow the sweeper makes sure runs.
type BatchToStart struct {
	Batch `bun:",extend"`
	// ExpiresAt is when the batch's members stop being worth sending; nil
	// for none.
	ExpiresAt *time.Time `bun:"member_expires_at,scanonly"`
}

// ListBatchesToStart returns up to limit batches run by a batch workflow
// that are still running or paused and were accepted before olderThan,
// oldest first, after the cursor id when not empty: those whose workflow
// start may have been lost (the accepting process stopped between the
// store write and the start). Starting a batch's workflow again is
// harmless, so the caller may start them all.
func (db *DB) ListBatchesToStart(ctx context.Context, olderThan time.Time, after string, limit int) ([]BatchToStart, error) {
	bs := []BatchToStart{}
	q := db.idb.NewSelect().Model(&bs).
		ExcludeColumn("subject", "content", "template_params", "attachments").
		// Only a batch from before staged members (no member_defaults)
		// needs its first member's row for the expiry.
		ColumnExpr("CASE WHEN b.member_defaults = '' THEN (SELECT m.expires_at FROM messages AS m WHERE m.batch_id = b.id AND m.batch_id <> '' AND m.batch_seq = 1) END AS member_expires_at").
		Where("b.workflow_id <> ''").
		Where("b.status IN (?)", bun.List([]string{BatchRunning, BatchPaused})).
		Where("b.created_at < ?", normTime(olderThan)).
		OrderExpr("b.id ASC")
	if after != "" {
		q = q.Where("b.id > ?", after)
	}
	if limit > 0 {
		q = q.Limit(int64(limit))
	}
	if err := q.Scan(ctx); err != nil {
		return nil, fmt.Errorf("list batches to start: %w", mapErr(err))
	}
	for i := range bs {
		normBatchTimes(&bs[i].Batch)
		// A batch with staged members says it itself; older ones' first
		// member is read above.
		if bs[i].MemberDefaults != "" {
			m, err := memberTemplate(&bs[i].Batch)
			if err != nil {
				return nil, fmt.Errorf("list batches to start: %w", err)
			}
			bs[i].ExpiresAt = m.ExpiresAt
		}
		bs[i].ExpiresAt = normTimePtr(bs[i].ExpiresAt)
	}
	return bs, nil
}

func normBatchTimes(b *Batch) {
	b.CreatedAt = normTime(b.CreatedAt)
	b.ScheduledAt = normTimePtr(b.ScheduledAt)
	b.UpdatedAt = normTimePtr(b.UpdatedAt)
	b.FinishedAt = normTimePtr(b.FinishedAt)
}

// ListBatchMembers returns the task ids and receivers of a batch's
// members, staged ones included, in BatchSeq order: what a replayed batch
// request answers with, read without the rest of 100,000 rows. The staged
// runs are read before the rows, so a run written as rows in between is
// read both ways, and kept once, rather than missed.
func (db *DB) ListBatchMembers(ctx context.Context, batchID string) ([]BatchMember, error) {
	var staged []seqMember
	b, err := getBatch(ctx, db.idb, db.cipher, batchID)
	if err == nil {
		staged, err = db.listStagedMembers(ctx, b)
	}
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("list members of batch %q: %w", batchID, err)
	}
	var rows []struct {
		TaskID   string `bun:"task_id"`
		Receiver string `bun:"receiver"`
		Seq      int    `bun:"batch_seq"`
	}
	err = db.idb.NewSelect().TableExpr("messages AS m").Column("m.task_id", "m.receiver", "m.batch_seq").
		Where(memberOf, batchID).OrderExpr("m.batch_seq ASC, m.id ASC").Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("list members of batch %q: %w", batchID, mapErr(err))
	}
	out := make([]BatchMember, 0, len(rows)+len(staged))
	for _, r := range rows {
		for len(staged) > 0 && staged[0].seq <= r.Seq {
			if staged[0].seq < r.Seq {
				out = append(out, staged[0].BatchMember)
			}
			staged = staged[1:]
		}
		recv, err := db.cipher.OpenText(r.Receiver)
		if err != nil {
			return nil, fmt.Errorf("list members of batch %q: open receiver: %w", batchID, err)
		}
		out = append(out, BatchMember{TaskID: r.TaskID, Receiver: recv})
	}
	for _, m := range staged {
		out = append(out, m.BatchMember)
	}
	return out, nil
}
