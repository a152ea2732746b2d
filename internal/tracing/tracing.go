// Package tracing builds Herald's OpenTelemetry tracer provider: off unless
// an OTLP endpoint is configured (tracing.otlp-endpoint or the standard
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT / OTEL_EXPORTER_OTLP_ENDPOINT), then
// exporting over OTLP/gRPC in batches.
//
// One trace covers an accepted message: the API request's span (which
// continues a W3C traceparent the client sent), the workflow and its
// activities (Temporal's OpenTelemetry interceptor carries the context
// through workflow headers), and each provider call. Spans carry ids that
// are configuration (app, channel, account, provider kind) and never a
// receiver or a content.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/heraldhq/herald/internal/config"
)

// InstrumentationName names Herald's tracer.
const InstrumentationName = "github.com/heraldhq/herald"

// Provider is a process's tracing: its tracer and the propagator that
// reads and writes trace context on requests.
type Provider struct {
	tp         trace.TracerProvider
	shutdown   func(context.Context) error
	Propagator propagation.TextMapPropagator
}

// Off is tracing that records nothing.
func Off() *Provider {
	return &Provider{tp: noop.NewTracerProvider(), shutdown: func(context.Context) error { return nil }, Propagator: propagation.TraceContext{}}
}

// Enabled reports whether spans are recorded and exported.
func (p *Provider) Enabled() bool {
	_, off := p.tp.(noop.TracerProvider)
	return !off
}

// Tracer is Herald's tracer.
func (p *Provider) Tracer() trace.Tracer { return p.tp.Tracer(InstrumentationName) }

// TracerProvider is the provider, for instrumentation that takes one.
func (p *Provider) TracerProvider() trace.TracerProvider { return p.tp }

// Shutdown flushes the spans still batched and stops the exporter.
func (p *Provider) Shutdown(ctx context.Context) error { return p.shutdown(ctx) }

// Endpoint is the OTLP endpoint cfg and the environment configure, or "".
func Endpoint(cfg config.Tracing, getenv func(string) string) string {
	for _, v := range []string{cfg.OTLPEndpoint, getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"), getenv("OTEL_EXPORTER_OTLP_ENDPOINT")} {
		if v != "" {
			return v
		}
	}
	return ""
}

// New returns tracing per cfg: Off without an endpoint, else an OTLP/gRPC
// exporter to it. The exporter connects lazily, so a collector that is
// down does not stop Herald from starting.
func New(ctx context.Context, cfg config.Tracing, getenv func(string) string) (*Provider, error) {
	endpoint := Endpoint(cfg, getenv)
	if endpoint == "" || strings.EqualFold(getenv("OTEL_SDK_DISABLED"), "true") {
		return Off(), nil
	}
	var opts []otlptracegrpc.Option
	if strings.Contains(endpoint, "://") {
		opts = append(opts, otlptracegrpc.WithEndpointURL(endpoint))
	} else {
		opts = append(opts, otlptracegrpc.WithEndpoint(endpoint))
	}
	if cfg.Insecure {
		opts = append(opts, otlptracegrpc.WithInsecure())
	}
	exp, err := otlptracegrpc.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("otlp trace exporter for %s: %w", endpoint, err)
	}
	return NewWithExporter(cfg, exp), nil
}

// NewWithExporter returns tracing that hands its spans to exp (tests pass
// an in-memory exporter).
func NewWithExporter(cfg config.Tracing, exp sdktrace.SpanExporter) *Provider {
	name := cfg.ServiceName
	if name == "" {
		name = "herald"
	}
	res := resourceFor(name)
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(cfg.SampleRatio))),
	)
	return &Provider{
		tp: tp,
		shutdown: func(ctx context.Context) error {
			return errors.Join(tp.ForceFlush(ctx), tp.Shutdown(ctx))
		},
		Propagator: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
	}
}

// Flush exports the spans batched so far.
func (p *Provider) Flush(ctx context.Context) error {
	if sdk, ok := p.tp.(*sdktrace.TracerProvider); ok {
		return sdk.ForceFlush(ctx)
	}
	return nil
}

// Attribute keys Herald puts on its spans.
const (
	AttrApp          = attribute.Key("herald.app")
	AttrChannel      = attribute.Key("herald.channel")
	AttrAccount      = attribute.Key("herald.account")
	AttrProviderKind = attribute.Key("herald.provider_kind")
	AttrErrorClass   = attribute.Key("herald.error_class")
	AttrErrorCode    = attribute.Key("herald.error_code")
)
