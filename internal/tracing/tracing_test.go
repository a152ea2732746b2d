package tracing_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/tracing"
)

func TestEndpoint(t *testing.T) {
	t.Parallel()
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	require.Empty(t, tracing.Endpoint(config.Tracing{}, env(nil)), "off by default")
	require.Equal(t, "collector:4317", tracing.Endpoint(config.Tracing{}, env(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4317"})))
	require.Equal(t, "traces:4317", tracing.Endpoint(config.Tracing{}, env(map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4317", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "traces:4317"})))
	require.Equal(t, "cfg:4317", tracing.Endpoint(config.Tracing{OTLPEndpoint: "cfg:4317"}, env(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4317"})))
}

func TestNew(t *testing.T) {
	t.Parallel()

	t.Run("OffWithoutEndpoint", func(t *testing.T) {
		t.Parallel()
		p, err := tracing.New(context.Background(), config.Defaults().Tracing, func(string) string { return "" })
		require.NoError(t, err)
		require.False(t, p.Enabled())
		_, span := p.Tracer().Start(context.Background(), "x")
		require.False(t, span.SpanContext().IsValid(), "no span recorded")
		span.End()
		require.NoError(t, p.Shutdown(context.Background()))
	})

	t.Run("OffWhenSDKDisabled", func(t *testing.T) {
		t.Parallel()
		p, err := tracing.New(context.Background(), config.Tracing{OTLPEndpoint: "127.0.0.1:4317"}, func(k string) string {
			if k == "OTEL_SDK_DISABLED" {
				return "true"
			}
			return ""
		})
		require.NoError(t, err)
		require.False(t, p.Enabled())
	})

	t.Run("OnWithEndpoint", func(t *testing.T) {
		t.Parallel()
		// The exporter dials lazily: no collector is needed to start.
		p, err := tracing.New(context.Background(), config.Tracing{OTLPEndpoint: "http://127.0.0.1:1", Insecure: true, SampleRatio: 1, ServiceName: "herald"}, func(string) string { return "" })
		require.NoError(t, err)
		require.True(t, p.Enabled())
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_ = p.Shutdown(ctx)
	})

	t.Run("RecordsToExporter", func(t *testing.T) {
		t.Parallel()
		exp := tracetest.NewInMemoryExporter()
		p := tracing.NewWithExporter(config.Tracing{SampleRatio: 1, ServiceName: "herald"}, exp)
		_, span := p.Tracer().Start(context.Background(), "send")
		span.End()
		require.NoError(t, p.Flush(context.Background()))
		spans := exp.GetSpans()
		require.Len(t, spans, 1)
		require.Equal(t, "send", spans[0].Name)
		require.Equal(t, "herald", spans[0].Resource.Attributes()[0].Value.AsString())
	})

	t.Run("SampleRatioZeroRecordsNothing", func(t *testing.T) {
		t.Parallel()
		exp := tracetest.NewInMemoryExporter()
		p := tracing.NewWithExporter(config.Tracing{SampleRatio: 0, ServiceName: "herald"}, exp)
		_, span := p.Tracer().Start(context.Background(), "send")
		span.End()
		require.NoError(t, p.Flush(context.Background()))
		require.Empty(t, exp.GetSpans())
	})
}
