package store

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun/driver/pgdriver"
)

// eventsChannel is the PostgreSQL notification channel a trigger
// (migration 000011) notifies on every stored message event.
const eventsChannel = "herald_message_events"

// WatchedEvent is a message event with the message fields a live tail
// filters and shows.
type WatchedEvent struct {
	ID          int64     `bun:"id"`
	TaskID      string    `bun:"task_id"`
	Seq         int       `bun:"seq"`
	Kind        string    `bun:"kind"`
	Status      string    `bun:"status"`
	AccountID   *int64    `bun:"account_id"`
	Code        string    `bun:"code"`
	Detail      string    `bun:"detail"`
	CreatedAt   time.Time `bun:"created_at"`
	AppID       string    `bun:"app_id"`
	ChannelID   int64     `bun:"channel_id"`
	MessageType string    `bun:"message_type"`
	Receiver    string    `bun:"receiver"`
}

// LastEventID returns the id of the newest message event, 0 when none.
func (db *DB) LastEventID(ctx context.Context) (int64, error) {
	var id int64
	err := db.idb.NewSelect().Model((*MessageEvent)(nil)).ColumnExpr("COALESCE(MAX(ev.id), 0)").Scan(ctx, &id)
	if err != nil {
		return 0, fmt.Errorf("last event id: %w", mapErr(err))
	}
	return id, nil
}

// ListEventsAfter returns up to limit events (500 at most) with an id above
// afterID whose message matches f (its cursor and limit aside), oldest
// first. An event whose transaction commits after a later one's was read
// can be passed over: this feeds a live tail, not an audit.
func (db *DB) ListEventsAfter(ctx context.Context, afterID int64, f MessageFilter, limit int) ([]WatchedEvent, error) {
	if limit <= 0 || limit > MaxMessagePage {
		limit = MaxMessagePage
	}
	out := []WatchedEvent{}
	q := db.idb.NewSelect().TableExpr("message_events AS ev").
		Join("JOIN messages AS m ON m.task_id = ev.task_id").
		ColumnExpr("ev.id, ev.task_id, ev.seq, ev.kind, ev.status, ev.account_id, ev.code, ev.detail, ev.created_at").
		ColumnExpr("m.app_id, m.channel_id, m.message_type, m.receiver").
		Where("ev.id > ?", afterID).
		OrderExpr("ev.id ASC").
		Limit(int64(limit))
	q = applyMessageFilter(q, f)
	if err := q.Scan(ctx, &out); err != nil {
		return nil, fmt.Errorf("list events after %d: %w", afterID, mapErr(err))
	}
	for i := range out {
		e := &out[i]
		var err error
		if e.Detail, err = db.cipher.OpenText(e.Detail); err != nil {
			return nil, fmt.Errorf("list events after %d: open detail of task %q: %w", afterID, e.TaskID, err)
		}
		if e.Receiver, err = db.cipher.OpenText(e.Receiver); err != nil {
			return nil, fmt.Errorf("list events after %d: open receiver of task %q: %w", afterID, e.TaskID, err)
		}
		e.CreatedAt = normTime(e.CreatedAt)
	}
	return out, nil
}

// EventNotifications returns a channel that receives soon after message
// events are stored (several may share one receive), and a function that
// stops it. On SQLite, which has no notifications, the channel is nil:
// poll instead. The channel closes when ctx ends or stop is called.
func (db *DB) EventNotifications(ctx context.Context) (<-chan struct{}, func() error, error) {
	if db.dialect != DialectPostgres {
		return nil, func() error { return nil }, nil
	}
	ln := pgdriver.NewListener(db.bun)
	if err := ln.Listen(ctx, eventsChannel); err != nil {
		_ = ln.Close()
		return nil, nil, fmt.Errorf("listen for message events: %w", err)
	}
	out := make(chan struct{}, 1)
	notes := ln.Channel()
	go func() {
		defer close(out)
		for {
			select {
			case <-ctx.Done():
				return
			case _, ok := <-notes:
				if !ok {
					return
				}
				select {
				case out <- struct{}{}:
				default: // a wake-up is pending already
				}
			}
		}
	}()
	return out, ln.Close, nil
}
