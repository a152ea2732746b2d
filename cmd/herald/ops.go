package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
	"github.com/uber-go/tally/v4"
	tallyprom "github.com/uber-go/tally/v4/prometheus"
	"go.opentelemetry.io/otel/trace"
	sdktally "go.temporal.io/sdk/contrib/tally"
	"go.uber.org/zap"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/metrics"
	"github.com/heraldhq/herald/internal/tracing"
	"github.com/heraldhq/herald/workflows"
)

// telemetry is a process's metrics: Herald's own series and the Temporal
// SDK's, each in its own registry, so neither collides with the other nor
// with the embedded Temporal server's (which `herald dev` runs in the same
// process and which registers on the global registry).
type telemetry struct {
	herald *prometheus.Registry
	sdk    *prometheus.Registry
	rec    *metrics.Prometheus
	// sdkScope reports the SDK's metrics into sdk.
	sdkScope tally.Scope
}

// sdkReportInterval is how often the SDK's tally scope hands its values to
// the Prometheus registry.
const sdkReportInterval = time.Second

// openTelemetry builds the registries, Herald's recorder and the SDK's
// metrics scope; the scope is closed with the stack.
func (s *stack) openTelemetry() error {
	t := &telemetry{herald: prometheus.NewRegistry(), sdk: prometheus.NewRegistry()}
	rec, err := metrics.New(t.herald, buildVersion())
	if err != nil {
		return fmt.Errorf("register metrics: %w", err)
	}
	t.rec = rec
	reporter := tallyprom.NewReporter(tallyprom.Options{
		Registerer: t.sdk,
		OnRegisterError: func(err error) {
			s.log.Warn("temporal sdk metric not registered", zap.Error(err))
		},
	})
	scope, closer := tally.NewRootScope(tally.ScopeOptions{
		CachedReporter:  reporter,
		Separator:       tallyprom.DefaultSeparator,
		SanitizeOptions: &tallyprom.DefaultSanitizerOpts,
	}, sdkReportInterval)
	t.sdkScope = sdktally.NewPrometheusNamingScope(scope)
	s.onClose("temporal sdk metrics", closer.Close)
	s.tel = t
	return nil
}

// openTracing sets up tracing (off unless an OTLP endpoint is configured
// here or in the standard OTEL_ variables); the last spans are flushed at
// close. A harness may have set s.tracing already.
func (s *stack) openTracing(ctx context.Context) error {
	if s.tracing == nil {
		tp, err := tracing.New(ctx, s.cfg.Tracing, os.Getenv)
		if err != nil {
			return err
		}
		s.tracing = tp
	}
	if s.tracing.Enabled() {
		s.log.Info("tracing on", zap.String("endpoint", tracing.Endpoint(s.cfg.Tracing, os.Getenv)))
	}
	tp := s.tracing
	s.onClose("tracing", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return tp.Shutdown(ctx)
	})
	return nil
}

// tracer is Herald's tracer; a no-op one while tracing is off.
func (s *stack) tracer() trace.Tracer {
	if s.tracing == nil {
		return tracing.Off().Tracer()
	}
	return s.tracing.Tracer()
}

// recorder is what the API and activities count through; nil-safe.
func (s *stack) recorder() metrics.Recorder {
	if s.tel == nil {
		return metrics.Nop{}
	}
	return s.tel.rec
}

// buildVersion is the module version the binary was built from.
func buildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// opsHealth is the body of the operations listener's /health.
type opsHealth struct {
	Status   string            `json:"status"`
	Services map[string]string `json:"services"`
}

// opsCheckTimeout bounds each dependency check of /health.
const opsCheckTimeout = 2 * time.Second

// opsHandler serves /health (the process's dependencies) and /metrics
// (Herald's and the SDK's registries).
func (s *stack) opsHandler() http.Handler {
	checks := map[string]func(context.Context) error{}
	if s.db != nil {
		checks["database"] = s.db.Ping
	}
	if s.redis != nil {
		checks["redis"] = func(ctx context.Context) error { return s.redis.Ping(ctx).Err() }
	}
	if s.temporal != nil {
		checks["temporal"] = workflows.NewClient(s.temporal).Check
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		view := opsHealth{Status: "UP", Services: map[string]string{}}
		var mu sync.Mutex
		var wg sync.WaitGroup
		for name, check := range checks {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(r.Context(), opsCheckTimeout)
				defer cancel()
				err := check(ctx)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					s.log.Warn("health check failed", zap.String("service", name), zap.Error(err))
					view.Services[name] = "DOWN"
					view.Status = "DOWN"
					return
				}
				view.Services[name] = "UP"
			}()
		}
		wg.Wait()
		w.Header().Set("Content-Type", "application/json")
		if view.Status != "UP" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_ = json.NewEncoder(w).Encode(view)
	})
	var gatherers prometheus.Gatherers
	if s.tel != nil {
		gatherers = prometheus.Gatherers{s.tel.herald, s.tel.sdk}
	}
	mux.Handle("GET /metrics", promhttp.HandlerFor(gatherers, promhttp.HandlerOpts{ErrorLog: zap.NewStdLog(s.log.Named("metrics"))}))
	return mux
}

