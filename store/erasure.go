package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// MaxEraseBatch bounds the messages one EraseMessages call erases, so its
// transaction stays short whatever the backlog.
const MaxEraseBatch = 1000

// finalStatuses are the statuses a message never leaves; only messages in
// one of them are erased, as the send path still reads the others.
var finalStatuses = []string{"success", "failed", "cancelled"}

// replyEventKind is the timeline event kind of a receiver's reply, whose
// Detail is the reply's text; replies are counted apart.
const replyEventKind = "reply"

// EraseFilter selects the messages whose personal data EraseMessages
// erases. At least one of AppID with Before, or ReceiverKeys, is set.
type EraseFilter struct {
	// AppID, if set, keeps the app's messages.
	AppID string
	// Before, if set, keeps messages accepted before it.
	Before time.Time
	// ReceiverKeys, if set, keeps messages to one of these keyed receivers
	// (ReceiverKeyer); messages are never matched by their receiver itself.
	ReceiverKeys []string
	// MessageType, if set, keeps messages of this channel type.
	MessageType string
	// Limit is the most messages one call erases: 1 to MaxEraseBatch,
	// 0 meaning MaxEraseBatch.
	Limit int
}

func (f EraseFilter) validate() error {
	if f.Limit < 0 || f.Limit > MaxEraseBatch {
		return fmt.Errorf("erase limit must be 0 to %d, got %d", MaxEraseBatch, f.Limit)
	}
	if len(f.ReceiverKeys) == 0 && (f.AppID == "" || f.Before.IsZero()) {
		// A filter that matches everything is a bug, never a request.
		return errors.New("erase filter needs receiver keys, or an app and a time")
	}
	return nil
}

func (f EraseFilter) where(q *bun.SelectQuery) *bun.SelectQuery {
	if f.AppID != "" {
		q = q.Where("m.app_id = ?", f.AppID)
	}
	if !f.Before.IsZero() {
		q = q.Where("m.created_at < ?", normTime(f.Before))
	}
	if len(f.ReceiverKeys) > 0 {
		q = q.Where("m.receiver_key IN (?)", bun.List(f.ReceiverKeys))
	}
	if f.MessageType != "" {
		q = q.Where("m.message_type = ?", f.MessageType)
	}
	return q.Where("m.erased_at IS NULL")
}

// EraseResult counts what one EraseMessages call erased.
type EraseResult struct {
	// Messages whose personal data was erased.
	Messages int
	// Replies whose text was erased.
	Replies int
	// More reports that the call erased as many messages as its limit, so
	// more may match.
	More bool
}

// EraseMessages erases the personal data of up to f.Limit final messages
// that match f, oldest first, in one transaction: receiver, receiver key,
// subject, content, template params and attachments become empty, the
// text of replies on their timelines too, and ErasedAt is set. Status,
// timestamps, accounts and the statistics rollups stay as they are.
// Messages not in a final status are left alone (CountUnfinishedMessages
// counts them). Call it again while the result says More.
func (db *DB) EraseMessages(ctx context.Context, f EraseFilter) (EraseResult, error) {
	if err := f.validate(); err != nil {
		return EraseResult{}, err
	}
	var res EraseResult
	err := db.RunInTx(ctx, func(ctx context.Context, tx *DB) error {
		var err error
		res, err = eraseMessages(ctx, tx.idb, tx.timestamp(), f)
		return err
	})
	if err != nil {
		return EraseResult{}, fmt.Errorf("erase messages: %w", err)
	}
	return res, nil
}

func eraseMessages(ctx context.Context, idb bun.IDB, now time.Time, f EraseFilter) (EraseResult, error) {
	limit := f.Limit
	if limit == 0 {
		limit = MaxEraseBatch
	}
	var (
		ids     []int64
		taskIDs []string
	)
	q := f.where(idb.NewSelect().TableExpr("messages AS m").Column("m.id", "m.task_id")).
		Where("m.status IN (?)", bun.List(finalStatuses)).
		OrderExpr("m.created_at, m.id").Limit(int64(limit))
	if err := q.Scan(ctx, &ids, &taskIDs); err != nil {
		return EraseResult{}, mapErr(err)
	}
	if len(ids) == 0 {
		return EraseResult{}, nil
	}
	// The status condition is repeated: a message's status cannot leave a
	// final one, but the erase must never reach a message still sending
	// whatever happens between the two statements.
	upd, err := idb.NewUpdate().Model((*Message)(nil)).
		Set("receiver = ''").Set("receiver_key = ''").Set("subject = ''").Set("content = ''").
		Set("template_params = NULL").Set("attachments = NULL").Set("last_error = ''").Set("erased_at = ?", now).
		Where("id IN (?)", bun.List(ids)).Where("status IN (?)", bun.List(finalStatuses)).Where("erased_at IS NULL").
		Exec(ctx)
	if err != nil {
		return EraseResult{}, mapErr(err)
	}
	n, err := upd.RowsAffected()
	if err != nil {
		return EraseResult{}, err
	}
	ev, err := idb.NewUpdate().Model((*MessageEvent)(nil)).Set("detail = ''").
		Where("task_id IN (?)", bun.List(taskIDs)).Where("kind = ?", replyEventKind).Where("detail <> ''").
		Exec(ctx)
	if err != nil {
		return EraseResult{}, mapErr(err)
	}
	replies, err := ev.RowsAffected()
	if err != nil {
		return EraseResult{}, err
	}
	// The other events' details go too, with a decision's inputs and a late
	// receipt's data: a provider's text in any of them can quote the
	// receiver. Their kinds and times stay, for the timeline.
	if _, err := idb.NewUpdate().Model((*MessageEvent)(nil)).Set("detail = ''").Set("inputs = NULL").Set("data = NULL").
		Where("task_id IN (?)", bun.List(taskIDs)).Where("(detail <> '' OR inputs IS NOT NULL OR data IS NOT NULL)").
		Exec(ctx); err != nil {
		return EraseResult{}, mapErr(err)
	}
	return EraseResult{Messages: int(n), Replies: int(replies), More: len(ids) == limit}, nil
}

