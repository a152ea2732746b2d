package main

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/heraldhq/herald/workflows"
)

// TestTemporalSetup creates a namespace with Herald's search attributes on
// the embedded server, then runs again and changes nothing.
func TestTemporalSetup(t *testing.T) {
	t.Parallel()
	h := sharedHarness(t)
	addr := h.s.devServer.FrontendAddress()
	ns := "herald-setup-" + randomHex8()

	res := runCLI(t, nil, "temporal", "setup", "--temporal-address", addr, "--temporal-namespace", ns, "--retention", "48h")
	require.Equal(t, 0, res.code, res.stderr)
	require.Contains(t, res.stdout, "namespace "+ns+" created (retention 48h0m0s)")
	require.Contains(t, res.stdout, "search attributes added: [HeraldApp HeraldChannel HeraldProvider HeraldStatus]")

	tc, err := client.Dial(client.Options{HostPort: addr, Namespace: ns})
	require.NoError(t, err)
	defer tc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	desc, err := tc.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: ns})
	require.NoError(t, err)
	require.Equal(t, 48*time.Hour, desc.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration())
	list, err := tc.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: ns})
	require.NoError(t, err)
	for name, typ := range workflows.SearchAttributes() {
		require.Equal(t, typ, list.GetCustomAttributes()[name], name)
	}

	again := runCLI(t, nil, "temporal", "setup", "--temporal-address", addr, "--temporal-namespace", ns, "--retention", "48h")
	require.Equal(t, 0, again.code, again.stderr)
	require.Contains(t, again.stdout, "namespace "+ns+" exists")
	require.Contains(t, again.stdout, "search attributes present")

	// temporal.retention sets it when --retention is not given.
	fromConfig := runCLI(t, map[string]string{"HERALD_TEMPORAL_RETENTION": "96h"}, "temporal", "setup", "--temporal-address", addr, "--temporal-namespace", ns)
	require.Equal(t, 0, fromConfig.code, fromConfig.stderr)
	require.Contains(t, fromConfig.stdout, "namespace "+ns+": retention set to 96h0m0s")
	desc, err = tc.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: ns})
	require.NoError(t, err)
	require.Equal(t, 96*time.Hour, desc.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration())

	t.Run("Refusals", func(t *testing.T) {
		t.Parallel()
		res := runCLI(t, nil, "temporal", "setup", "--retention", "1h")
		require.Equal(t, 1, res.code)
		require.Contains(t, res.stderr, "--retention must be at least 24h")
		res = runCLI(t, map[string]string{"HERALD_TEMPORAL_RETENTION": "2h"}, "temporal", "setup", "--temporal-address", "127.0.0.1:1")
		require.Equal(t, 1, res.code)
		require.Contains(t, res.stderr, "temporal.retention 2h0m0s must be at least 24h0m0s")
		res = runCLI(t, nil, "temporal", "setup")
		require.Equal(t, 1, res.code)
		require.Contains(t, res.stderr, "HERALD_TEMPORAL_ADDRESS")
	})
}
