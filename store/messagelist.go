package store

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// MessageFilter selects messages for ListMessages. Zero fields do not
// filter.
type MessageFilter struct {
	AppID     string
	ChannelID int64
	// Statuses matches any of the statuses listed.
	Statuses []string
	// ProviderKind matches messages whose (last) account is of this kind.
	ProviderKind string
	AccountID    int64
	// Since and Until bound the accept time (CreatedAt); Until is
	// exclusive.
	Since, Until time.Time
	// ReceiverKeys matches messages whose ReceiverKey is any of these
	// (the spellings one typed receiver may have been keyed under).
	ReceiverKeys []string
	// NotRedriven keeps only messages not resent yet.
	NotRedriven bool
	// After is a cursor: only messages older than it in list order.
	After *MessageCursor
	// Limit bounds the page; 0 or less means 50, and it is at most 500.
	Limit int
}

// MessageCursor is a position in the newest-first order of ListMessages.
type MessageCursor struct {
	CreatedAt time.Time
	TaskID    string
}

// Cursor returns the position of m in list order.
func (m *Message) Cursor() MessageCursor {
	return MessageCursor{CreatedAt: m.CreatedAt, TaskID: m.TaskID}
}

// Default and largest page of ListMessages.
const (
	DefaultMessagePage = 50
	MaxMessagePage     = 500
)

// ListMessages returns the messages matching f, newest accepted first,
// ties broken by task id descending.
func (db *DB) ListMessages(ctx context.Context, f MessageFilter) ([]Message, error) {
	return listMessages(ctx, db.idb, db.cipher, f)
}

func listMessages(ctx context.Context, idb bun.IDB, c *Cipher, f MessageFilter) ([]Message, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultMessagePage
	}
	limit = min(limit, MaxMessagePage)
	ms := []Message{}
	q := idb.NewSelect().Model(&ms).OrderExpr("m.created_at DESC, m.task_id DESC").Limit(int64(limit))
	q = applyMessageFilter(q, f)
	if f.After != nil {
		// A row comparison reads as one index range on both databases.
		q = q.Where("(m.created_at, m.task_id) < (?, ?)", normTime(f.After.CreatedAt), f.After.TaskID)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, fmt.Errorf("list messages: %w", mapErr(err))
	}
	if err := openMessages(c, ms); err != nil {
		return nil, fmt.Errorf("list messages: %w", err)
	}
	if err := hydrateMembers(ctx, idb, c, ms); err != nil {
		return nil, fmt.Errorf("list messages: %w", err)
	}
	return ms, nil
}

// ResendMessage stores resend, a new task resending original, and links
// the two both ways, in one transaction: resend.RedrivenFrom is set to
// original and the original's RedrivenTo to resend's task id. It returns
// ErrNotFound when the original does not exist and ErrConflict, storing
// nothing, when it has been resent already.
func (db *DB) ResendMessage(ctx context.Context, original string, resend *Message) error {
	return db.RunInTx(ctx, func(ctx context.Context, tx *DB) error {
		res, err := tx.idb.NewUpdate().Model((*Message)(nil)).
			Set("redriven_to = ?", resend.TaskID).
			Set("updated_at = ?", tx.timestamp()).
			Where("task_id = ?", original).
			Where("redriven_to = ''").
			Exec(ctx)
		if err != nil {
			return fmt.Errorf("resend message %q: %w", original, mapErr(err))
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			if _, gerr := getMessage(ctx, tx.idb, tx.cipher, original); gerr != nil {
				return fmt.Errorf("resend message: %w", gerr)
			}
			return fmt.Errorf("resend message %q: resent already: %w", original, ErrConflict)
		}
		resend.RedrivenFrom = original
		return createMessages(ctx, tx.idb, tx.timestamp(), tx.keys, tx.cipher, []*Message{resend}, nil)
	})
}

// applyMessageFilter adds f's conditions, except the cursor and limit, on
// messages aliased m.
func applyMessageFilter(q *bun.SelectQuery, f MessageFilter) *bun.SelectQuery {
	if f.AppID != "" {
		q = q.Where("m.app_id = ?", f.AppID)
	}
	if f.ChannelID != 0 {
		q = q.Where("m.channel_id = ?", f.ChannelID)
	}
	switch len(f.Statuses) {
	case 0:
	case 1:
		q = q.Where("m.status = ?", f.Statuses[0])
	default:
		q = q.Where("m.status IN (?)", bun.List(f.Statuses))
	}
	if f.AccountID != 0 {
		q = q.Where("m.account_id = ?", f.AccountID)
	}
	if f.ProviderKind != "" {
		q = q.Where("m.account_id IN (SELECT pa.id FROM provider_accounts AS pa WHERE pa.kind = ?)", f.ProviderKind)
	}
	if !f.Since.IsZero() {
		q = q.Where("m.created_at >= ?", normTime(f.Since))
	}
	if !f.Until.IsZero() {
		q = q.Where("m.created_at < ?", normTime(f.Until))
	}
	switch len(f.ReceiverKeys) {
	case 0:
	case 1:
		q = q.Where("m.receiver_key = ?", f.ReceiverKeys[0])
	default:
		q = q.Where("m.receiver_key IN (?)", bun.List(f.ReceiverKeys))
	}
	if f.NotRedriven {
		q = q.Where("m.redriven_to = ''")
	}
	return q
}