// startOps serves the operations listener when one is configured.
func (s *stack) startOps() error {
	if s.cfg.HTTP.HealthAddr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", s.cfg.HTTP.HealthAddr)
	if err != nil {
		return fmt.Errorf("listen for /health and /metrics on %s: %w", s.cfg.HTTP.HealthAddr, err)
	}
	s.opsURL = "http://" + ln.Addr().String()
	hs := &http.Server{Handler: s.opsHandler(), ReadHeaderTimeout: 5 * time.Second, IdleTimeout: time.Minute}
	go func() {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("operations listener stopped", zap.Error(err))
		}
	}()
	s.onClose("operations listener", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return hs.Shutdown(ctx)
	})
	return nil
}

type healthcheckOptions struct {
	addr    string
	timeout time.Duration
}

func (o healthcheckOptions) Validate() error {
	if _, _, err := net.SplitHostPort(o.addr); err != nil {
		return fmt.Errorf("--addr %q must be host:port", o.addr)
	}
	if o.timeout <= 0 {
		return errors.New("--timeout must be positive")
	}
	return nil
}

// newHealthcheckCommand asks the local process's /health, for container
// health checks in images that have no curl.
func newHealthcheckCommand(stdout io.Writer, getenv func(string) string) *cobra.Command {
	var o healthcheckOptions
	cmd := &cobra.Command{
		Use:   "healthcheck",
		Short: "Check a running Herald's /health and exit 0 when it is up, 1 otherwise",
		Long: `Ask the /health endpoint of the operations listener (http.health-addr) of a
Herald process, as a container health check does. Exits 0 when the process
and every dependency it checks (database, Redis, Temporal) are up, and 1 when
any is down or the process does not answer within the timeout.

The address defaults to HERALD_HTTP_HEALTH_ADDR, else 127.0.0.1:9090; a bare
":port" means this machine.`,
		Example: `  herald healthcheck
  herald healthcheck --addr 127.0.0.1:9100 --timeout 2s`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("addr") {
				if v := getenv(config.EnvName("http.health-addr")); v != "" {
					o.addr = v
				}
			}
			if host, port, err := net.SplitHostPort(o.addr); err == nil && (host == "" || host == "0.0.0.0" || host == "::") {
				o.addr = net.JoinHostPort("127.0.0.1", port)
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return healthcheck(cmd.Context(), stdout, o)
		},
	}
	cmd.Flags().StringVar(&o.addr, "addr", "127.0.0.1"+config.DefaultHealthAddr, "host:port of the operations listener to check (env HERALD_HTTP_HEALTH_ADDR)")
	cmd.Flags().DurationVar(&o.timeout, "timeout", 3*time.Second, "how long to wait for the answer")
	return cmd
}

func healthcheck(ctx context.Context, stdout io.Writer, o healthcheckOptions) error {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+o.addr+"/health", nil)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("health check of %s: %w", o.addr, err)
	}
	defer resp.Body.Close()
	var view opsHealth
	_ = json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&view)
	names := make([]string, 0, len(view.Services))
	for n := range view.Services {
		names = append(names, n)
	}
	sort.Strings(names)
	var down []string
	for _, n := range names {
		if view.Services[n] != "UP" {
			down = append(down, n)
		}
	}
	if resp.StatusCode != http.StatusOK {
		if len(down) > 0 {
			return fmt.Errorf("%s is unhealthy (HTTP %d): down: %v", o.addr, resp.StatusCode, down)
		}
		return fmt.Errorf("%s is unhealthy (HTTP %d)", o.addr, resp.StatusCode)
	}
	fmt.Fprintf(stdout, "%s is up\n", o.addr)
	return nil
}
