package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// AppPatch changes the non-nil fields of an app.
type AppPatch struct {
	Name               *string
	Secret             *string
	Enabled            *bool
	IPAllowlist        *[]string
	RateLimitPerSecond *int
	RequestsPerMinute  *int
	Burst              *int
	MessagesPerMinute  *int
	StatusCallbackURL  *string
	CallbackSecret     *string
	// QuietHours pointing at nil removes the app's quiet hours.
	QuietHours **QuietHours
	TimeZone   *string
	// RetentionDays is the app's retention; 0 keeps data for ever.
	RetentionDays *int
	// IfVersion, when positive, applies the patch only to that version of
	// the row; another version fails with ErrStale.
	IfVersion int64
}

// CreateApp stores a new app, sealing its secrets. Zero CreatedAt and
// UpdatedAt are set to now. It returns ErrConflict if the id is taken.
func (db *DB) CreateApp(ctx context.Context, app *App) error {
	return createApp(ctx, db.idb, db.cipher, db.timestamp(), app)
}

// GetApp returns the app with its secrets opened, or ErrNotFound.
func (db *DB) GetApp(ctx context.Context, id string) (*App, error) {
	return getApp(ctx, db.idb, db.cipher, id)
}

// UpdateApp applies patch to an app and sets its UpdatedAt. It returns
// ErrNotFound if there is no such app.
func (db *DB) UpdateApp(ctx context.Context, id string, patch AppPatch) error {
	return updateApp(ctx, db.idb, db.cipher, db.timestamp(), id, patch)
}

func createApp(ctx context.Context, idb bun.IDB, c *Cipher, now time.Time, app *App) error {
	var err error
	if app.SecretEnc, err = sealString(c, app.Secret); err != nil {
		return fmt.Errorf("create app: seal secret: %w", err)
	}
	if app.CallbackSecretEnc, err = sealString(c, app.CallbackSecret); err != nil {
		return fmt.Errorf("create app: seal callback secret: %w", err)
	}
	app.CreatedAt, app.UpdatedAt = createdTimes(now, app.CreatedAt, app.UpdatedAt)
	app.Version = 1
	if _, err := idb.NewInsert().Model(app).Exec(ctx); err != nil {
		return fmt.Errorf("create app: %w", mapErr(err))
	}
	return nil
}

func getApp(ctx context.Context, idb bun.IDB, c *Cipher, id string) (*App, error) {
	app := new(App)
	if err := idb.NewSelect().Model(app).Where("app.id = ?", id).Scan(ctx); err != nil {
		return nil, fmt.Errorf("get app %q: %w", id, mapErr(err))
	}
	if err := openApp(c, app); err != nil {
		return nil, fmt.Errorf("get app %q: %w", id, err)
	}
	return app, nil
}

func openApp(c *Cipher, app *App) error {
	var err error
	if app.Secret, err = openString(c, app.SecretEnc); err != nil {
		return fmt.Errorf("open secret: %w", err)
	}
	if app.CallbackSecret, err = openString(c, app.CallbackSecretEnc); err != nil {
		return fmt.Errorf("open callback secret: %w", err)
	}
	app.CreatedAt = normTime(app.CreatedAt)
	app.UpdatedAt = normTime(app.UpdatedAt)
	return nil
}

