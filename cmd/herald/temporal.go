package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	"github.com/spf13/cobra"
	enumspb "go.temporal.io/api/enums/v1"
	namespacepb "go.temporal.io/api/namespace/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/workflows"
)

func newTemporalCommand(stdout io.Writer, getenv func(string) string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "temporal",
		Short: "Prepare a Temporal cluster for Herald",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return errors.New("choose a temporal command: setup (see herald temporal --help)")
		},
	}
	cmd.AddCommand(newTemporalSetupCommand(stdout, getenv))
	return cmd
}

type temporalSetupOptions struct {
	retention time.Duration
	timeout   time.Duration
}

func (o temporalSetupOptions) Validate() error {
	var errs []error
	if o.retention != 0 && o.retention < config.MinRetention {
		errs = append(errs, errors.New("--retention must be at least 24h (Temporal's minimum)"))
	}
	if o.timeout <= 0 {
		errs = append(errs, errors.New("--timeout must be positive"))
	}
	return errors.Join(errs...)
}

func newTemporalSetupCommand(stdout io.Writer, getenv func(string) string) *cobra.Command {
	var o temporalSetupOptions
	cmd := &cobra.Command{
		Use:   "setup",
		Short: "Create Herald's namespace and search attributes on a Temporal cluster",
		Long: `Create the namespace Herald runs in (temporal.namespace) with the
workflow history retention of temporal.retention (default 72h; --retention
overrides it), or set the retention of an existing one, and
register Herald's search attributes (HeraldApp, HeraldChannel,
HeraldProvider, HeraldStatus, all Keyword). Running it again changes nothing
that is already right; an attribute registered with another type is an
error. "herald dev" does this on its embedded server by itself.

Closed workflow histories hold receivers and contents, encrypted by Herald
before they reach Temporal; the retention bounds how long even the
ciphertext stays.`,
		Example: `  herald temporal setup --temporal-address temporal-frontend:7233 --temporal-namespace herald
  HERALD_TEMPORAL_ADDRESS=temporal:7233 HERALD_TEMPORAL_RETENTION=168h herald temporal setup`,
		Args: cobra.NoArgs,
	}
	c := newConfigured(cmd.Flags(), getenv)
	cmd.Flags().DurationVar(&o.retention, "retention", 0, "how long closed workflow histories stay on the cluster; overrides temporal.retention (default 72h)")
	cmd.Flags().DurationVar(&o.timeout, "timeout", time.Minute, "how long to wait for the cluster")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := o.Validate(); err != nil {
			return err
		}
		cfg, err := c.load(config.ModeTool)
		if err != nil {
			return err
		}
		retention := cfg.Temporal.Retention
		if o.retention != 0 {
			retention = o.retention
		}
		if cfg.Temporal.Address == "" {
			return fmt.Errorf("temporal.address is required (flag --%s, env %s)", config.FlagName("temporal.address"), config.EnvName("temporal.address"))
		}
		ctx, cancel := context.WithTimeout(cmd.Context(), o.timeout)
		defer cancel()
		tc, err := client.DialContext(ctx, client.Options{HostPort: cfg.Temporal.Address, Namespace: cfg.Temporal.Namespace})
		if err != nil {
			return fmt.Errorf("connect to temporal at %s: %w", cfg.Temporal.Address, err)
		}
		defer tc.Close()
		return setupTemporal(ctx, stdout, tc, cfg.Temporal.Namespace, retention, workflows.SearchAttributes())
	}
	return cmd
}

// setupTemporal brings namespace and its search attributes to what Herald
// needs, saying what it changed.
func setupTemporal(ctx context.Context, out io.Writer, tc client.Client, namespace string, retention time.Duration, attrs map[string]enumspb.IndexedValueType) error {
	ws := tc.WorkflowService()
	desc, err := ws.DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: namespace})
	var notFound *serviceerror.NamespaceNotFound
	switch {
	case errors.As(err, &notFound):
		if _, err := ws.RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
			Namespace:                        namespace,
			Description:                      "Herald message delivery",
			WorkflowExecutionRetentionPeriod: durationpb.New(retention),
		}); err != nil {
			return fmt.Errorf("create namespace %s: %w", namespace, err)
		}
		fmt.Fprintf(out, "namespace %s created (retention %s)\n", namespace, retention)
	case err != nil:
		return fmt.Errorf("describe namespace %s: %w", namespace, err)
	case desc.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration() != retention:
		if _, err := ws.UpdateNamespace(ctx, &workflowservice.UpdateNamespaceRequest{
			Namespace: namespace,
			Config:    &namespacepb.NamespaceConfig{WorkflowExecutionRetentionTtl: durationpb.New(retention)},
		}); err != nil {
			return fmt.Errorf("set retention of namespace %s: %w", namespace, err)
		}
		fmt.Fprintf(out, "namespace %s: retention set to %s\n", namespace, retention)
	default:
		fmt.Fprintf(out, "namespace %s exists (retention %s)\n", namespace, retention)
	}

	// A namespace just created reaches every frontend's cache within
	// seconds; until then listing its attributes fails, so retry.
	var list *operatorservice.ListSearchAttributesResponse
	for {
		list, err = tc.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
		if err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("list search attributes of namespace %s: %w", namespace, err)
		case <-time.After(500 * time.Millisecond):
		}
	}
	missing := map[string]enumspb.IndexedValueType{}
	for _, name := range slices.Sorted(maps.Keys(attrs)) {
		have, ok := list.GetCustomAttributes()[name]
		switch {
		case !ok:
			missing[name] = attrs[name]
		case have != attrs[name]:
			return fmt.Errorf("search attribute %s is registered as %s, not %s: remove it or use another namespace", name, have, attrs[name])
		}
	}
	if len(missing) == 0 {
		fmt.Fprintln(out, "search attributes present")
		return nil
	}
	if _, err := tc.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace: namespace, SearchAttributes: missing,
	}); err != nil {
		return fmt.Errorf("add search attributes %v: %w", slices.Sorted(maps.Keys(missing)), err)
	}
	fmt.Fprintf(out, "search attributes added: %v\n", slices.Sorted(maps.Keys(missing)))
	return nil
}
