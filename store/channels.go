package store

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// ChannelPatch changes the non-nil fields of a channel. A TemplateID
// pointing at 0 unbinds the template.
type ChannelPatch struct {
	Name                  *string
	Type                  *string
	TemplateID            *int64
	SignatureNames        *[]string
	SignatureRequired     *bool
	Enabled               *bool
	ReceiptTimeoutSeconds *int
	MaxAttempts           *int
	// ReceiverCaps set to a nil pointer clears the caps.
	ReceiverCaps      **ReceiverCaps
	AllowedCountries  *[]string
	DefaultTTLSeconds *int
	// QuietHours pointing at nil removes the channel's quiet hours.
	QuietHours **QuietHours
	// IfVersion, when positive, applies the patch only to that version of
	// the row; another version fails with ErrStale.
	IfVersion int64
}

// ChannelFilter selects channels for ListChannels.
type ChannelFilter struct {
	// Type, if set, keeps channels of that type.
	Type *string
	// EnabledOnly drops disabled channels.
	EnabledOnly bool
	// AppID, if set, keeps the channels granted to that app.
	AppID *string
	// Offset skips that many channels; Limit caps the page, 0 meaning no cap.
	Offset, Limit int
}

// CreateChannel stores a new channel and sets its ID. Zero CreatedAt and
// UpdatedAt are set to now. It returns ErrConflict if the name is taken and
// ErrNotFound if TemplateID names no template.
func (db *DB) CreateChannel(ctx context.Context, ch *Channel) error {
	return createChannel(ctx, db.idb, db.timestamp(), ch)
}

// GetChannel returns a channel or ErrNotFound.
func (db *DB) GetChannel(ctx context.Context, id int64) (*Channel, error) {
	return getChannel(ctx, db.idb, id)
}

// FindChannelByName returns the channel with that name or ErrNotFound.
func (db *DB) FindChannelByName(ctx context.Context, name string) (*Channel, error) {
	return findChannelByName(ctx, db.idb, name)
}

// UpdateChannel applies patch to a channel and sets its UpdatedAt. It
// returns ErrNotFound if there is no such channel (or template) and
// ErrConflict if the new name is taken.
func (db *DB) UpdateChannel(ctx context.Context, id int64, patch ChannelPatch) error {
	return updateChannel(ctx, db.idb, db.timestamp(), id, patch)
}

// ListChannels returns one page of the channels that match f, newest id
// first, and how many match in all.
func (db *DB) ListChannels(ctx context.Context, f ChannelFilter) ([]Channel, int, error) {
	return listChannels(ctx, db.idb, f)
}

func createChannel(ctx context.Context, idb bun.IDB, now time.Time, ch *Channel) error {
	ch.CreatedAt, ch.UpdatedAt = createdTimes(now, ch.CreatedAt, ch.UpdatedAt)
	ch.Version = 1
	if _, err := idb.NewInsert().Model(ch).Returning("id").Exec(ctx); err != nil {
		return fmt.Errorf("create channel: %w", mapErr(err))
	}
	return nil
}

func getChannel(ctx context.Context, idb bun.IDB, id int64) (*Channel, error) {
	ch := new(Channel)
	if err := idb.NewSelect().Model(ch).Where("ch.id = ?", id).Scan(ctx); err != nil {
		return nil, fmt.Errorf("get channel %d: %w", id, mapErr(err))
	}
	normChannel(ch)
	return ch, nil
}

func findChannelByName(ctx context.Context, idb bun.IDB, name string) (*Channel, error) {
	ch := new(Channel)
	if err := idb.NewSelect().Model(ch).Where("ch.name = ?", name).Scan(ctx); err != nil {
		return nil, fmt.Errorf("find channel %q: %w", name, mapErr(err))
	}
	normChannel(ch)
	return ch, nil
}

