package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/workflows"
)

// TestBatchInput checks that the sweeper restarts a batch's workflow with
// what the accept started it with.
func TestBatchInput(t *testing.T) {
	t.Parallel()
	sched := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	exp := sched.Add(time.Hour)
	b := store.BatchToStart{Batch: store.Batch{ID: "b1", AppID: "shop", ChannelID: 7, SuccessCount: 42, ScheduledAt: &sched}, ExpiresAt: &exp}
	require.Equal(t, workflows.BatchInput{BatchID: "b1", AppID: "shop", ChannelID: 7, Members: 42, ScheduledAt: sched, ExpiresAt: exp}, batchInput(b))
	require.Equal(t, workflows.BatchInput{BatchID: "b2", Members: 1}, batchInput(store.BatchToStart{Batch: store.Batch{ID: "b2", SuccessCount: 1, Status: store.BatchRunning}}))
	require.Equal(t, workflows.BatchInput{BatchID: "b3", Members: 1, Paused: true}, batchInput(store.BatchToStart{Batch: store.Batch{ID: "b3", SuccessCount: 1, Status: store.BatchPaused}}),
		"a paused batch starts again paused")
}
