package workflows_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
	"go.uber.org/zap"

	"github.com/heraldhq/herald/activities"
	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/workflows"
)

// batchMember is one member of batchModel.
type batchMember struct {
	status string
	sends  int
	dueAt  time.Time
}

// batchModel stands in for the store behind the batch activities: the
// mocked chunk, settle and cancel activities move its members the way the
// real ones move stored rows, so the tests check what the workflow makes
// of them (every member final, none sent twice) rather than its calls.
type batchModel struct {
	mu      sync.Mutex
	env     *testsuite.TestWorkflowEnvironment
	members []batchMember
	// retryFirst members fail their first send and are retried after
	// 10s; unknownFirst ones have an unknown first outcome (left
	// processing); the next chunk over their range reconciles them as
	// not sent.
	retryFirst   map[int]bool
	unknownFirst map[int]bool
	chunks       []chunkCall
	// claimed are members a running chunk took when it started (and
	// sends when it ends).
	claimed map[int]bool
	// quietUntil, when set, is the end of quiet hours until then.
	quietUntil time.Time
	statuses   []activities.BatchStatusRequest
	chunkTime  time.Duration
	// expanded records when the background expansion of staged members
	// ran.
	expanded []time.Time
}

type chunkCall struct {
	req activities.ChunkRequest
	at  time.Time
}

func newBatchModel(t *testing.T, n int) *batchModel {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := suite.NewTestWorkflowEnvironment()
	env.SetStartTime(start)
	env.RegisterWorkflowWithOptions(workflows.BatchWorkflow, workflow.RegisterOptions{Name: workflows.BatchWorkflowName})
	env.RegisterActivity(activities.New(activities.Config{}, noStore{}, providers.NewRegistry(), zap.NewNop()))
	m := &batchModel{env: env, members: make([]batchMember, n), retryFirst: map[int]bool{}, unknownFirst: map[int]bool{}, claimed: map[int]bool{}, chunkTime: time.Second}
	for i := range m.members {
		m.members[i].status = workflows.StatusPending
	}
	env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, args converter.EncodedValues) {
		if info.ActivityType.Name != "SendChunk" {
			return
		}
		var req activities.ChunkRequest
		require.NoError(t, args.Get(&req))
		m.start(req)
	})
	env.OnActivity(acts.LoadBatchPlan, mock.Anything, mock.Anything).Return(func(context.Context, activities.BatchPlanInput) (activities.BatchPlan, error) {
		p := activities.BatchPlan{ChunkSize: 10}
		if env.Now().Before(m.quietUntil) {
			p.QuietUntil = m.quietUntil
		}
		return p, nil
	})
	env.OnActivity(acts.SendChunk, mock.Anything, mock.Anything).AfterFn(func() time.Duration { return m.chunkTime }).Return(m.chunk)
	env.OnActivity(acts.SettleBatch, mock.Anything, mock.Anything).Return(m.settle)
	env.OnActivity(acts.ExpandBatch, mock.Anything, mock.Anything).Return(func(context.Context, activities.ExpandRequest) (int, error) {
		m.mu.Lock()
		defer m.mu.Unlock()
		m.expanded = append(m.expanded, env.Now())
		return n, nil
	})
	env.OnActivity(acts.CancelBatchMembers, mock.Anything, mock.Anything).Return(m.cancel)
	env.OnActivity(acts.SetBatchStatus, mock.Anything, mock.Anything).Return(func(_ context.Context, r activities.BatchStatusRequest) error {
		m.mu.Lock()
		defer m.mu.Unlock()
		m.statuses = append(m.statuses, r)
		return nil
	})
	return m
}

// start claims a chunk's due members, as the chunk activity does before
// any provider call.
func (m *batchModel) start(req activities.ChunkRequest) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.env.Now()
	m.chunks = append(m.chunks, chunkCall{req: req, at: now})
	n := 0
	for seq := req.FromSeq; seq <= min(req.ToSeq, len(m.members)) && n < req.Limit; seq++ {
		mb := &m.members[seq-1]
		if mb.status != workflows.StatusPending || mb.dueAt.After(now) {
			continue
		}
		mb.status = workflows.StatusProcessing
		m.claimed[seq] = true
		n++
	}
}