func updateChannel(ctx context.Context, idb bun.IDB, now time.Time, id int64, p ChannelPatch) error {
	q := idb.NewUpdate().Model((*Channel)(nil)).Set("updated_at = ?", now).Set("version = version + 1").Where("id = ?", id)
	if p.IfVersion > 0 {
		q = q.Where("version = ?", p.IfVersion)
	}
	if p.Name != nil {
		q = q.Set("name = ?", *p.Name)
	}
	if p.Type != nil {
		q = q.Set("type = ?", *p.Type)
	}
	if p.TemplateID != nil {
		if *p.TemplateID == 0 {
			q = q.Set("template_id = NULL")
		} else {
			q = q.Set("template_id = ?", *p.TemplateID)
		}
	}
	if p.SignatureNames != nil {
		js, err := jsonText(*p.SignatureNames)
		if err != nil {
			return fmt.Errorf("update channel %d: %w", id, err)
		}
		q = q.Set("signature_names = ?", js)
	}
	if p.SignatureRequired != nil {
		q = q.Set("signature_required = ?", *p.SignatureRequired)
	}
	if p.Enabled != nil {
		q = q.Set("enabled = ?", *p.Enabled)
	}
	if p.ReceiptTimeoutSeconds != nil {
		q = q.Set("receipt_timeout_seconds = ?", *p.ReceiptTimeoutSeconds)
	}
	if p.MaxAttempts != nil {
		q = q.Set("max_attempts = ?", *p.MaxAttempts)
	}
	if p.ReceiverCaps != nil {
		q = setCaps(q, *p.ReceiverCaps)
	}
	if p.AllowedCountries != nil {
		js, err := jsonText(*p.AllowedCountries)
		if err != nil {
			return fmt.Errorf("update channel %d: %w", id, err)
		}
		q = q.Set("allowed_countries = ?", js)
	}
	if p.DefaultTTLSeconds != nil {
		q = q.Set("default_ttl_seconds = ?", *p.DefaultTTLSeconds)
	}
	if p.QuietHours != nil {
		js, err := quietHoursText(*p.QuietHours)
		if err != nil {
			return err
		}
		q = q.Set("quiet_hours = ?", js)
	}
	if err := execVersioned(ctx, idb, q, (*Channel)(nil), id, p.IfVersion); err != nil {
		return fmt.Errorf("update channel %d: %w", id, err)
	}
	return nil
}

func listChannels(ctx context.Context, idb bun.IDB, f ChannelFilter) ([]Channel, int, error) {
	filter := func(q *bun.SelectQuery) *bun.SelectQuery {
		if f.Type != nil {
			q = q.Where("ch.type = ?", *f.Type)
		}
		if f.EnabledOnly {
			q = q.Where("ch.enabled = ?", true)
		}
		if f.AppID != nil {
			q = q.Where("EXISTS (SELECT 1 FROM app_channels AS ac WHERE ac.channel_id = ch.id AND ac.app_id = ?)", *f.AppID)
		}
		return q
	}
	n, err := idb.NewSelect().Model((*Channel)(nil)).Apply(filter).Count(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("count channels: %w", mapErr(err))
	}
	total := int(n)
	chs := []Channel{}
	if f.Offset >= total {
		return chs, total, nil
	}
	q := idb.NewSelect().Model(&chs).Apply(filter).OrderExpr("ch.id DESC")
	if f.Offset > 0 {
		q = q.Offset(int64(f.Offset))
	}
	switch {
	case f.Limit > 0:
		q = q.Limit(int64(f.Limit))
	case f.Offset > 0:
		// SQLite accepts OFFSET only after a LIMIT.
		q = q.Limit(int64(total))
	}
	if err := q.Scan(ctx); err != nil {
		return nil, 0, fmt.Errorf("list channels: %w", mapErr(err))
	}
	for i := range chs {
		normChannel(&chs[i])
	}
	return chs, total, nil
}

func normChannel(ch *Channel) {
	ch.CreatedAt = normTime(ch.CreatedAt)
	ch.UpdatedAt = normTime(ch.UpdatedAt)
}

// setCaps sets the receiver_caps column: NULL for nil, else JSON.
func setCaps(q *bun.UpdateQuery, caps *ReceiverCaps) *bun.UpdateQuery {
	if caps == nil {
		return q.Set("receiver_caps = NULL")
	}
	js, _ := jsonText(caps) // a struct of ints always encodes
	return q.Set("receiver_caps = ?", js)
}
