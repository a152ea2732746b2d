package api

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

func TestHealth(t *testing.T) {
	t.Parallel()

	t.Run("OK_AllUp", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		res := f.call(t, http.MethodGet, "/health", "", withoutAuth())
		require.Equal(t, http.StatusOK, res.Status)
		require.Equal(t, CodeOK, res.Code)
		require.Equal(t, "success", res.Message)
		require.JSONEq(t, `{"status":"UP","services":{"database":{"status":"UP"},"redis":{"status":"UP"},"temporal":{"status":"UP"}}}`, string(res.Data))

		h, err := f.client().Health(context.Background())
		require.NoError(t, err)
		require.Equal(t, "UP", h.Status)
	})
	t.Run("ErrDatabaseAndEngineDown", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		f.store.pingErr = errors.New("connection refused")
		f.engine.checkErr = errors.New("deadline exceeded")
		res := f.call(t, http.MethodGet, "/health", "", withoutAuth())
		requireError(t, res, http.StatusServiceUnavailable, CodeInternal)
		require.JSONEq(t, `{"status":"DOWN","services":{"database":{"status":"DOWN"},"redis":{"status":"UP"},"temporal":{"status":"DOWN"}}}`, string(res.Data))
		require.NotContains(t, string(res.Body), "refused")
	})
	t.Run("ErrRedisDown", func(t *testing.T) {
		t.Parallel()
		dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
		t.Cleanup(func() { _ = dead.Close() })
		f := setup(t, withRedis(dead))
		h, err := f.client().Health(context.Background())
		require.Error(t, err)
		require.NotNil(t, h, "the report comes with the error")
		require.Equal(t, "DOWN", h.Status)
		require.Equal(t, "DOWN", h.Services["redis"].Status)
		require.Equal(t, "UP", h.Services["database"].Status)
	})
}
