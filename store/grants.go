package store

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"
)

// appChannel is one grant: the app may send through, list and read the
// channel. An app sees no channel it has no grant for.
type appChannel struct {
	bun.BaseModel `bun:"table:app_channels,alias:ac"`

	AppID     string `bun:"app_id,pk"`
	ChannelID int64  `bun:"channel_id,pk"`
}

// ChannelGranted reports whether the app holds a grant for the channel. An
// unknown app or channel is simply not granted.
func (db *DB) ChannelGranted(ctx context.Context, appID string, channelID int64) (bool, error) {
	return channelGranted(ctx, db.idb, appID, channelID)
}

// AppGrants returns the ids of the channels the app is granted, ascending.
func (db *DB) AppGrants(ctx context.Context, appID string) ([]int64, error) {
	return appGrants(ctx, db.idb, appID)
}

// SetAppGrants makes channelIDs exactly the channels the app is granted.
// It returns ErrNotFound if the app or one of the channels does not exist.
// Run it in a transaction (RunInTx) to make the change atomic.
func (db *DB) SetAppGrants(ctx context.Context, appID string, channelIDs []int64) error {
	return setAppGrants(ctx, db.idb, appID, channelIDs)
}

// GrantChannel grants the app the channel; granting it again changes
// nothing. It returns ErrNotFound if the app or the channel does not exist.
func (db *DB) GrantChannel(ctx context.Context, appID string, channelID int64) error {
	return grantChannel(ctx, db.idb, appID, channelID)
}

func channelGranted(ctx context.Context, idb bun.IDB, appID string, channelID int64) (bool, error) {
	ok, err := idb.NewSelect().Model((*appChannel)(nil)).
		Where("ac.app_id = ?", appID).
		Where("ac.channel_id = ?", channelID).
		Exists(ctx)
	if err != nil {
		return false, fmt.Errorf("grant of channel %d to app %q: %w", channelID, appID, mapErr(err))
	}
	return ok, nil
}

func appGrants(ctx context.Context, idb bun.IDB, appID string) ([]int64, error) {
	ids := []int64{}
	err := idb.NewSelect().Model((*appChannel)(nil)).Column("ac.channel_id").
		Where("ac.app_id = ?", appID).
		OrderExpr("ac.channel_id ASC").
		Scan(ctx, &ids)
	if err != nil {
		return nil, fmt.Errorf("grants of app %q: %w", appID, mapErr(err))
	}
	return ids, nil
}

func grantChannel(ctx context.Context, idb bun.IDB, appID string, channelID int64) error {
	_, err := idb.NewInsert().Model(&appChannel{AppID: appID, ChannelID: channelID}).
		On("CONFLICT (app_id, channel_id) DO NOTHING").
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("grant channel %d to app %q: %w", channelID, appID, mapErr(err))
	}
	return nil
}

func setAppGrants(ctx context.Context, idb bun.IDB, appID string, channelIDs []int64) error {
	q := idb.NewDelete().Model((*appChannel)(nil)).Where("app_id = ?", appID)
	if len(channelIDs) > 0 {
		q = q.Where("channel_id NOT IN (?)", bun.List(channelIDs))
	}
	if _, err := q.Exec(ctx); err != nil {
		return fmt.Errorf("set grants of app %q: %w", appID, mapErr(err))
	}
	for _, id := range channelIDs {
		if err := grantChannel(ctx, idb, appID, id); err != nil {
			return fmt.Errorf("set grants of app %q: %w", appID, err)
		}
	}
	return nil
}
