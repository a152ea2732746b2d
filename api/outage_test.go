package api

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/workflows"
)

// requireOutage asserts a 503 with a Retry-After and the dependency's code.
func requireOutage(t *testing.T, res result, code int) {
	t.Helper()
	requireError(t, res, http.StatusServiceUnavailable, code)
	secs, err := strconv.Atoi(res.Header.Get("Retry-After"))
	require.NoError(t, err, "Retry-After must be whole seconds, got %q", res.Header.Get("Retry-After"))
	require.Positive(t, secs)
}

// deadDatabase is the real store behind a connection that has gone away,
// except for app lookups, which come from the fakes so a request gets past
// authentication and reaches the handler's own queries.
type deadDatabase struct {
	*store.DB
	fake *fakeStore
}

func (d deadDatabase) GetApp(ctx context.Context, id string) (*store.App, error) {
	return d.fake.GetApp(ctx, id)
}

// stoppedPostgres opens a migrated store through a proxy and stops the
// proxy: every connection of the pool is gone and no new one can be made,
// as when PostgreSQL is stopped.
func stoppedPostgres(t *testing.T) *store.DB {
	t.Helper()
	dbURL := testPostgresURL(t)
	openTestStore(t, dbURL)
	proxy := newTCPProxy(t, hostOf(t, dbURL))
	db := openTestStore(t, viaProxy(t, dbURL, proxy))
	proxy.stop()
	return db
}

func TestDependencyOutage(t *testing.T) {
	t.Parallel()
	sendBody := `{"channel_id":1,"receiver":"` + testPhone + `","template_params":` + otpParamsJSON + `}`
	unknownTask := "/api/v1/messages/" + uuid.NewString()

	t.Run("ErrDatabaseStopped", func(t *testing.T) {
		t.Parallel()
		db := stoppedPostgres(t)
		f := setup(t, withStore(func(fs *fakeStore) Store { return deadDatabase{DB: db, fake: fs} }))
		requireOutage(t, f.call(t, http.MethodPost, "/api/v1/messages", sendBody), CodeDatabase)
		requireOutage(t, f.call(t, http.MethodGet, unknownTask, ""), CodeDatabase)
		requireOutage(t, f.call(t, http.MethodGet, "/api/v1/channels", ""), CodeDatabase)
		require.Zero(t, f.engine.startCount())
	})
	t.Run("ErrDatabaseStoppedAtAuthentication", func(t *testing.T) {
		t.Parallel()
		db := stoppedPostgres(t)
		f := setup(t, withStore(func(*fakeStore) Store { return db }))
		requireOutage(t, f.call(t, http.MethodPost, "/api/v1/messages", sendBody), CodeDatabase)
		requireOutage(t, f.call(t, http.MethodGet, unknownTask, ""), CodeDatabase)
	})
	t.Run("ErrRedisClosedPort", func(t *testing.T) {
		t.Parallel()
		dead := redis.NewClient(&redis.Options{Addr: closedPort(t), MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
		t.Cleanup(func() { _ = dead.Close() })
		f := setup(t, withRedis(dead))
		requireOutage(t, f.call(t, http.MethodPost, "/api/v1/messages", sendBody), CodeCache)
		requireOutage(t, f.call(t, http.MethodGet, unknownTask, ""), CodeCache)
		require.Zero(t, f.store.messageCount())
	})
	t.Run("ErrEngineClosedPort", func(t *testing.T) {
		t.Parallel()
		c, err := client.NewLazyClient(client.Options{HostPort: closedPort(t)})
		require.NoError(t, err)
		t.Cleanup(c.Close)
		f := setup(t, withEngine(workflows.NewClient(c)))
		// A send is durable before its workflow starts: the worker's
		// sweeper starts it once the engine is back, so it is accepted.
		data := decodeData(t, f.call(t, http.MethodPost, "/api/v1/messages", sendBody))
		taskID := data["task_id"].(string)
		// Cancelling needs the engine now.
		requireOutage(t, f.call(t, http.MethodDelete, "/api/v1/messages/"+taskID, ""), CodeEngine)
		res := f.call(t, http.MethodGet, "/health", "", withoutAuth())
		requireOutage(t, res, CodeInternal)
	})
	t.Run("ErrDatabaseTimedOut", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		f.store.mu.Lock()
		f.store.fail = func(method string) error {
			if method == "GetChannel" {
				return fmt.Errorf("get channel: %w", context.DeadlineExceeded)
			}
			return nil
		}
		f.store.mu.Unlock()
		requireOutage(t, f.call(t, http.MethodPost, "/api/v1/messages", sendBody), CodeDatabase)
	})
	t.Run("ErrBugIsNotAnOutage", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		f.store.mu.Lock()
		f.store.fail = func(method string) error {
			if method == "GetChannel" {
				return errors.New(`pq: relation "channels" does not exist`)
			}
			return nil
		}
		f.store.mu.Unlock()
		res := f.call(t, http.MethodPost, "/api/v1/messages", sendBody)
		requireError(t, res, http.StatusInternalServerError, CodeDatabase)
		require.Empty(t, res.Header.Get("Retry-After"))
	})
}

// closedPort returns an address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}
