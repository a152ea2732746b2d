package workflows_test

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/heraldhq/herald/workflows"
)

// TestReplayHistories replays recorded histories against the current
// SendWorkflow, so a change that breaks running workflows fails here
// instead of in production. A change that must alter the command sequence
// goes behind workflow.GetVersion.
func TestReplayHistories(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("testdata", "histories", "*.json"))
	require.NoError(t, err)
	if len(files) == 0 {
		if os.Getenv("CI") == "" {
			t.Skip("no recorded histories in testdata/histories; the integration tests record them")
		}
		t.Fatal("no recorded histories in testdata/histories: CI must replay at least one")
	}
	logger := log.NewStructuredLogger(slog.New(slog.DiscardHandler))
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			t.Parallel()
			replayer := worker.NewWorkflowReplayer()
			replayer.RegisterWorkflowWithOptions(workflows.SendWorkflow, workflow.RegisterOptions{Name: workflows.SendWorkflowName})
			require.NoError(t, replayer.ReplayWorkflowHistoryFromJSONFile(logger, file))
		})
	}
}
