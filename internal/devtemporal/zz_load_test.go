package devtemporal_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/heraldhq/herald/internal/devtemporal"
)

type countCore struct {
	zapcore.LevelEnabler
	locked, errs *atomic.Int64
}

func (c countCore) With([]zapcore.Field) zapcore.Core { return c }
func (c countCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}
func (c countCore) Write(e zapcore.Entry, f []zapcore.Field) error {
	c.errs.Add(1)
	enc := zapcore.NewMapObjectEncoder()
	for _, x := range f {
		x.AddTo(enc)
	}
	if strings.Contains(fmt.Sprint(enc.Fields), "locked") {
		c.locked.Add(1)
	}
	return nil
}
func (c countCore) Sync() error { return nil }

func act(ctx context.Context, s string) (string, error) { return s, nil }

func loadWF(ctx workflow.Context, s string) (string, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute})
	var out string
	err := workflow.ExecuteActivity(ctx, act, s).Get(ctx, &out)
	return out, err
}

func TestLoad(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("LOAD_N"))
	if n == 0 {
		t.Skip()
	}
	var locked, errs atomic.Int64
	lg := zap.New(countCore{zapcore.WarnLevel, &locked, &errs})
	srv, err := devtemporal.Start(t.Context(), devtemporal.Options{DataDir: t.TempDir(), UIPort: -1, Logger: lg})
	require.NoError(t, err)
	defer srv.Stop()
	c, err := client.Dial(client.Options{HostPort: srv.FrontendAddress(), Logger: quietSDKLogger{}})
	require.NoError(t, err)
	defer c.Close()
	w := worker.New(c, "load", worker.Options{})
	w.RegisterWorkflow(loadWF)
	w.RegisterActivity(act)
	require.NoError(t, w.Start())
	defer w.Stop()
	began := time.Now()
	var wg sync.WaitGroup
	var failed atomic.Int64
	sem := make(chan struct{}, 100)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "wf-" + strconv.Itoa(i), TaskQueue: "load"}, loadWF, "x")
			if err == nil {
				err = run.Get(ctx, nil)
			}
			if err != nil {
				failed.Add(1)
			}
		}()
	}
	wg.Wait()
	t.Logf("n=%d elapsed=%s failed=%d warn+logs=%d locked=%d", n, time.Since(began), failed.Load(), errs.Load(), locked.Load())
}
