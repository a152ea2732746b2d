package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// AccountPatch changes the non-nil fields of a provider account.
type AccountPatch struct {
	Name          *string
	Config        *json.RawMessage
	Weight        *int
	Enabled       *bool
	CallbackToken *string
	// RateLimitPerMinute of 0 returns the account to its provider's cap.
	RateLimitPerMinute *int
	// Breaker replaces the breaker thresholds (JSON; empty: defaults).
	Breaker *string
	// IfVersion, when positive, applies the patch only to that version of
	// the row; another version fails with ErrStale.
	IfVersion int64
	// Countries replaces the countries the account sends to (empty: all
	// its provider reaches).
	Countries *[]string
}

// channelAccount is one row of a channel's pool.
type channelAccount struct {
	bun.BaseModel `bun:"table:channel_accounts,alias:ca"`

	ChannelID int64     `bun:"channel_id,pk"`
	AccountID int64     `bun:"account_id,pk"`
	Weight    int       `bun:"weight,notnull"`
	CreatedAt time.Time `bun:"created_at,notnull"`
	UpdatedAt time.Time `bun:"updated_at,notnull"`
}

// CreateAccount stores a new provider account, sealing its Config, and
// sets its ID. Zero CreatedAt and UpdatedAt are set to now.
func (db *DB) CreateAccount(ctx context.Context, a *ProviderAccount) error {
	return createAccount(ctx, db.idb, db.cipher, db.timestamp(), a)
}

// GetAccount returns a provider account with its Config opened, or
// ErrNotFound.
func (db *DB) GetAccount(ctx context.Context, id int64) (*ProviderAccount, error) {
	return getAccount(ctx, db.idb, db.cipher, id)
}

// UpdateAccount applies patch to a provider account and sets its
// UpdatedAt. It returns ErrNotFound if there is no such account.
func (db *DB) UpdateAccount(ctx context.Context, id int64, patch AccountPatch) error {
	return updateAccount(ctx, db.idb, db.cipher, db.timestamp(), id, patch)
}

// ListAccounts returns every provider account by id, configs opened.
func (db *DB) ListAccounts(ctx context.Context) ([]ProviderAccount, error) {
	return listAccounts(ctx, db.idb, db.cipher)
}

// SetPoolMember puts an account in a channel's pool with weight, or changes
// its weight there. It returns ErrNotFound if the channel or the account
// does not exist.
func (db *DB) SetPoolMember(ctx context.Context, channelID, accountID int64, weight int) error {
	return setPoolMember(ctx, db.idb, db.timestamp(), channelID, accountID, weight)
}

// RemovePoolMember takes an account out of a channel's pool. It returns
// ErrNotFound if the account was not in the pool.
func (db *DB) RemovePoolMember(ctx context.Context, channelID, accountID int64) error {
	return removePoolMember(ctx, db.idb, channelID, accountID)
}

// ChannelPool returns a channel's pool ordered by account id, disabled
// accounts included so callers can report them. A channel without
// members, or no such channel, gives an empty pool.
func (db *DB) ChannelPool(ctx context.Context, channelID int64) ([]PoolMember, error) {
	return channelPool(ctx, db.idb, db.cipher, channelID)
}

func createAccount(ctx context.Context, idb bun.IDB, c *Cipher, now time.Time, a *ProviderAccount) error {
	var err error
	if a.ConfigEnc, err = c.Encrypt(a.Config); err != nil {
		return fmt.Errorf("create account: seal config: %w", err)
	}
	if a.CallbackTokenEnc, err = sealString(c, a.CallbackToken); err != nil {
		return fmt.Errorf("create account: seal callback token: %w", err)
	}
	a.LegacyCallbackToken = ""
	a.CreatedAt, a.UpdatedAt = createdTimes(now, a.CreatedAt, a.UpdatedAt)
	a.Version = 1
	if _, err := idb.NewInsert().Model(a).Returning("id").Exec(ctx); err != nil {
		return fmt.Errorf("create account: %w", mapErr(err))
	}
	return nil
}