// chunk ends a chunk: members left processing by an earlier one are
// reconciled as not sent, the claimed ones are sent.
func (m *batchModel) chunk(_ context.Context, req activities.ChunkRequest) (activities.ChunkResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.env.Now()
	var res activities.ChunkResult
	for seq := req.FromSeq; seq <= min(req.ToSeq, len(m.members)); seq++ {
		mb := &m.members[seq-1]
		if !m.claimed[seq] {
			if mb.status == workflows.StatusProcessing {
				mb.status, mb.dueAt = workflows.StatusPending, time.Time{}
				res.Reconciled++
			}
			continue
		}
		delete(m.claimed, seq)
		mb.sends++
		switch {
		case mb.sends == 1 && m.unknownFirst[seq]:
			// Stays processing: its outcome is unknown.
		case mb.sends == 1 && m.retryFirst[seq]:
			mb.status, mb.dueAt = workflows.StatusPending, now.Add(10*time.Second)
			res.Retrying++
		default:
			mb.status = workflows.StatusSuccess
			res.Sent++
		}
	}
	return res, nil
}

func (m *batchModel) settle(_ context.Context, req activities.SettleRequest) (activities.SettleResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.env.Now()
	res := activities.SettleResult{ByStatus: map[string]int{}, Final: true}
	for i, mb := range m.members {
		res.ByStatus[mb.status]++
		if !workflows.IsFinal(mb.status) {
			res.Final = false
		}
		work := (mb.status == workflows.StatusProcessing && !m.claimed[i+1]) || (mb.status == workflows.StatusPending && !mb.dueAt.After(now))
		if mb.status == workflows.StatusPending && mb.dueAt.After(now) && (res.NextDue.IsZero() || mb.dueAt.Before(res.NextDue)) {
			res.NextDue = mb.dueAt
		}
		if !work {
			continue
		}
		res.Due++
		b := i / req.Bucket
		r := activities.SeqRange{From: b*req.Bucket + 1, To: (b + 1) * req.Bucket}
		if n := len(res.WorkRanges); n == 0 || res.WorkRanges[n-1] != r {
			res.WorkRanges = append(res.WorkRanges, r)
		}
	}
	return res, nil
}

func (m *batchModel) cancel(_ context.Context, req activities.CancelMembersRequest) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for i := range m.members {
		mb := &m.members[i]
		if req.TaskID != "" && memberTaskID(i+1) != req.TaskID {
			continue
		}
		if mb.status != workflows.StatusPending {
			if req.TaskID != "" {
				return 0, temporal.NewNonRetryableApplicationError("member is "+mb.status, activities.ErrorNotCancellable, nil)
			}
			continue
		}
		mb.status = workflows.StatusCancelled
		n++
	}
	return n, nil
}

func memberTaskID(seq int) string { return fmt.Sprintf("member-%d", seq) }

func (m *batchModel) requireAllFinal(t *testing.T) {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, mb := range m.members {
		require.True(t, workflows.IsFinal(mb.status), "member %d is %s", i+1, mb.status)
		limit := 1
		if m.retryFirst[i+1] || m.unknownFirst[i+1] {
			limit = 2
		}
		require.LessOrEqual(t, mb.sends, limit, "member %d sent %d times", i+1, mb.sends)
	}
}

func batchInput(n int) workflows.BatchInput {
	return workflows.BatchInput{BatchID: "b1", AppID: "app", ChannelID: 1, Members: n}
}

func batchResult(t *testing.T, m *batchModel) workflows.BatchProgress {
	t.Helper()
	require.True(t, m.env.IsWorkflowCompleted())
	require.NoError(t, m.env.GetWorkflowError())
	var p workflows.BatchProgress
	require.NoError(t, m.env.GetWorkflowResult(&p))
	return p
}

