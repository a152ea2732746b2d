package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/uptrace/bun"
)

// stagedRunSize is how many members one staged run holds: a 100,000
// receiver batch is accepted as a hundred rows, and a read of one member
// before its chunk ran turns a thousand into message rows, a few tens of
// milliseconds.
const stagedRunSize = 1000

// memberPrefixLen is the length of a batch's member prefix: a UUID's text
// up to its last eight hex digits, which number the member.
const memberPrefixLen = 28

// MemberTaskID is the task id of the member of a batch with member prefix
// prefix at seq (from 1): a UUID (version 8, RFC 9562's custom layout)
// whose first twelve bytes are the batch's and whose last four are seq.
func MemberTaskID(prefix string, seq int) string {
	return fmt.Sprintf("%s%08x", prefix, uint32(seq))
}

// memberOfTask splits a task id made by MemberTaskID into its batch's
// prefix and the member's seq; ok is false for any other task id.
func memberOfTask(taskID string) (prefix string, seq int, ok bool) {
	if len(taskID) != memberPrefixLen+8 || taskID[14] != '8' {
		return "", 0, false
	}
	n, err := strconv.ParseUint(taskID[memberPrefixLen:], 16, 32)
	if err != nil || n == 0 {
		return "", 0, false
	}
	return taskID[:memberPrefixLen], int(n), true
}

// newMemberPrefix draws a batch's member prefix: 90 random bits, so two
// batches sharing one is as unlikely as two random UUIDs colliding within
// a store's lifetime (and the unique index refuses it if they do).
func newMemberPrefix() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:12]); err != nil {
		return "", fmt.Errorf("draw member prefix: %w", err)
	}
	b[6] = b[6]&0x0f | 0x80 // version 8
	b[8] = b[8]&0x3f | 0x80 // RFC 9562 variant
	h := hex.EncodeToString(b[:])
	return (h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:24])[:memberPrefixLen], nil
}

// memberDefaults is what a staged member's message row starts with that
// the batch row does not already say; Batch.MemberDefaults stores it.
type memberDefaults struct {
	Status         string     `json:"status"`
	CallbackStatus string     `json:"callback_status,omitempty"`
	MaxAttempts    int        `json:"max_attempts"`
	ExpiresAt      *time.Time `json:"expires_at,omitempty"`
	Priority       string     `json:"priority,omitempty"`
	QuotaState     string     `json:"quota_state,omitempty"`
	QuotaScopes    int        `json:"quota_scopes,omitempty"`
	QuotaDay       string     `json:"quota_day,omitempty"`
	QuotaMonth     string     `json:"quota_month,omitempty"`
	SMSSegments    int        `json:"sms_segments,omitempty"`
}

func defaultsOf(m *Message) memberDefaults {
	return memberDefaults{
		Status: m.Status, CallbackStatus: m.CallbackStatus, MaxAttempts: m.MaxAttempts, ExpiresAt: m.ExpiresAt,
		Priority: m.Priority, QuotaState: m.QuotaState, QuotaScopes: m.QuotaScopes, QuotaDay: m.QuotaDay,
		QuotaMonth: m.QuotaMonth, SMSSegments: m.SMSSegments,
	}
}

// memberTemplate is the message row every staged member of b starts as,
// before its task id, receiver and seq.
func memberTemplate(b *Batch) (Message, error) {
	var d memberDefaults
	if err := json.Unmarshal([]byte(b.MemberDefaults), &d); err != nil {
		return Message{}, fmt.Errorf("batch %q: read member defaults: %w", b.ID, err)
	}
	return Message{
		BatchID: b.ID, AppID: b.AppID, ChannelID: b.ChannelID, MessageType: b.MessageType, SignatureName: b.SignatureName,
		Status: d.Status, CallbackStatus: d.CallbackStatus, MaxAttempts: d.MaxAttempts,
		ScheduledAt: b.ScheduledAt, ExpiresAt: normTimePtr(d.ExpiresAt), Priority: d.Priority, RequestHash: b.RequestHash,
		QuotaState: d.QuotaState, QuotaScopes: d.QuotaScopes, QuotaDay: d.QuotaDay, QuotaMonth: d.QuotaMonth,
		SMSSegments: d.SMSSegments, CreatedAt: b.CreatedAt, UpdatedAt: b.CreatedAt,
	}, nil
}

