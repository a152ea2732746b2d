package workflows

import (
	"context"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/heraldhq/herald/internal/breaker"
)

// breakerStartOptions start an account's breaker workflow with the first
// signal sent to it; a breaker that ended (failed, or terminated by an
// operator) is started again, closed, by the next one.
func breakerStartOptions(accountID int64) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                       BreakerWorkflowID(accountID),
		TaskQueue:                TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
	}
}

// ReportBreakerOutcomes signals one process's outcome counts to an
// account's breaker workflow, starting it when it is not running.
func (c *Client) ReportBreakerOutcomes(ctx context.Context, accountID int64, counts breaker.Counts) error {
	_, err := c.c.SignalWithStartWorkflow(ctx, BreakerWorkflowID(accountID), BreakerOutcomesSignal,
		BreakerOutcomes{Counts: counts}, breakerStartOptions(accountID), BreakerWorkflowName, BreakerInput{AccountID: accountID})
	if err != nil {
		return fmt.Errorf("report outcomes to the breaker of account %d: %w", accountID, err)
	}
	return nil
}

// ForceBreaker sends an operator's order to an account's breaker
// workflow, starting it when it is not running.
func (c *Client) ForceBreaker(ctx context.Context, accountID int64, f BreakerForce) error {
	_, err := c.c.SignalWithStartWorkflow(ctx, BreakerWorkflowID(accountID), BreakerForceSignal,
		f, breakerStartOptions(accountID), BreakerWorkflowName, BreakerInput{AccountID: accountID})
	if err != nil {
		return fmt.Errorf("send %q to the breaker of account %d: %w", f.Order, accountID, err)
	}
	return nil
}