func getAccount(ctx context.Context, idb bun.IDB, c *Cipher, id int64) (*ProviderAccount, error) {
	a := new(ProviderAccount)
	if err := idb.NewSelect().Model(a).Where("pa.id = ?", id).Scan(ctx); err != nil {
		return nil, fmt.Errorf("get account %d: %w", id, mapErr(err))
	}
	if err := openAccount(c, a); err != nil {
		return nil, fmt.Errorf("get account %d: %w", id, err)
	}
	if err := sealLegacyToken(ctx, idb, c, a); err != nil {
		return nil, fmt.Errorf("get account %d: %w", id, err)
	}
	return a, nil
}

// SealLegacyCallbackTokens seals every callback token an earlier version
// stored in plain text and returns how many it sealed. Herald runs it when
// it opens the store with its master key (SQL migrations have no key);
// until then the store reads such a token as it is and seals it on that
// read. Never run it with any key but the store's own.
func (db *DB) SealLegacyCallbackTokens(ctx context.Context) (int, error) {
	var legacy []ProviderAccount
	err := db.idb.NewSelect().Model(&legacy).Column("pa.id", "pa.callback_token").
		Where("pa.callback_token <> ''").
		Where("pa.callback_token_enc IS NULL").
		Scan(ctx)
	if err != nil {
		return 0, fmt.Errorf("find legacy callback tokens: %w", mapErr(err))
	}
	for i := range legacy {
		if err := sealLegacyToken(ctx, db.idb, db.cipher, &legacy[i]); err != nil {
			return i, fmt.Errorf("account %d: %w", legacy[i].ID, err)
		}
	}
	return len(legacy), nil
}

// sealLegacyToken seals a token an earlier version stored in plain text
// (SQL migrations have no key to do it) and clears the plain copy. Only a
// row still holding that same plain token and no sealed one is changed, so
// a concurrent reader or a new token is never overwritten.
func sealLegacyToken(ctx context.Context, idb bun.IDB, c *Cipher, a *ProviderAccount) error {
	if a.LegacyCallbackToken == "" {
		return nil
	}
	enc, err := sealString(c, a.LegacyCallbackToken)
	if err != nil {
		return fmt.Errorf("seal legacy callback token: %w", err)
	}
	_, err = idb.NewUpdate().Model((*ProviderAccount)(nil)).
		Set("callback_token_enc = ?", enc).
		Set("callback_token = ''").
		Where("id = ?", a.ID).
		Where("callback_token = ?", a.LegacyCallbackToken).
		Where("callback_token_enc IS NULL").
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("seal legacy callback token: %w", mapErr(err))
	}
	a.CallbackTokenEnc, a.LegacyCallbackToken = enc, ""
	return nil
}

func openAccount(c *Cipher, a *ProviderAccount) error {
	plain, err := c.Decrypt(a.ConfigEnc)
	if err != nil {
		return fmt.Errorf("open config: %w", err)
	}
	// An empty config was stored as nil; keep it nil rather than "".
	if len(plain) > 0 {
		a.Config = json.RawMessage(plain)
	}
	if len(a.CallbackTokenEnc) > 0 {
		if a.CallbackToken, err = openString(c, a.CallbackTokenEnc); err != nil {
			return fmt.Errorf("open callback token: %w", err)
		}
		a.LegacyCallbackToken = ""
	} else {
		a.CallbackToken = a.LegacyCallbackToken
	}
	a.CreatedAt = normTime(a.CreatedAt)
	a.UpdatedAt = normTime(a.UpdatedAt)
	return nil
}