func TestBatchWorkflowSendsEveryMember(t *testing.T) {
	t.Parallel()
	m := newBatchModel(t, 95)
	for _, seq := range []int{3, 17, 94} {
		m.retryFirst[seq] = true
	}
	for _, seq := range []int{5, 60} {
		m.unknownFirst[seq] = true
	}
	m.env.ExecuteWorkflow(workflows.BatchWorkflowName, batchInput(95))
	p := batchResult(t, m)
	require.Equal(t, workflows.BatchStatusFinished, p.Status)
	m.requireAllFinal(t)
	for i, mb := range m.members {
		require.Equal(t, workflows.StatusSuccess, mb.status, "member %d", i+1)
	}
	// The first pass: ten chunks of at most ten, none overlapping. Chunks
	// in flight together start in no set order.
	first := slices.Clone(m.chunks[:10])
	slices.SortFunc(first, func(a, b chunkCall) int { return a.req.FromSeq - b.req.FromSeq })
	for i, c := range first {
		require.Equal(t, i*10+1, c.req.FromSeq)
		require.Equal(t, min(i*10+10, 95), c.req.ToSeq)
		require.Equal(t, 10, c.req.Limit)
	}
	// Then the ranges holding retries and unknown outcomes, once each
	// per pass.
	require.Greater(t, len(m.chunks), 10)
	last := m.statuses[len(m.statuses)-1]
	require.Equal(t, activities.BatchStatusRequest{BatchID: "b1", Status: workflows.BatchStatusFinished, Finished: true}, last)
	require.Len(t, m.expanded, 1, "staged members are expanded once, in the background")
}

func TestBatchWorkflowWaitsForSchedule(t *testing.T) {
	t.Parallel()
	m := newBatchModel(t, 5)
	in := batchInput(5)
	in.ScheduledAt = start.Add(time.Hour)
	m.env.ExecuteWorkflow(workflows.BatchWorkflowName, in)
	batchResult(t, m)
	require.False(t, m.chunks[0].at.Before(in.ScheduledAt))
	require.Len(t, m.expanded, 1)
	require.True(t, m.expanded[0].Equal(start), "a scheduled batch's members are written as rows at once, not when it is due")
	m.requireAllFinal(t)
}

func TestBatchWorkflowQuietHours(t *testing.T) {
	t.Parallel()
	m := newBatchModel(t, 5)
	quiet := start.Add(3 * time.Hour)
	m.quietUntil = quiet
	m.env.ExecuteWorkflow(workflows.BatchWorkflowName, batchInput(5))
	batchResult(t, m)
	require.False(t, m.chunks[0].at.Before(quiet))
	m.requireAllFinal(t)
}

func TestBatchWorkflowPauseResume(t *testing.T) {
	t.Parallel()
	m := newBatchModel(t, 200)
	var pausedAt, resumedAt time.Time
	update := func(name string) {
		m.env.UpdateWorkflow(name, name, &testsuite.TestUpdateCallback{
			OnReject: func(err error) { t.Errorf("%s rejected: %v", name, err) },
			OnAccept: func() {},
			OnComplete: func(v any, err error) {
				require.NoError(t, err)
			},
		})
	}
	m.env.RegisterDelayedCallback(func() {
		pausedAt = m.env.Now()
		update(workflows.BatchPauseUpdate)
	}, 1500*time.Millisecond)
	m.env.RegisterDelayedCallback(func() {
		v, err := m.env.QueryWorkflow(workflows.BatchProgressQuery)
		require.NoError(t, err)
		var p workflows.BatchProgress
		require.NoError(t, v.Get(&p))
		require.Equal(t, workflows.BatchStatusPaused, p.Status)
		resumedAt = m.env.Now()
		update(workflows.BatchResumeUpdate)
	}, time.Hour)
	m.env.ExecuteWorkflow(workflows.BatchWorkflowName, batchInput(200))
	p := batchResult(t, m)
	require.Equal(t, workflows.BatchStatusFinished, p.Status)
	m.requireAllFinal(t)
	for _, c := range m.chunks {
		// Chunks in flight at the pause finish; none starts until the
		// resume.
		require.False(t, c.at.After(pausedAt) && c.at.Before(resumedAt), "chunk %d-%d started at %s while paused", c.req.FromSeq, c.req.ToSeq, c.at)
	}
	var stored []string
	for _, s := range m.statuses {
		stored = append(stored, s.Status)
	}
	require.Equal(t, []string{workflows.BatchStatusPaused, workflows.BatchStatusRunning, workflows.BatchStatusFinished}, stored)
}

