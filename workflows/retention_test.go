package workflows

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
)

func TestRetentionWorkflow(t *testing.T) {
	t.Parallel()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	start := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	env.SetStartTime(start)
	env.RegisterWorkflowWithOptions(RetentionWorkflow, workflow.RegisterOptions{Name: RetentionWorkflowName})
	env.RegisterActivityWithOptions(func(context.Context) ([]RetentionApp, error) { return nil, nil },
		activity.RegisterOptions{Name: RetentionAppsActivity})
	env.RegisterActivityWithOptions(func(context.Context, RetentionEraseInput) (RetentionEraseResult, error) {
		return RetentionEraseResult{}, nil
	}, activity.RegisterOptions{Name: RetentionEraseActivity})

	env.OnActivity(RetentionAppsActivity, mock.Anything).Return([]RetentionApp{
		{AppID: "shop", RetentionDays: 30}, {AppID: "forever"}, {AppID: "blog", RetentionDays: 1},
	}, nil).Once()
	shop := RetentionEraseInput{AppID: "shop", Before: start.Add(-30 * 24 * time.Hour), BatchSize: 100, MaxBatches: retentionBatchesPerActivity}
	// A backlog: the first call stops at its batch bound, the second ends it.
	env.OnActivity(RetentionEraseActivity, mock.Anything, shop).Return(RetentionEraseResult{Messages: 2000, Replies: 3, More: true}, nil).Once()
	env.OnActivity(RetentionEraseActivity, mock.Anything, shop).Return(RetentionEraseResult{Messages: 5}, nil).Once()
	blog := RetentionEraseInput{AppID: "blog", Before: start.Add(-24 * time.Hour), BatchSize: 100, MaxBatches: retentionBatchesPerActivity}
	env.OnActivity(RetentionEraseActivity, mock.Anything, blog).Return(RetentionEraseResult{Messages: 1, Batches: 2}, nil).Once()

	env.ExecuteWorkflow(RetentionWorkflowName, RetentionInput{BatchSize: 100})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var res RetentionResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, RetentionResult{Apps: 2, Messages: 2006, Replies: 3, Batches: 2}, res)
	env.AssertExpectations(t)
}