func updateApp(ctx context.Context, idb bun.IDB, c *Cipher, now time.Time, id string, p AppPatch) error {
	q := idb.NewUpdate().Model((*App)(nil)).Set("updated_at = ?", now).Set("version = version + 1").Where("id = ?", id)
	if p.IfVersion > 0 {
		q = q.Where("version = ?", p.IfVersion)
	}
	if p.Name != nil {
		q = q.Set("name = ?", *p.Name)
	}
	if p.Secret != nil {
		enc, err := sealString(c, *p.Secret)
		if err != nil {
			return fmt.Errorf("update app %q: seal secret: %w", id, err)
		}
		q = q.Set("secret_enc = ?", enc)
	}
	if p.Enabled != nil {
		q = q.Set("enabled = ?", *p.Enabled)
	}
	if p.IPAllowlist != nil {
		js, err := jsonText(*p.IPAllowlist)
		if err != nil {
			return fmt.Errorf("update app %q: %w", id, err)
		}
		q = q.Set("ip_allowlist = ?", js)
	}
	if p.RateLimitPerSecond != nil {
		q = q.Set("rate_limit_per_second = ?", *p.RateLimitPerSecond)
	}
	if p.RequestsPerMinute != nil {
		q = q.Set("requests_per_minute = ?", *p.RequestsPerMinute)
	}
	if p.Burst != nil {
		q = q.Set("burst = ?", *p.Burst)
	}
	if p.MessagesPerMinute != nil {
		q = q.Set("messages_per_minute = ?", *p.MessagesPerMinute)
	}
	if p.StatusCallbackURL != nil {
		q = q.Set("status_callback_url = ?", *p.StatusCallbackURL)
	}
	if p.TimeZone != nil {
		q = q.Set("time_zone = ?", *p.TimeZone)
	}
	if p.RetentionDays != nil {
		q = q.Set("retention_days = ?", *p.RetentionDays)
	}
	if p.QuietHours != nil {
		js, err := quietHoursText(*p.QuietHours)
		if err != nil {
			return err
		}
		q = q.Set("quiet_hours = ?", js)
	}
	if p.CallbackSecret != nil {
		enc, err := sealString(c, *p.CallbackSecret)
		if err != nil {
			return fmt.Errorf("update app %q: seal callback secret: %w", id, err)
		}
		q = q.Set("callback_secret_enc = ?", enc)
	}
	if err := execVersioned(ctx, idb, q, (*App)(nil), id, p.IfVersion); err != nil {
		return fmt.Errorf("update app %q: %w", id, err)
	}
	return nil
}

// sealString encrypts a secret for storage.
func sealString(c *Cipher, s string) ([]byte, error) {
	return c.Encrypt([]byte(s))
}

func openString(c *Cipher, enc []byte) (string, error) {
	b, err := c.Decrypt(enc)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// createdTimes fills zero creation and update times with now, so callers
// (imports, tests) may set them and everyone else need not.
func createdTimes(now, created, updated time.Time) (time.Time, time.Time) {
	if created.IsZero() {
		created = now
	}
	if updated.IsZero() {
		updated = created
	}
	return normTime(created), normTime(updated)
}

// jsonText encodes v as JSON text, the way JSON columns are stored.
func jsonText(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode json: %w", err)
	}
	return string(b), nil
}

// execOne runs an UPDATE or DELETE and returns ErrNotFound when it touched
// no row.
func execOne(ctx context.Context, q interface {
	Exec(ctx context.Context, dest ...any) (sql.Result, error)
}) error {
	res, err := q.Exec(ctx)
	if err != nil {
		return mapErr(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("rows affected: %w", err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// quietHoursText is quiet hours as stored: JSON, or NULL for none.
func quietHoursText(qh *QuietHours) (*string, error) {
	if qh == nil {
		return nil, nil
	}
	js, err := jsonText(qh)
	if err != nil {
		return nil, fmt.Errorf("encode quiet hours: %w", err)
	}
	return &js, nil
}

// execVersioned runs an update of one versioned row. When it touches no
// row and a version was expected, it tells a row that moved on (ErrStale)
// from one that does not exist (ErrNotFound).
func execVersioned(ctx context.Context, idb bun.IDB, q *bun.UpdateQuery, model any, id any, ifVersion int64) error {
	err := execOne(ctx, q)
	if !errors.Is(err, ErrNotFound) || ifVersion <= 0 {
		return err
	}
	exists, xerr := idb.NewSelect().Model(model).Where("id = ?", id).Exists(ctx)
	if xerr != nil {
		return mapErr(xerr)
	}
	if exists {
		return fmt.Errorf("%w: version %d is no longer current", ErrStale, ifVersion)
	}
	return ErrNotFound
}
