package devtemporal

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	namespacepb "go.temporal.io/api/namespace/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/server/common/log"
	"google.golang.org/protobuf/types/known/durationpb"
)

const (
	// readyPoll is the pause between readiness probes.
	readyPoll = 100 * time.Millisecond
	// dialTimeout bounds one attempt to reach the frontend.
	dialTimeout = 5 * time.Second
)

// prepareNamespace waits until the frontend answers for the namespace, then
// brings its retention and search attributes up to st. Both steps are
// idempotent, so they run on every start: that is how a database created by an
// earlier version gets the search attributes added since.
func prepareNamespace(ctx context.Context, st *settings, frontendAddr string, logger log.Logger) error {
	c, err := dialReady(ctx, frontendAddr, st.Namespace, logger)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := ensureRetention(ctx, c, st.Namespace, st.Retention); err != nil {
		return err
	}
	return ensureSearchAttributes(ctx, c, st.Namespace, st.SearchAttributes)
}

// dialReady dials the frontend and describes the namespace until both work or
// ctx is done.
func dialReady(ctx context.Context, frontendAddr, namespace string, logger log.Logger) (client.Client, error) {
	var lastErr error
	for {
		c, err := tryDial(ctx, frontendAddr, namespace, logger)
		if err == nil {
			return c, nil
		}
		lastErr = err
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("devtemporal: wait for namespace %s at %s: %w", namespace, frontendAddr, errors.Join(ctx.Err(), lastErr))
		case <-time.After(readyPoll):
		}
	}
}

func tryDial(ctx context.Context, frontendAddr, namespace string, logger log.Logger) (client.Client, error) {
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	c, err := client.DialContext(ctx, client.Options{
		HostPort:  frontendAddr,
		Namespace: namespace,
		Logger:    log.NewSdkLogger(logger),
	})
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	resp, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: namespace})
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("describe namespace: %w", err)
	}
	if state := resp.GetNamespaceInfo().GetState(); state != enumspb.NAMESPACE_STATE_REGISTERED {
		c.Close()
		return nil, fmt.Errorf("namespace is %s", state)
	}
	return c, nil
}

// ensureRetention raises the namespace retention to at least want. A
// namespace created by `temporal` tooling, or by an older start with a shorter
// setting, would otherwise drop closed workflows from the UI after a day.
func ensureRetention(ctx context.Context, c client.Client, namespace string, want time.Duration) error {
	resp, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("devtemporal: describe namespace %s: %w", namespace, err)
	}
	if resp.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration() >= want {
		return nil
	}
	_, err = c.WorkflowService().UpdateNamespace(ctx, &workflowservice.UpdateNamespaceRequest{
		Namespace: namespace,
		Config:    &namespacepb.NamespaceConfig{WorkflowExecutionRetentionTtl: durationpb.New(want)},
	})
	if err != nil {
		return fmt.Errorf("devtemporal: set retention of namespace %s to %s: %w", namespace, want, err)
	}
	return nil
}

// ensureSearchAttributes adds the attributes of want the namespace lacks. A
// name registered with a different type is an error rather than being
// silently kept, since queries on it would not mean what the caller expects.
func ensureSearchAttributes(ctx context.Context, c client.Client, namespace string, want map[string]enumspb.IndexedValueType) error {
	if len(want) == 0 {
		return nil
	}
	resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("devtemporal: list search attributes of namespace %s: %w", namespace, err)
	}
	missing := make(map[string]enumspb.IndexedValueType)
	for _, name := range slices.Sorted(maps.Keys(want)) {
		typ := want[name]
		if _, ok := resp.GetSystemAttributes()[name]; ok {
			return fmt.Errorf("devtemporal: search attribute %s is a system attribute", name)
		}
		have, ok := resp.GetCustomAttributes()[name]
		switch {
		case !ok:
			missing[name] = typ
		case have != typ:
			return fmt.Errorf("devtemporal: search attribute %s is registered as %s, not %s", name, have, typ)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	_, err = c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace:        namespace,
		SearchAttributes: missing,
	})
	if err != nil {
		return fmt.Errorf("devtemporal: add search attributes %v to namespace %s: %w", slices.Sorted(maps.Keys(missing)), namespace, err)
	}
	return nil
}
