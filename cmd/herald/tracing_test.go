package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/heraldhq/herald/api/apiclient"
	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/tracing"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/workflows"
)

// TestTraceCoversRequestWorkflowAndProvider sends a message with tracing
// on and finds the API request, the workflow, its send activity and the
// provider call in one trace, with no receiver or content on any span.
func TestTraceCoversRequestWorkflowAndProvider(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	tp := tracing.NewWithExporter(config.Tracing{SampleRatio: 1, ServiceName: "herald-test"}, exp)
	h, err := startHarness(harnessOptions{worker: true, tracing: tp})
	require.NoError(t, err)
	t.Cleanup(h.close)

	f := h.fixture(t)
	tpl := f.template("Code {{code}}", "code")
	ch := f.channel(store.ChannelSMS, tpl)
	f.sandboxAccount(ch, 1)
	_, c := f.app()
	const receiver = "13800138123"
	res, err := c.SendMessage(context.Background(), apiclient.SendMessageRequest{
		ChannelID: ch.ID, Receiver: receiver, TemplateParams: map[string]string{"code": "97531"},
	})
	require.NoError(t, err)
	require.Equal(t, workflows.StatusSuccess, waitFinal(t, c, res.TaskID).Status)

	var spans tracetest.SpanStubs
	require.Eventually(t, func() bool {
		require.NoError(t, tp.Flush(context.Background()))
		spans = exp.GetSpans()
		return findSpan(spans, "provider.send sandbox") != nil
	}, 15*time.Second, 100*time.Millisecond)

	api := findSpan(spans, "POST /api/v1/messages")
	require.NotNil(t, api, "the API request has a span")
	trace := api.SpanContext.TraceID()
	for _, prefix := range []string{"StartWorkflow:", "RunWorkflow:", "RunActivity:Send", "provider.send sandbox"} {
		s := findSpanIn(spans, prefix, trace)
		require.NotNil(t, s, "span %s* in the request's trace; got %v", prefix, spanNames(spans))
	}
	for _, s := range spans {
		for _, a := range s.Attributes {
			v := a.Value.String()
			require.NotContains(t, v, receiver, "span %s attribute %s", s.Name, a.Key)
			require.NotContains(t, v, "97531", "span %s attribute %s", s.Name, a.Key)
		}
	}
}

func findSpan(spans tracetest.SpanStubs, name string) *tracetest.SpanStub {
	for i := range spans {
		if spans[i].Name == name {
			return &spans[i]
		}
	}
	return nil
}

func findSpanIn(spans tracetest.SpanStubs, prefix string, trace [16]byte) *tracetest.SpanStub {
	for i := range spans {
		if strings.HasPrefix(spans[i].Name, prefix) && spans[i].SpanContext.TraceID() == trace {
			return &spans[i]
		}
	}
	return nil
}

func spanNames(spans tracetest.SpanStubs) []string {
	names := make([]string, 0, len(spans))
	for _, s := range spans {
		names = append(names, s.Name)
	}
	return names
}

var _ sdktrace.SpanExporter = (*tracetest.InMemoryExporter)(nil)
