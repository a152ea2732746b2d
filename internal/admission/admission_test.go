package admission

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/providers/sandbox"
	"github.com/heraldhq/herald/providers/tencent"
	"github.com/heraldhq/herald/providers/zrwinfo"
	"github.com/heraldhq/herald/store"
)

// memStore is an in-memory Store.
type memStore struct {
	mu   sync.Mutex
	rows map[string]store.Suppression // app/type/key
	err  error
}

func (m *memStore) SuppressedKeys(_ context.Context, appID, channelType string, keys []string) (map[string]bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return nil, m.err
	}
	out := map[string]bool{}
	for _, k := range keys {
		if _, ok := m.rows[appID+"/"+channelType+"/"+k]; ok {
			out[k] = true
		}
	}
	return out, nil
}

func (m *memStore) AddSuppression(_ context.Context, s *store.Suppression) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := s.AppID + "/" + s.ChannelType + "/" + s.ReceiverKey
	if _, ok := m.rows[k]; !ok {
		m.rows[k] = *s
	}
	return nil
}

// redisClients returns the Redis servers a test runs against: miniredis
// always, and the shared real Redis (required under CI).
func redisClients(t *testing.T) map[string]*redis.Client {
	t.Helper()
	out := map[string]*redis.Client{"miniredis": redis.NewClient(&redis.Options{Addr: miniredis.RunT(t).Addr()})}
	url := os.Getenv("HERALD_TEST_REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379/0"
	}
	opts, err := redis.ParseURL(url)
	require.NoError(t, err)
	real := redis.NewClient(opts)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	if err := real.Ping(ctx).Err(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI tests against a real Redis: %v", err)
		}
		_ = real.Close()
	} else {
		out["redis"] = real
	}
	for _, c := range out {
		t.Cleanup(func() { _ = c.Close() })
	}
	return out
}

type fixture struct {
	svc    *Service
	store  *memStore
	redis  *redis.Client
	prefix string
	now    time.Time
}

func eachRedis(t *testing.T, fn func(t *testing.T, f *fixture)) {
	for name, c := range redisClients(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			master := make([]byte, 32)
			_, _ = rand.Read(master)
			salt := make([]byte, 6)
			_, _ = rand.Read(salt)
			f := &fixture{store: &memStore{rows: map[string]store.Suppression{}}, redis: c, prefix: "herald:test:" + hex.EncodeToString(salt) + ":",
				now: time.Date(2026, 12, 3, 9, 30, 10, 0, time.UTC)}
			svc, err := New(Config{KeyPrefix: f.prefix}, Deps{
				Store: f.store, Redis: c, Keys: store.NewReceiverKeyer(master),
				Providers: providers.NewRegistry(zrwinfo.New(), tencent.New(), sandbox.New()),
				Now:       func() time.Time { return f.now },
			})
			require.NoError(t, err)
			f.svc = svc
			fn(t, f)
		})
	}
}

func smsChannel() *store.Channel {
	return &store.Channel{ID: 7, Name: "sms-main", Type: store.ChannelSMS}
}

func pool(kinds ...string) []store.PoolMember {
	var p []store.PoolMember
	for i, k := range kinds {
		p = append(p, store.PoolMember{Account: store.ProviderAccount{ID: int64(i + 1), Kind: k, Enabled: true}, Weight: 1})
	}
	return p
}

var otp = &store.Template{ID: 3, Name: "otp", Kind: store.TemplateKindVerification}

func TestVerificationCaps(t *testing.T) {
	t.Parallel()
	eachRedis(t, func(t *testing.T, f *fixture) {
		ctx := t.Context()
		req := Request{AppID: "a", Channel: smsChannel(), Template: otp, Pool: pool(sandbox.Kind), Receivers: []string{"+8613800138000"}}
		v, err := f.svc.Admit(ctx, req)
		require.NoError(t, err)
		require.Equal(t, []*Refusal{nil}, v)

		v, err = f.svc.Admit(ctx, req)
		require.NoError(t, err)
		require.NotNil(t, v[0])
		require.Equal(t, http.StatusTooManyRequests, v[0].Status)
		require.Equal(t, CodeReceiverCapped, v[0].Code)
		require.Equal(t, 50*time.Second, v[0].RetryAfter) // the minute ends at 09:31:00
		require.Contains(t, v[0].Message, "receiver cap of 1 per minute for template otp")

		// Another receiver is not affected.
		v, err = f.svc.Admit(ctx, Request{AppID: "a", Channel: smsChannel(), Template: otp, Pool: pool(sandbox.Kind), Receivers: []string{"+8613900139000"}})
		require.NoError(t, err)
		require.Nil(t, v[0])

		// The next minute takes one more, up to 5 an hour.
		for i := 1; i < 5; i++ {
			f.now = f.now.Add(time.Minute)
			v, err = f.svc.Admit(ctx, req)
			require.NoError(t, err)
			require.Nil(t, v[0], "minute %d", i)
		}
		f.now = f.now.Add(time.Minute)
		v, err = f.svc.Admit(ctx, req)
		require.NoError(t, err)
		require.Contains(t, v[0].Message, "receiver cap of 5 per hour for template otp")

		t.Run("KeysHoldNoReceiver", func(t *testing.T) {
			keys, err := f.redis.Keys(ctx, f.prefix+"*").Result()
			require.NoError(t, err)
			require.NotEmpty(t, keys)
			for _, k := range keys {
				require.NotContains(t, k, "13800138000")
				require.NotContains(t, k, "13900139000")
				ttl, err := f.redis.PTTL(ctx, k).Result()
				require.NoError(t, err)
				require.Positive(t, ttl, "every counter expires")
			}
		})
	})
}

