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

// redriveEnv is a test environment with the re-drive activities registered
// under their names, to be mocked per test.
func redriveEnv(t *testing.T) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(RedriveWorkflow, workflow.RegisterOptions{Name: RedriveWorkflowName})
	env.RegisterActivityWithOptions(func(context.Context, RedrivePageInput) (RedrivePageResult, error) {
		return RedrivePageResult{}, nil
	}, activity.RegisterOptions{Name: RedrivePageActivity})
	env.RegisterActivityWithOptions(func(context.Context, RedriveFinishInput) error { return nil },
		activity.RegisterOptions{Name: RedriveFinishActivity})
	return env
}

func TestRedriveWorkflowPages(t *testing.T) {
	t.Parallel()
	env := redriveEnv(t)
	c1 := &RedriveCursor{CreatedAt: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC), TaskID: "t2"}
	env.OnActivity(RedrivePageActivity, mock.Anything, mock.MatchedBy(func(in RedrivePageInput) bool { return in.Filter.After == nil })).
		Return(RedrivePageResult{Matched: 2, Resent: 1, Skipped: 1, Next: c1}, nil).Once()
	env.OnActivity(RedrivePageActivity, mock.Anything, mock.MatchedBy(func(in RedrivePageInput) bool {
		return in.Filter.After != nil && in.Filter.After.TaskID == "t2" && in.Filter.Limit == 2 && in.ForceAccountID == 9 &&
			in.Actor == "user:ann" && in.ClientIP == "192.0.2.7"
	})).Return(RedrivePageResult{Matched: 1, Resent: 1}, nil).Once()
	env.OnActivity(RedriveFinishActivity, mock.Anything, RedriveFinishInput{RedriveID: "r1", Status: RedriveDone}).Return(nil).Once()

	env.ExecuteWorkflow(RedriveWorkflowName, RedriveInput{RedriveID: "r1", PageSize: 2, ForceAccountID: 9, Actor: "user:ann", ClientIP: "192.0.2.7", Filter: RedriveFilter{Statuses: []string{"failed"}}})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var p RedriveProgress
	require.NoError(t, env.GetWorkflowResult(&p))
	require.Equal(t, RedriveProgress{Status: RedriveDone, Matched: 3, Resent: 2, Skipped: 1}, p)
	env.AssertExpectations(t)
}

func TestRedriveWorkflowPauseResumeCancel(t *testing.T) {
	t.Parallel()
	env := redriveEnv(t)
	next := &RedriveCursor{TaskID: "t"}
	pages := 0
	env.OnActivity(RedrivePageActivity, mock.Anything, mock.Anything).Return(
		func(context.Context, RedrivePageInput) (RedrivePageResult, error) {
			pages++
			return RedrivePageResult{Matched: 1, Resent: 1, Next: next}, nil
		}).After(time.Second) // a page takes time, as its paced sends do
	env.OnActivity(RedriveFinishActivity, mock.Anything, RedriveFinishInput{RedriveID: "r2", Status: RedriveCancelled}).Return(nil).Once()

	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(RedrivePauseSignal, nil)
	}, 0)
	env.RegisterDelayedCallback(func() {
		v, err := env.QueryWorkflow(RedriveProgressQuery)
		require.NoError(t, err)
		var p RedriveProgress
		require.NoError(t, v.Get(&p))
		require.Equal(t, RedrivePaused, p.Status)
		paused := pages
		env.SignalWorkflow(RedriveResumeSignal, nil)
		env.RegisterDelayedCallback(func() {
			require.Greater(t, pages, paused, "resumed")
			env.SignalWorkflow(RedriveCancelSignal, nil)
		}, 2500*time.Millisecond) // two pages after the resume, far from a continue-as-new
	}, time.Hour)

	env.ExecuteWorkflow(RedriveWorkflowName, RedriveInput{RedriveID: "r2"})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var p RedriveProgress
	require.NoError(t, env.GetWorkflowResult(&p))
	require.Equal(t, RedriveCancelled, p.Status)
	env.AssertExpectations(t)
}