// stageMembers stores a new batch's receivers as runs of stagedRunSize,
// each sealed as one JSON array: a few rows whatever the batch's size.
func stageMembers(ctx context.Context, idb bun.IDB, c *Cipher, batchID string, receivers []string) error {
	runs := make([]stagedRun, 0, (len(receivers)+stagedRunSize-1)/stagedRunSize)
	for start := 0; start < len(receivers); start += stagedRunSize {
		part := receivers[start:min(start+stagedRunSize, len(receivers))]
		raw, err := json.Marshal(part)
		if err != nil {
			return fmt.Errorf("stage members: %w", err)
		}
		sealed, err := c.SealText(string(raw))
		if err != nil {
			return fmt.Errorf("stage members: seal receivers: %w", err)
		}
		runs = append(runs, stagedRun{BatchID: batchID, FirstSeq: start + 1, Count: len(part), Receivers: sealed})
	}
	// A few megabytes at most per statement: 100 runs of a thousand.
	const perStatement = 100
	for start := 0; start < len(runs); start += perStatement {
		part := runs[start:min(start+perStatement, len(runs))]
		if _, err := idb.NewInsert().Model(&part).Exec(ctx); err != nil {
			return fmt.Errorf("stage members: %w", mapErr(err))
		}
	}
	return nil
}

// ExpandBatchMembers gives the staged members of a batch with BatchSeq
// in [fromSeq, toSeq] (toSeq 0: no upper bound) their message rows, a
// whole run at a time, each run in its own short transaction (so a chunk
// waiting on a run another expands waits for that run only). It returns
// how many rows it wrote; members already expanded cost one read.
func (db *DB) ExpandBatchMembers(ctx context.Context, batchID string, fromSeq, toSeq int) (int, error) {
	var ids []int64
	q := db.idb.NewSelect().Model((*stagedRun)(nil)).Column("br.id").Where("br.batch_id = ?", batchID).
		Where("br.first_seq + br.receiver_count > ?", fromSeq).OrderExpr("br.first_seq")
	if toSeq > 0 {
		q = q.Where("br.first_seq <= ?", toSeq)
	}
	if err := q.Scan(ctx, &ids); err != nil {
		return 0, fmt.Errorf("expand members of batch %q: %w", batchID, mapErr(err))
	}
	if len(ids) == 0 {
		return 0, nil
	}
	// What every run's rows share, read once for all the runs: only the
	// columns a member row takes from its batch (not the sealed content).
	var b Batch
	if err := db.idb.NewSelect().Model(&b).
		Column("b.id", "b.app_id", "b.channel_id", "b.message_type", "b.signature_name", "b.scheduled_at",
			"b.request_hash", "b.created_at", "b.member_prefix", "b.member_defaults").
		Where("b.id = ?", batchID).Scan(ctx); err != nil {
		return 0, fmt.Errorf("expand members of batch %q: load batch: %w", batchID, mapErr(err))
	}
	m, err := memberTemplate(&b)
	if err != nil {
		return 0, err
	}
	written := 0
	for _, id := range ids {
		err := db.RunInTx(ctx, func(ctx context.Context, tx *DB) error {
			n, err := tx.expandRun(ctx, id, b.MemberPrefix, m)
			written += n
			return err
		})
		if err != nil {
			return written, fmt.Errorf("expand members of batch %q: %w", batchID, err)
		}
	}
	return written, nil
}

// ExpandStagedMembers expands every staged member of every batch: what a
// scan of messages by receiver (erasure), by quota (reconciliation) or
// of every sealed row (key rotation) needs first. Staged members exist
// only from a batch's accept until its chunks reach them, so there are
// few or none.
func (db *DB) ExpandStagedMembers(ctx context.Context) (int, error) {
	var batchIDs []string
	if err := db.idb.NewSelect().Model((*stagedRun)(nil)).ColumnExpr("DISTINCT br.batch_id").Scan(ctx, &batchIDs); err != nil {
		return 0, fmt.Errorf("find staged members: %w", mapErr(err))
	}
	written := 0
	for _, id := range batchIDs {
		n, err := db.ExpandBatchMembers(ctx, id, 1, 0)
		written += n
		if err != nil {
			return written, err
		}
	}
	return written, nil
}