// TestBatchWorkflowStartsPaused: a batch stored paused whose workflow is
// started again (its run lost or ended) stays paused until resumed.
func TestBatchWorkflowStartsPaused(t *testing.T) {
	t.Parallel()
	m := newBatchModel(t, 20)
	var resumedAt time.Time
	m.env.RegisterDelayedCallback(func() {
		resumedAt = m.env.Now()
		m.env.UpdateWorkflow(workflows.BatchResumeUpdate, "resume", &testsuite.TestUpdateCallback{
			OnReject:   func(err error) { t.Errorf("resume rejected: %v", err) },
			OnAccept:   func() {},
			OnComplete: func(_ any, err error) { require.NoError(t, err) },
		})
	}, time.Hour)
	in := batchInput(20)
	in.Paused = true
	m.env.ExecuteWorkflow(workflows.BatchWorkflowName, in)
	p := batchResult(t, m)
	require.Equal(t, workflows.BatchStatusFinished, p.Status)
	m.requireAllFinal(t)
	require.NotEmpty(t, m.chunks)
	for _, c := range m.chunks {
		require.False(t, c.at.Before(resumedAt), "chunk %d-%d started at %s, before the resume", c.req.FromSeq, c.req.ToSeq, c.at)
	}
}

func TestBatchWorkflowCancel(t *testing.T) {
	t.Parallel()
	m := newBatchModel(t, 100)
	m.chunkTime = 10 * time.Second
	memberErr := map[string]error{}
	cancelMember := func(taskID string) {
		m.env.UpdateWorkflow(workflows.BatchCancelMemberUpdate, "cancel-"+taskID, &testsuite.TestUpdateCallback{
			OnReject:   func(err error) { memberErr[taskID] = err },
			OnAccept:   func() {},
			OnComplete: func(_ any, err error) { memberErr[taskID] = err },
		}, taskID)
	}
	var answer string
	m.env.RegisterDelayedCallback(func() {
		// Members 1-80 are on their way in eight chunks; 81-100 wait.
		cancelMember(memberTaskID(95))
	}, time.Second)
	m.env.RegisterDelayedCallback(func() {
		cancelMember(memberTaskID(1))
		m.env.UpdateWorkflow(workflows.BatchCancelUpdate, "cancel", &testsuite.TestUpdateCallback{
			OnReject:   func(err error) { t.Errorf("cancel rejected: %v", err) },
			OnAccept:   func() {},
			OnComplete: func(v any, err error) { require.NoError(t, err); answer, _ = v.(string) },
		})
	}, 5*time.Second)
	m.env.ExecuteWorkflow(workflows.BatchWorkflowName, batchInput(100))
	p := batchResult(t, m)
	require.Equal(t, workflows.BatchStatusCancelled, p.Status)
	require.Equal(t, workflows.BatchStatusCancelled, answer)
	require.NoError(t, memberErr[memberTaskID(95)])
	require.Error(t, memberErr[memberTaskID(1)], "member 1 was on its way")
	m.requireAllFinal(t)
	m.mu.Lock()
	defer m.mu.Unlock()
	for seq := 1; seq <= 80; seq++ {
		require.Equal(t, workflows.StatusSuccess, m.members[seq-1].status, "member %d was on its way", seq)
	}
	for seq := 81; seq <= 100; seq++ {
		require.Equal(t, workflows.StatusCancelled, m.members[seq-1].status, "member %d", seq)
		require.Zero(t, m.members[seq-1].sends)
	}
	last := m.statuses[len(m.statuses)-1]
	require.Equal(t, activities.BatchStatusRequest{BatchID: "b1", Status: workflows.BatchStatusCancelled, Finished: true}, last)
}

func TestBatchWorkflowContinuesAsNew(t *testing.T) {
	t.Parallel()
	m := newBatchModel(t, 1000)
	m.env.RegisterDelayedCallback(func() { m.env.SetCurrentHistoryLength(9000) }, 2500*time.Millisecond)
	m.env.ExecuteWorkflow(workflows.BatchWorkflowName, batchInput(1000))
	require.True(t, m.env.IsWorkflowCompleted())
	err := m.env.GetWorkflowError()
	var can *workflow.ContinueAsNewError
	require.ErrorAs(t, err, &can)
	require.Equal(t, workflows.BatchWorkflowName, can.WorkflowType.Name)
	var next workflows.BatchInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	require.NotNil(t, next.Resume)
	m.mu.Lock()
	defer m.mu.Unlock()
	// Every chunk the first run started finished before it handed over,
	// and the next run starts right after the last of them.
	lastTo := 0
	for _, c := range m.chunks {
		lastTo = max(lastTo, c.req.ToSeq)
	}
	require.Equal(t, lastTo+1, next.Resume.NextSeq)
	for seq := 1; seq <= lastTo; seq++ {
		require.Equal(t, workflows.StatusSuccess, m.members[seq-1].status)
	}
	require.Less(t, lastTo, 1000)
}