func TestBatchCountsEachReceiver(t *testing.T) {
	t.Parallel()
	eachRedis(t, func(t *testing.T, f *fixture) {
		ch := smsChannel()
		ch.ReceiverCaps = &store.ReceiverCaps{PerDay: 2}
		tpl := &store.Template{ID: 4, Name: "news"}
		req := Request{AppID: "a", Channel: ch, Template: tpl, Pool: pool(sandbox.Kind),
			Receivers: []string{"+8613800138000", "+8613800138000", "+8613900139000", "+8613800138000"}}
		v, err := f.svc.Admit(t.Context(), req)
		require.NoError(t, err)
		require.Nil(t, v[0])
		require.Nil(t, v[1])
		require.Nil(t, v[2])
		require.NotNil(t, v[3])
		require.Contains(t, v[3].Message, "receiver cap of 2 per day for channel sms-main")
		require.Equal(t, 14*time.Hour+29*time.Minute+50*time.Second, v[3].RetryAfter)
	})
}

func TestNoCapsByDefault(t *testing.T) {
	t.Parallel()
	eachRedis(t, func(t *testing.T, f *fixture) {
		// An alert template on a channel without caps is never silenced,
		// and nothing is counted.
		req := Request{AppID: "a", Channel: &store.Channel{ID: 9, Type: store.ChannelWebhook}, Template: &store.Template{ID: 5, Name: "alert"}, Receivers: []string{"oncall"}}
		for range 30 {
			v, err := f.svc.Admit(t.Context(), req)
			require.NoError(t, err)
			require.Nil(t, v[0])
		}
		keys, err := f.redis.Keys(t.Context(), f.prefix+"*").Result()
		require.NoError(t, err)
		require.Empty(t, keys)
	})
}

func TestSuppression(t *testing.T) {
	t.Parallel()
	eachRedis(t, func(t *testing.T, f *fixture) {
		ctx := t.Context()
		require.NoError(t, f.svc.OptOut(ctx, "a", store.ChannelSMS, "+8613800138000", "replied TD", store.SuppressionReply))
		news := &store.Template{ID: 4, Name: "news"}
		v, err := f.svc.Admit(ctx, Request{AppID: "a", Channel: smsChannel(), Template: news, Pool: pool(sandbox.Kind), Receivers: []string{"+8613800138000", "+8613900139000"}})
		require.NoError(t, err)
		require.Equal(t, &Refusal{Status: http.StatusBadRequest, Code: CodeReceiverRefused, Rule: "suppression", Message: "receiver has opted out of sms from this app"}, v[0])
		require.Nil(t, v[1])

		t.Run("OtherApp", func(t *testing.T) {
			v, err := f.svc.Admit(ctx, Request{AppID: "b", Channel: smsChannel(), Template: news, Pool: pool(sandbox.Kind), Receivers: []string{"+8613800138000"}})
			require.NoError(t, err)
			require.Nil(t, v[0])
		})
		t.Run("VerificationBypasses", func(t *testing.T) {
			v, err := f.svc.Admit(ctx, Request{AppID: "a", Channel: smsChannel(), Template: otp, Pool: pool(sandbox.Kind), Receivers: []string{"+8613800138000"}})
			require.NoError(t, err)
			require.Nil(t, v[0])
		})
		t.Run("StoredMasked", func(t *testing.T) {
			for _, row := range f.store.rows {
				require.Equal(t, "+86138****8000", row.ReceiverMasked)
				require.NotContains(t, row.ReceiverKey, "13800138000")
			}
		})
		t.Run("StoreDown", func(t *testing.T) {
			st := &memStore{err: context.DeadlineExceeded}
			svc, err := New(Config{}, Deps{Store: st, Redis: f.redis, Keys: f.svc.keys})
			require.NoError(t, err)
			_, err = svc.Admit(ctx, Request{AppID: "a", Channel: smsChannel(), Template: news, Receivers: []string{"+8613800138000"}})
			require.ErrorIs(t, err, ErrStore)
			require.ErrorIs(t, err, context.DeadlineExceeded)
		})
	})
}

