package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
)

// SuppressionFilter selects suppressions for ListSuppressions.
type SuppressionFilter struct {
	AppID string
	// ChannelType, if set, keeps entries of that channel type.
	ChannelType string
	// ReceiverKey, if set, keeps the entries of that receiver.
	ReceiverKey string
}

// AddSuppression records that a receiver opted out. Adding one that is
// already there keeps the first entry (its reason and source) and is not
// an error; s.ID is then 0. A zero CreatedAt is set to now.
func (db *DB) AddSuppression(ctx context.Context, s *Suppression) error {
	return addSuppression(ctx, db.idb, db.timestamp(), s)
}

// AddBounceSuppression records an e-mail hard bounce or complaint a
// provider reported for a receiver key.
func (db *DB) AddBounceSuppression(ctx context.Context, appID, receiverKey, masked, reason string) error {
	return addSuppression(ctx, db.idb, db.timestamp(), &Suppression{
		AppID: appID, ChannelType: ChannelEmail, ReceiverKey: receiverKey, ReceiverMasked: masked,
		Reason: reason, Source: SuppressionBounce,
	})
}

// RemoveSuppression deletes a receiver's entry; ErrNotFound when there is
// none.
func (db *DB) RemoveSuppression(ctx context.Context, appID, channelType, receiverKey string) error {
	q := db.idb.NewDelete().Model((*Suppression)(nil)).
		Where("app_id = ?", appID).Where("channel_type = ?", channelType).Where("receiver_key = ?", receiverKey)
	if err := execOne(ctx, q); err != nil {
		return fmt.Errorf("remove suppression: %w", err)
	}
	return nil
}

// ListSuppressions returns the entries that match f, newest first.
func (db *DB) ListSuppressions(ctx context.Context, f SuppressionFilter) ([]Suppression, error) {
	var out []Suppression
	q := db.idb.NewSelect().Model(&out).Where("sup.app_id = ?", f.AppID).OrderExpr("sup.id DESC")
	if f.ChannelType != "" {
		q = q.Where("sup.channel_type = ?", f.ChannelType)
	}
	if f.ReceiverKey != "" {
		q = q.Where("sup.receiver_key = ?", f.ReceiverKey)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, fmt.Errorf("list suppressions: %w", mapErr(err))
	}
	for i := range out {
		out[i].CreatedAt = normTime(out[i].CreatedAt)
	}
	return out, nil
}

// suppressionChunk is how many receiver keys one SQLite lookup names.
const suppressionChunk = 1000

// SuppressedKeys returns which of the receiver keys are suppressed for
// the app and channel type, in one query on PostgreSQL.
func (db *DB) SuppressedKeys(ctx context.Context, appID, channelType string, keys []string) (map[string]bool, error) {
	out := map[string]bool{}
	if len(keys) == 0 {
		return out, nil
	}
	// A batch asks about up to 100,000 receivers: PostgreSQL gets them as
	// one array, SQLite as lists of suppressionChunk.
	chunk := suppressionChunk
	if db.dialect == DialectPostgres {
		chunk = len(keys)
	}
	if len(keys) > chunk {
		// An app usually has far fewer opt-outs than a large batch has
		// receivers: then reading them all, one range of the unique
		// index, and matching here beats naming every receiver in a
		// hundred statements.
		var all []string
		err := db.idb.NewSelect().Model((*Suppression)(nil)).Column("receiver_key").
			Where("app_id = ?", appID).Where("channel_type = ?", channelType).Limit(int64(len(keys))).Scan(ctx, &all)
		if err != nil {
			return nil, fmt.Errorf("look up suppressions: %w", mapErr(err))
		}
		if len(all) < len(keys) {
			asked := make(map[string]bool, len(keys))
			for _, k := range keys {
				asked[k] = true
			}
			for _, k := range all {
				if asked[k] {
					out[k] = true
				}
			}
			return out, nil
		}
	}
	for start := 0; start < len(keys); start += chunk {
		part := keys[start:min(start+chunk, len(keys))]
		q := db.idb.NewSelect().Model((*Suppression)(nil)).Column("receiver_key").
			Where("app_id = ?", appID).Where("channel_type = ?", channelType)
		if db.dialect == DialectPostgres {
			q = q.Where("receiver_key = ANY(?::text[])", pgdialect.Array(part))
		} else {
			q = q.Where("receiver_key IN (?)", bun.List(part))
		}
		var found []string
		if err := q.Scan(ctx, &found); err != nil {
			return nil, fmt.Errorf("look up suppressions: %w", mapErr(err))
		}
		for _, k := range found {
			out[k] = true
		}
	}
	return out, nil
}

func addSuppression(ctx context.Context, idb bun.IDB, now time.Time, s *Suppression) error {
	if s.AppID == "" || s.ChannelType == "" || s.ReceiverKey == "" {
		return errors.New("add suppression: app, channel type and receiver key are required")
	}
	if s.CreatedAt.IsZero() {
		s.CreatedAt = now
	}
	s.CreatedAt = normTime(s.CreatedAt)
	_, err := idb.NewInsert().Model(s).On("CONFLICT (app_id, channel_type, receiver_key) DO NOTHING").Returning("id").Exec(ctx)
	if err != nil {
		return fmt.Errorf("add suppression: %w", mapErr(err))
	}
	return nil
}