// CountUnfinishedMessages counts the messages that match f but are in no
// final status, which EraseMessages leaves alone; f.Limit is ignored.
func (db *DB) CountUnfinishedMessages(ctx context.Context, f EraseFilter) (int, error) {
	f.Limit = 0
	if err := f.validate(); err != nil {
		return 0, err
	}
	// Staged members are unfinished too, but matched by receiver only
	// once they are rows.
	if _, err := db.ExpandStagedMembers(ctx); err != nil {
		return 0, fmt.Errorf("count unfinished messages: %w", err)
	}
	n, err := f.where(db.idb.NewSelect().TableExpr("messages AS m")).
		Where("m.status NOT IN (?)", bun.List(finalStatuses)).Count(ctx)
	if err != nil {
		return 0, fmt.Errorf("count unfinished messages: %w", mapErr(err))
	}
	return int(n), nil
}

// EraseSuppressions erases the suppression entries of receivers, by their
// keys, of channelType (any when empty). With keep the entries stay, keyed,
// so the opt-out still holds, but their masked receiver and reason (which
// may quote a reply) are cleared; without it they are deleted, and the
// receiver may be sent to again. It returns how many entries it changed.
func (db *DB) EraseSuppressions(ctx context.Context, receiverKeys []string, channelType string, keep bool) (int, error) {
	if len(receiverKeys) == 0 {
		return 0, errors.New("erase suppressions: no receiver keys")
	}
	var (
		res sqlResult
		err error
	)
	if keep {
		q := db.idb.NewUpdate().Model((*Suppression)(nil)).Set("receiver_masked = ''").Set("reason = ''").
			Where("receiver_key IN (?)", bun.List(receiverKeys)).
			Where("(receiver_masked <> '' OR reason <> '')")
		if channelType != "" {
			q = q.Where("channel_type = ?", channelType)
		}
		res, err = q.Exec(ctx)
	} else {
		q := db.idb.NewDelete().Model((*Suppression)(nil)).Where("receiver_key IN (?)", bun.List(receiverKeys))
		if channelType != "" {
			q = q.Where("channel_type = ?", channelType)
		}
		res, err = q.Exec(ctx)
	}
	if err != nil {
		return 0, fmt.Errorf("erase suppressions: %w", mapErr(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("erase suppressions: %w", err)
	}
	return int(n), nil
}

// sqlResult is the part of sql.Result the erasures read.
type sqlResult interface {
	RowsAffected() (int64, error)
}

// EraseBatchAttachments erases what the app's batches accepted before a
// time share with their members, once every member has been erased: the
// attachments of an e-mail batch, and the subject, content and template
// parameters a batch-workflow batch stores once for all its receivers. A
// batch's shared data goes only with the last of its members, as any
// member still kept reads it. It returns how many batches it erased.
func (db *DB) EraseBatchAttachments(ctx context.Context, appID string, before time.Time) (int, error) {
	if appID == "" || before.IsZero() {
		return 0, errors.New("erase batch attachments: needs an app and a time")
	}
	unerased := db.idb.NewSelect().TableExpr("messages AS m").ColumnExpr("1").
		Where("m.batch_id = b.id").Where("m.batch_id <> ''").Where("m.erased_at IS NULL")
	res, err := db.idb.NewUpdate().TableExpr("batches AS b").
		Set("attachments = NULL").Set("subject = ''").Set("content = ''").Set("template_params = NULL").
		Where("b.app_id = ?", appID).Where("b.created_at < ?", normTime(before)).
		Where("(b.attachments IS NOT NULL OR b.subject <> '' OR b.content <> '' OR b.template_params IS NOT NULL)").
		Where("NOT EXISTS (?)", unerased).
		// A staged member is kept too: its row will read the batch.
		Where("NOT EXISTS (SELECT 1 FROM batch_receivers AS br WHERE br.batch_id = b.id)").
		Exec(ctx)
	if err != nil {
		return 0, fmt.Errorf("erase batch attachments: %w", mapErr(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("erase batch attachments: %w", err)
	}
	return int(n), nil
}