func TestCountries(t *testing.T) {
	t.Parallel()
	eachRedis(t, func(t *testing.T, f *fixture) {
		news := &store.Template{ID: 4, Name: "news"}
		admit := func(ch *store.Channel, p []store.PoolMember, rs ...string) []*Refusal {
			v, err := f.svc.Admit(t.Context(), Request{AppID: "a", Channel: ch, Template: news, Pool: p, Receivers: rs})
			require.NoError(t, err)
			return v
		}
		t.Run("MainlandOnlyPool", func(t *testing.T) {
			v := admit(smsChannel(), pool(zrwinfo.Kind), "+8613800138000", "+85291234567")
			require.Nil(t, v[0])
			require.Equal(t, CodeReceiverRefused, v[1].Code)
			require.Equal(t, "receiver's country (HK) is reached by no enabled provider account of channel 7", v[1].Message)
		})
		t.Run("UnionOfAccounts", func(t *testing.T) {
			v := admit(smsChannel(), pool(zrwinfo.Kind, tencent.Kind), "+85291234567", "+14155550100")
			require.Equal(t, []*Refusal{nil, nil}, v)
		})
		t.Run("DisabledAccountDoesNotCount", func(t *testing.T) {
			p := pool(zrwinfo.Kind, tencent.Kind)
			p[1].Account.Enabled = false
			v := admit(smsChannel(), p, "+85291234567")
			require.NotNil(t, v[0])
		})
		t.Run("AccountCountries", func(t *testing.T) {
			// Tencent set up once for mainland and once for international
			// numbers reaches both; the mainland one alone does not reach
			// Hong Kong, the international one alone not the mainland.
			p := pool(tencent.Kind, tencent.Kind)
			p[0].Account.Countries = []string{"CN"}
			p[1].Account.Countries = []string{"international"}
			require.Equal(t, []*Refusal{nil, nil}, admit(smsChannel(), p, "+8613800138000", "+85291234567"))
			v := admit(smsChannel(), p[:1], "+8613800138000", "+85291234567")
			require.Nil(t, v[0])
			require.Equal(t, "receiver's country (HK) is reached by no enabled provider account of channel 7", v[1].Message)
			v = admit(smsChannel(), p[1:], "+8613800138000", "+85291234567")
			require.NotNil(t, v[0])
			require.Nil(t, v[1])
		})
		t.Run("NarrowedByChannel", func(t *testing.T) {
			ch := smsChannel()
			ch.AllowedCountries = []string{"CN"}
			v := admit(ch, pool(tencent.Kind), "+8613800138000", "+14155550100")
			require.Nil(t, v[0])
			require.Equal(t, "receiver's country (US) is not allowed on channel 7, which sends only to CN", v[1].Message)
		})
		t.Run("NotSMS", func(t *testing.T) {
			v := admit(&store.Channel{ID: 8, Type: store.ChannelEmail}, pool(zrwinfo.Kind), "a@example.com")
			require.Nil(t, v[0])
		})
	})
}

func TestRedisDownFailsClosed(t *testing.T) {
	t.Parallel()
	mr := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: mr.Addr(), MaxRetries: -1})
	t.Cleanup(func() { _ = c.Close() })
	svc, err := New(Config{}, Deps{Store: &memStore{rows: map[string]store.Suppression{}}, Redis: c, Keys: store.NewReceiverKeyer(make([]byte, 32))})
	require.NoError(t, err)
	mr.Close()
	_, err = svc.Admit(t.Context(), Request{AppID: "a", Channel: smsChannel(), Template: otp, Receivers: []string{"+8613800138000"}})
	require.ErrorIs(t, err, ErrCache)
}

func TestIsOptOutReply(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]bool{
		"TD": true, " td ": true, "t": true, "退订": true, " 退订\n": true, "stop": true, "Stop": true,
		"TD please": false, "": false, "STOPP": false, "好的": false, "unsubscribe": false,
	} {
		require.Equal(t, want, IsOptOutReply(in), "%q", in)
	}
	require.False(t, strings.Contains(otp.Name, "+86"))
}

func TestNewNamesMissingDeps(t *testing.T) {
	t.Parallel()
	_, err := New(Config{}, Deps{})
	require.ErrorContains(t, err, "Store is required")
	require.ErrorContains(t, err, "Redis is required")
	require.ErrorContains(t, err, "Keys is required")
}