// expandRun turns one staged run into message rows, made from m (the
// batch's memberTemplate) with task ids under prefix, and deletes it, in
// the caller's transaction. A run already gone (expanded by another
// caller meanwhile) writes nothing: on PostgreSQL the run is locked
// first, so of two callers the second waits and then finds it gone.
func (db *DB) expandRun(ctx context.Context, id int64, prefix string, m Message) (int, error) {
	var run stagedRun
	q := db.idb.NewSelect().Model(&run).Where("br.id = ?", id)
	if db.dialect == DialectPostgres {
		q = q.For("UPDATE")
	}
	if err := q.Scan(ctx); err != nil {
		if errors.Is(mapErr(err), ErrNotFound) {
			return 0, nil
		}
		return 0, mapErr(err)
	}
	receivers, err := openRun(db.cipher, &run)
	if err != nil {
		return 0, err
	}
	members := make([]BatchMember, len(receivers))
	for i, r := range receivers {
		members[i] = BatchMember{TaskID: MemberTaskID(prefix, run.FirstSeq+i), Receiver: r}
	}
	if db.dialect == DialectPostgres {
		err = insertMembersPostgres(ctx, db.idb, db.keys, db.cipher, &m, members, run.FirstSeq)
	} else {
		err = insertMembersRows(ctx, db.idb, db.keys, db.cipher, &m, members, run.FirstSeq)
	}
	if err != nil {
		return 0, err
	}
	if _, err := db.idb.NewDelete().Model((*stagedRun)(nil)).Where("id = ?", id).Exec(ctx); err != nil {
		return 0, fmt.Errorf("delete staged run: %w", mapErr(err))
	}
	return len(members), nil
}

// expandStagedTask expands the run holding a member's task, if it is
// still staged, and reports whether the task id is one of a batch's
// members (made by MemberTaskID for a batch in the store): then its row
// exists now, written here or by a concurrent expansion.
func (db *DB) expandStagedTask(ctx context.Context, taskID string) (bool, error) {
	prefix, seq, ok := memberOfTask(taskID)
	if !ok {
		return false, nil
	}
	var batchID string
	err := db.idb.NewSelect().Model((*Batch)(nil)).Column("b.id").
		Where("b.member_prefix = ? AND b.member_prefix <> ''", prefix).Scan(ctx, &batchID)
	if errors.Is(mapErr(err), ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("find batch of task %q: %w", taskID, mapErr(err))
	}
	if _, err := db.ExpandBatchMembers(ctx, batchID, seq, seq); err != nil {
		return false, err
	}
	return true, nil
}

// stagedCounts returns how many members of each of batchIDs are still
// staged; a batch with none is absent.
func stagedCounts(ctx context.Context, idb bun.IDB, batchIDs []string) (map[string]int, error) {
	var rows []struct {
		BatchID string `bun:"batch_id"`
		N       int    `bun:"n"`
	}
	err := idb.NewSelect().Model((*stagedRun)(nil)).ColumnExpr("br.batch_id, SUM(br.receiver_count) AS n").
		Where("br.batch_id IN (?)", bun.List(batchIDs)).GroupExpr("br.batch_id").Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("count staged members: %w", mapErr(err))
	}
	out := make(map[string]int, len(rows))
	for _, r := range rows {
		out[r.BatchID] = r.N
	}
	return out, nil
}

// seqMember is a batch member and its BatchSeq.
type seqMember struct {
	BatchMember
	seq int
}

// listStagedMembers returns a batch's staged members, in BatchSeq order.
func (db *DB) listStagedMembers(ctx context.Context, b *Batch) ([]seqMember, error) {
	runs := []stagedRun{}
	if err := db.idb.NewSelect().Model(&runs).Where("br.batch_id = ?", b.ID).OrderExpr("br.first_seq").Scan(ctx); err != nil {
		return nil, mapErr(err)
	}
	var out []seqMember
	for _, run := range runs {
		receivers, err := openRun(db.cipher, &run)
		if err != nil {
			return nil, err
		}
		for i, r := range receivers {
			seq := run.FirstSeq + i
			out = append(out, seqMember{BatchMember: BatchMember{TaskID: MemberTaskID(b.MemberPrefix, seq), Receiver: r}, seq: seq})
		}
	}
	return out, nil
}

// openRun returns the receivers of a staged run.
func openRun(c *Cipher, run *stagedRun) ([]string, error) {
	raw, err := c.OpenText(run.Receivers)
	if err != nil {
		return nil, fmt.Errorf("open staged receivers: %w", err)
	}
	var receivers []string
	if err := json.Unmarshal([]byte(raw), &receivers); err != nil {
		return nil, fmt.Errorf("read staged receivers: %w", err)
	}
	if len(receivers) != run.Count {
		return nil, fmt.Errorf("staged run at seq %d holds %d receivers, not %d", run.FirstSeq, len(receivers), run.Count)
	}
	return receivers, nil
}
