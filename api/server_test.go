package api

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

func TestConfig(t *testing.T) {
	t.Parallel()
	t.Run("OK_ZeroMeansDefaults", func(t *testing.T) {
		t.Parallel()
		require.NoError(t, Config{}.Validate())
		require.Equal(t, DefaultConfig(), Config{}.withDefaults())
	})
	t.Run("ErrListsEveryProblem", func(t *testing.T) {
		t.Parallel()
		err := Config{MaxBodyBytes: -1, TimestampWindow: time.Millisecond, BatchMaxSize: -2, TrustedProxies: []string{"10.0.0.0/8", "proxy.local"}}.Validate()
		require.Error(t, err)
		for _, want := range []string{"MaxBodyBytes", "TimestampWindow", "BatchMaxSize", `"proxy.local"`} {
			require.ErrorContains(t, err, want)
		}
	})
	t.Run("ErrMissingDeps", func(t *testing.T) {
		t.Parallel()
		_, err := New(Config{}, Deps{Redis: redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})})
		require.ErrorContains(t, err, "Store is required")
		require.ErrorContains(t, err, "Engine is required")
		require.ErrorContains(t, err, "Admission is required")
	})
	t.Run("ErrInvalidConfig", func(t *testing.T) {
		t.Parallel()
		rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
		fs := newFakeStore()
		_, err := New(Config{DefaultRateLimit: -1}, Deps{Store: fs, Engine: newFakeEngine(), Admission: newAdmission(t, fs, rdb), Redis: rdb})
		require.ErrorContains(t, err, "DefaultRateLimit")
	})
}

func TestInternalErrors(t *testing.T) {
	t.Parallel()
	t.Run("ErrDatabaseHidden", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		f.store.fail = func(method string) error {
			if method == "GetApp" {
				return errors.New("pq: password authentication failed for user herald")
			}
			return nil
		}
		res := f.call(t, http.MethodGet, "/api/v1/channels", "")
		requireError(t, res, http.StatusInternalServerError, CodeDatabase)
		require.NotContains(t, string(res.Body), "password")
		logged := f.logs.FilterMessage("request failed").All()
		require.Len(t, logged, 1)
		require.Contains(t, logged[0].ContextMap()["error"], "password", "the cause is logged")
	})
	t.Run("ErrPanicRecovered", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		f.store.fail = func(method string) error {
			if method == "GetChannel" {
				panic("boom")
			}
			return nil
		}
		res := f.call(t, http.MethodGet, "/api/v1/channels/1", "")
		requireError(t, res, http.StatusInternalServerError, CodeInternal)
		require.NotContains(t, string(res.Body), "boom")
		// The server still answers.
		f.store.fail = nil
		decodeData(t, f.call(t, http.MethodGet, "/api/v1/channels", ""))
	})
	t.Run("OK_ClientErrorsNotLoggedAsFailures", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		requireError(t, f.call(t, http.MethodGet, "/api/v1/channels/404", ""), http.StatusNotFound, CodeChannelNotFound)
		require.Empty(t, f.logs.FilterMessage("request failed").All())
	})
}
