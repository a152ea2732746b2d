package store

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Cached serves configuration reads (apps, channels, grants, templates,
// template mappings, accounts, pools and rules) from memory for up to a TTL, so the
// send path does not query — and decrypt — what rarely changes for every
// message. Everything else, and every write, goes to the DB it embeds. A
// configuration change made through any process shows within the TTL.
// Misses are not cached: a new app or channel is usable at once.
type Cached struct {
	*DB
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	entries map[string]cacheEntry
}

type cacheEntry struct {
	value   any
	expires time.Time
}

// DefaultCacheTTL is how stale cached configuration may be.
const DefaultCacheTTL = 2 * time.Second

// NewCached wraps db with a configuration cache of the given TTL (<= 0
// means DefaultCacheTTL).
func NewCached(db *DB, ttl time.Duration) *Cached {
	if ttl <= 0 {
		ttl = DefaultCacheTTL
	}
	return &Cached{DB: db, ttl: ttl, now: time.Now, entries: make(map[string]cacheEntry)}
}

// cached returns the value under key, loading it on a miss. Values are
// handed out as shared read-only data.
func cached[T any](ctx context.Context, c *Cached, key string, load func(context.Context) (T, error)) (T, error) {
	now := c.now()
	c.mu.Lock()
	if e, ok := c.entries[key]; ok && now.Before(e.expires) {
		c.mu.Unlock()
		return e.value.(T), nil
	}
	c.mu.Unlock()
	v, err := load(ctx)
	if err != nil {
		var zero T
		return zero, err
	}
	c.mu.Lock()
	if len(c.entries) > 10000 {
		// Entries are tiny and keys few; a full sweep now and then keeps
		// expired ones from piling up without a background goroutine.
		for k, e := range c.entries {
			if !now.Before(e.expires) {
				delete(c.entries, k)
			}
		}
	}
	c.entries[key] = cacheEntry{value: v, expires: now.Add(c.ttl)}
	c.mu.Unlock()
	return v, nil
}

// GetApp returns an app, from the cache when fresh.
func (c *Cached) GetApp(ctx context.Context, id string) (*App, error) {
	a, err := cached(ctx, c, "app:"+id, func(ctx context.Context) (*App, error) { return c.DB.GetApp(ctx, id) })
	if err != nil {
		return nil, err
	}
	cp := *a
	return &cp, nil
}

// GetChannel returns a channel, from the cache when fresh.
func (c *Cached) GetChannel(ctx context.Context, id int64) (*Channel, error) {
	ch, err := cached(ctx, c, fmt.Sprintf("channel:%d", id), func(ctx context.Context) (*Channel, error) { return c.DB.GetChannel(ctx, id) })
	if err != nil {
		return nil, err
	}
	cp := *ch
	return &cp, nil
}

// GetTemplate returns a template, from the cache when fresh.
func (c *Cached) GetTemplate(ctx context.Context, id int64) (*Template, error) {
	t, err := cached(ctx, c, fmt.Sprintf("template:%d", id), func(ctx context.Context) (*Template, error) { return c.DB.GetTemplate(ctx, id) })
	if err != nil {
		return nil, err
	}
	cp := *t
	return &cp, nil
}

// GetTemplateMapping returns a template mapping, from the cache when fresh.
func (c *Cached) GetTemplateMapping(ctx context.Context, templateID, accountID int64) (*TemplateMapping, error) {
	m, err := cached(ctx, c, fmt.Sprintf("mapping:%d:%d", templateID, accountID), func(ctx context.Context) (*TemplateMapping, error) {
		return c.DB.GetTemplateMapping(ctx, templateID, accountID)
	})
	if err != nil {
		return nil, err
	}
	cp := *m
	return &cp, nil
}

// GetAccount returns a provider account with its decrypted config, from
// the cache when fresh.
func (c *Cached) GetAccount(ctx context.Context, id int64) (*ProviderAccount, error) {
	a, err := cached(ctx, c, fmt.Sprintf("account:%d", id), func(ctx context.Context) (*ProviderAccount, error) { return c.DB.GetAccount(ctx, id) })
	if err != nil {
		return nil, err
	}
	cp := *a
	return &cp, nil
}

// ChannelPool returns a channel's pool, from the cache when fresh.
func (c *Cached) ChannelPool(ctx context.Context, channelID int64) ([]PoolMember, error) {
	p, err := cached(ctx, c, fmt.Sprintf("pool:%d", channelID), func(ctx context.Context) ([]PoolMember, error) { return c.DB.ChannelPool(ctx, channelID) })
	if err != nil {
		return nil, err
	}
	return append([]PoolMember(nil), p...), nil
}

// ListRules returns the enabled rules of a scene, from the cache when fresh.
func (c *Cached) ListRules(ctx context.Context, scene string) ([]Rule, error) {
	r, err := cached(ctx, c, "rules:"+scene, func(ctx context.Context) ([]Rule, error) { return c.DB.ListRules(ctx, scene) })
	if err != nil {
		return nil, err
	}
	return append([]Rule(nil), r...), nil
}

// ChannelGranted reports whether the app holds a grant for the channel,
// from the cache when fresh. Unlike a missing row elsewhere, "not granted"
// is an answer and is cached too: a grant made by another process shows
// within the TTL.
func (c *Cached) ChannelGranted(ctx context.Context, appID string, channelID int64) (bool, error) {
	return cached(ctx, c, fmt.Sprintf("grant:%d:%s", channelID, appID), func(ctx context.Context) (bool, error) {
		return c.DB.ChannelGranted(ctx, appID, channelID)
	})
}

// invalidate drops every cached entry. Configuration writes through this
// process are then visible at once; other processes' within the TTL.
func (c *Cached) invalidate() {
	c.mu.Lock()
	clear(c.entries)
	c.mu.Unlock()
}

// Invalidate drops every cached entry, for writers that reach the DB
// without going through this Cached (the operators' API writes in its own
// transactions).
func (c *Cached) Invalidate() { c.invalidate() }

// afterWrite invalidates the cache once a configuration write returns,
// whether or not it failed (a failed write may still have changed rows).
func (c *Cached) afterWrite(err error) error {
	c.invalidate()
	return err
}

// UpdateApp updates an app and drops cached configuration.
func (c *Cached) UpdateApp(ctx context.Context, id string, patch AppPatch) error {
	return c.afterWrite(c.DB.UpdateApp(ctx, id, patch))
}

// UpdateChannel updates a channel and drops cached configuration.
func (c *Cached) UpdateChannel(ctx context.Context, id int64, patch ChannelPatch) error {
	return c.afterWrite(c.DB.UpdateChannel(ctx, id, patch))
}

// UpdateAccount updates an account and drops cached configuration.
func (c *Cached) UpdateAccount(ctx context.Context, id int64, patch AccountPatch) error {
	return c.afterWrite(c.DB.UpdateAccount(ctx, id, patch))
}

// SetPoolMember changes a channel's pool and drops cached configuration.
func (c *Cached) SetPoolMember(ctx context.Context, channelID, accountID int64, weight int) error {
	return c.afterWrite(c.DB.SetPoolMember(ctx, channelID, accountID, weight))
}

// RemovePoolMember changes a channel's pool and drops cached configuration.
func (c *Cached) RemovePoolMember(ctx context.Context, channelID, accountID int64) error {
	return c.afterWrite(c.DB.RemovePoolMember(ctx, channelID, accountID))
}

// CreateRule adds a rule and drops cached configuration.
func (c *Cached) CreateRule(ctx context.Context, r *Rule) error {
	return c.afterWrite(c.DB.CreateRule(ctx, r))
}

// DeleteRule removes a rule and drops cached configuration.
func (c *Cached) DeleteRule(ctx context.Context, id int64) error {
	return c.afterWrite(c.DB.DeleteRule(ctx, id))
}

// UpsertTemplateMapping changes a mapping and drops cached configuration.
func (c *Cached) UpsertTemplateMapping(ctx context.Context, m *TemplateMapping) error {
	return c.afterWrite(c.DB.UpsertTemplateMapping(ctx, m))
}

// SetAppGrants changes an app's grants and drops cached configuration.
func (c *Cached) SetAppGrants(ctx context.Context, appID string, channelIDs []int64) error {
	return c.afterWrite(c.DB.SetAppGrants(ctx, appID, channelIDs))
}

// GrantChannel grants an app a channel and drops cached configuration.
func (c *Cached) GrantChannel(ctx context.Context, appID string, channelID int64) error {
	return c.afterWrite(c.DB.GrantChannel(ctx, appID, channelID))
}