func updateAccount(ctx context.Context, idb bun.IDB, c *Cipher, now time.Time, id int64, p AccountPatch) error {
	q := idb.NewUpdate().Model((*ProviderAccount)(nil)).Set("updated_at = ?", now).Set("version = version + 1").Where("id = ?", id)
	if p.IfVersion > 0 {
		q = q.Where("version = ?", p.IfVersion)
	}
	if p.Name != nil {
		q = q.Set("name = ?", *p.Name)
	}
	if p.Config != nil {
		enc, err := c.Encrypt(*p.Config)
		if err != nil {
			return fmt.Errorf("update account %d: seal config: %w", id, err)
		}
		q = q.Set("config_enc = ?", enc)
	}
	if p.Weight != nil {
		q = q.Set("weight = ?", *p.Weight)
	}
	if p.Enabled != nil {
		q = q.Set("enabled = ?", *p.Enabled)
	}
	if p.RateLimitPerMinute != nil {
		q = q.Set("rate_limit_per_minute = ?", *p.RateLimitPerMinute)
	}
	if p.Breaker != nil {
		q = q.Set("breaker = ?", *p.Breaker)
	}
	if p.Countries != nil {
		js, err := jsonText(*p.Countries)
		if err != nil {
			return fmt.Errorf("update account %d: countries: %w", id, err)
		}
		q = q.Set("countries = ?", js)
	}
	if p.CallbackToken != nil {
		enc, err := sealString(c, *p.CallbackToken)
		if err != nil {
			return fmt.Errorf("update account %d: seal callback token: %w", id, err)
		}
		q = q.Set("callback_token_enc = ?", enc).Set("callback_token = ''")
	}
	if err := execVersioned(ctx, idb, q, (*ProviderAccount)(nil), id, p.IfVersion); err != nil {
		return fmt.Errorf("update account %d: %w", id, err)
	}
	return nil
}

func listAccounts(ctx context.Context, idb bun.IDB, c *Cipher) ([]ProviderAccount, error) {
	as := []ProviderAccount{}
	if err := idb.NewSelect().Model(&as).OrderExpr("pa.id ASC").Scan(ctx); err != nil {
		return nil, fmt.Errorf("list accounts: %w", mapErr(err))
	}
	for i := range as {
		if err := openAccount(c, &as[i]); err != nil {
			return nil, fmt.Errorf("list accounts: account %d: %w", as[i].ID, err)
		}
		if err := sealLegacyToken(ctx, idb, c, &as[i]); err != nil {
			return nil, fmt.Errorf("list accounts: account %d: %w", as[i].ID, err)
		}
	}
	return as, nil
}

func setPoolMember(ctx context.Context, idb bun.IDB, now time.Time, channelID, accountID int64, weight int) error {
	m := &channelAccount{ChannelID: channelID, AccountID: accountID, Weight: weight, CreatedAt: now, UpdatedAt: now}
	_, err := idb.NewInsert().Model(m).
		On("CONFLICT (channel_id, account_id) DO UPDATE").
		Set("weight = EXCLUDED.weight").
		Set("updated_at = EXCLUDED.updated_at").
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("set account %d in pool of channel %d: %w", accountID, channelID, mapErr(err))
	}
	return nil
}

func removePoolMember(ctx context.Context, idb bun.IDB, channelID, accountID int64) error {
	q := idb.NewDelete().Model((*channelAccount)(nil)).
		Where("channel_id = ?", channelID).
		Where("account_id = ?", accountID)
	if err := execOne(ctx, q); err != nil {
		return fmt.Errorf("remove account %d from pool of channel %d: %w", accountID, channelID, err)
	}
	return nil
}

func channelPool(ctx context.Context, idb bun.IDB, c *Cipher, channelID int64) ([]PoolMember, error) {
	var rows []channelAccount
	err := idb.NewSelect().Model(&rows).
		Where("ca.channel_id = ?", channelID).
		OrderExpr("ca.account_id ASC").
		Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("pool of channel %d: %w", channelID, mapErr(err))
	}
	pool := make([]PoolMember, 0, len(rows))
	if len(rows) == 0 {
		return pool, nil
	}
	ids := make([]int64, len(rows))
	for i, r := range rows {
		ids[i] = r.AccountID
	}
	var accounts []ProviderAccount
	if err := idb.NewSelect().Model(&accounts).Where("pa.id IN (?)", bun.List(ids)).Scan(ctx); err != nil {
		return nil, fmt.Errorf("pool of channel %d: accounts: %w", channelID, mapErr(err))
	}
	byID := make(map[int64]*ProviderAccount, len(accounts))
	for i := range accounts {
		byID[accounts[i].ID] = &accounts[i]
	}
	for _, r := range rows {
		a, ok := byID[r.AccountID]
		if !ok {
			// The foreign key makes this impossible outside a race with a
			// delete; a member without an account cannot send anyway.
			continue
		}
		if err := openAccount(c, a); err != nil {
			return nil, fmt.Errorf("pool of channel %d: account %d: %w", channelID, a.ID, err)
		}
		pool = append(pool, PoolMember{Account: *a, Weight: r.Weight})
	}
	return pool, nil
}
