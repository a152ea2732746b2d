package api

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"
)

// Health states.
const (
	StatusUp   = "UP"
	StatusDown = "DOWN"
)

// healthCheckTimeout bounds each dependency check, so /health answers fast
// even when a dependency hangs.
const healthCheckTimeout = 2 * time.Second

type serviceHealth struct {
	Status string `json:"status"`
}

type healthView struct {
	Status   string                   `json:"status"`
	Services map[string]serviceHealth `json:"services"`
}

// health checks the database, Redis and the workflow engine concurrently.
// Anything down answers 503 with code 40001 and the same data.
func (s *Server) health(c echo.Context) error {
	checks := map[string]func(context.Context) error{
		"database": s.store.Ping,
		"redis":    func(ctx context.Context) error { return s.redis.Ping(ctx).Err() },
		"temporal": s.engine.Check,
	}
	view := healthView{Status: StatusUp, Services: make(map[string]serviceHealth, len(checks))}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for name, check := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(c.Request().Context(), healthCheckTimeout)
			defer cancel()
			err := check(ctx)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				s.log.Warn("health check failed", zap.String("service", name), zap.Error(err))
				view.Services[name] = serviceHealth{Status: StatusDown}
				view.Status = StatusDown
				return
			}
			view.Services[name] = serviceHealth{Status: StatusUp}
		}()
	}
	wg.Wait()
	if view.Status == StatusDown {
		c.Response().Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(unavailableRetryAfter)))
		return c.JSON(http.StatusServiceUnavailable, envelope{Code: CodeInternal, Message: "one or more dependencies are down", Data: view})
	}
	return success(c, view)
}
