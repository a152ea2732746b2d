package devtemporal_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/heraldhq/herald/internal/devtemporal"
)

const (
	taskQueue  = "devtemporal-test"
	keyword    = enumspb.INDEXED_VALUE_TYPE_KEYWORD
	startLimit = 2 * time.Minute
)

// greet is the workflow the tests run: trivial, but it goes through history,
// matching, a worker poll and visibility.
func greet(_ workflow.Context, name string) (string, error) {
	return "hello " + name, nil
}

// testLogger writes the server's errors to stderr. It deliberately does not
// use t.Log: server goroutines may still log after a test has returned, and
// t.Log then panics.
func testLogger() *zap.Logger {
	enc := zapcore.NewConsoleEncoder(zap.NewDevelopmentEncoderConfig())
	return zap.New(zapcore.NewCore(enc, zapcore.Lock(os.Stderr), zapcore.ErrorLevel))
}

// freePort returns a port nothing listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	return port
}

func start(t *testing.T, opts devtemporal.Options) *devtemporal.Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), startLimit)
	defer cancel()
	began := time.Now()
	srv, err := devtemporal.Start(ctx, opts)
	require.NoError(t, err)
	t.Logf("server up in %s at %s (UI %q)", time.Since(began).Round(time.Millisecond), srv.FrontendAddress(), srv.UIAddress())
	t.Cleanup(func() { require.NoError(t, srv.Stop()) })
	return srv
}

func dial(t *testing.T, srv *devtemporal.Server) client.Client {
	t.Helper()
	c, err := client.Dial(client.Options{
		HostPort:  srv.FrontendAddress(),
		Namespace: srv.Namespace(),
		Logger:    quietSDKLogger{},
	})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

// runGreet runs greet to completion with the given search attributes, with a
// worker that lives only for the call.
func runGreet(t *testing.T, c client.Client, id string, attrs ...temporal.SearchAttributeUpdate) {
	t.Helper()
	w := worker.New(c, taskQueue, worker.Options{})
	w.RegisterWorkflow(greet)
	require.NoError(t, w.Start())
	defer w.Stop()

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                    id,
		TaskQueue:             taskQueue,
		TypedSearchAttributes: temporal.NewSearchAttributes(attrs...),
	}, greet, "herald")
	require.NoError(t, err)
	var out string
	require.NoError(t, run.Get(ctx, &out))
	require.Equal(t, "hello herald", out)
}

// requireListed waits until exactly the completed workflows want match query;
// visibility lags a little behind workflow completion.
func requireListed(t *testing.T, c client.Client, query string, want ...string) {
	t.Helper()
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		resp, err := c.ListWorkflow(t.Context(), &workflowservice.ListWorkflowExecutionsRequest{Query: query})
		require.NoError(ct, err)
		var got []string
		for _, e := range resp.GetExecutions() {
			require.Equal(ct, enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED, e.GetStatus())
			got = append(got, e.GetExecution().GetWorkflowId())
		}
		require.ElementsMatch(ct, want, got)
	}, 30*time.Second, 100*time.Millisecond)
}

func requireRetention(t *testing.T, c client.Client, ns string, want time.Duration) {
	t.Helper()
	resp, err := c.WorkflowService().DescribeNamespace(t.Context(), &workflowservice.DescribeNamespaceRequest{Namespace: ns})
	require.NoError(t, err)
	require.Equal(t, want, resp.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration())
}

func customAttributes(t *testing.T, c client.Client, ns string) map[string]enumspb.IndexedValueType {
	t.Helper()
	resp, err := c.OperatorService().ListSearchAttributes(t.Context(), &operatorservice.ListSearchAttributesRequest{Namespace: ns})
	require.NoError(t, err)
	return resp.GetCustomAttributes()
}

func getUI(t *testing.T, url string) []byte {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "GET %s: %s", url, body)
	return body
}

func TestStartDataDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	appKey := temporal.NewSearchAttributeKeyKeyword("HeraldApp")
	channelKey := temporal.NewSearchAttributeKeyKeyword("HeraldChannel")

	// The subtests run in order: the second reopens the database of the first.
	t.Run("FreshDataDir", func(t *testing.T) {
		srv := start(t, devtemporal.Options{
			DataDir:      dir,
			FrontendPort: freePort(t),
			UIPort:       0,
			SearchAttributes: map[string]enumspb.IndexedValueType{
				"HeraldApp":    keyword,
				"HeraldStatus": keyword,
			},
			Logger: testLogger(),
		})
		require.FileExists(t, filepath.Join(dir, devtemporal.DBFileName))
		require.Equal(t, devtemporal.DefaultNamespace, srv.Namespace())
		c := dial(t, srv)

		runGreet(t, c, "wf-first", appKey.ValueSet("app-1"))
		requireListed(t, c, `HeraldApp = "app-1"`, "wf-first")
		requireRetention(t, c, srv.Namespace(), devtemporal.DefaultRetention)

		require.NotEmpty(t, srv.UIAddress())
		getUI(t, srv.UIAddress()+"/")
		var attrs struct {
			CustomAttributes map[string]any `json:"customAttributes"`
		}
		require.NoError(t, json.Unmarshal(getUI(t, srv.UIAddress()+"/api/v1/namespaces/default/search-attributes"), &attrs))
		require.Contains(t, attrs.CustomAttributes, "HeraldApp")
		require.Contains(t, attrs.CustomAttributes, "HeraldStatus")

		require.NoError(t, srv.Stop())
		require.NoError(t, srv.Stop(), "second Stop")
	})

	t.Run("ReopenDataDir", func(t *testing.T) {
		srv := start(t, devtemporal.Options{
			DataDir:      dir,
			FrontendPort: 0,
			UIPort:       -1,
			Retention:    10 * 24 * time.Hour,
			SearchAttributes: map[string]enumspb.IndexedValueType{
				"HeraldApp":     keyword,
				"HeraldStatus":  keyword,
				"HeraldChannel": keyword,
			},
			Logger: testLogger(),
		})
		require.Empty(t, srv.UIAddress())
		c := dial(t, srv)

		require.Equal(t, map[string]enumspb.IndexedValueType{
			"HeraldApp":     keyword,
			"HeraldStatus":  keyword,
			"HeraldChannel": keyword,
		}, customAttributes(t, c, srv.Namespace()))
		requireRetention(t, c, srv.Namespace(), 10*24*time.Hour)

		// The workflow of the first start survived the restart.
		requireListed(t, c, `HeraldApp = "app-1"`, "wf-first")
		// The attribute added on this start is usable right away.
		runGreet(t, c, "wf-second", appKey.ValueSet("app-1"), channelKey.ValueSet("sms"))
		requireListed(t, c, `HeraldChannel = "sms"`, "wf-second")
		requireListed(t, c, `HeraldApp = "app-1"`, "wf-first", "wf-second")
	})
}

func TestStartInMemory(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		srv := start(t, devtemporal.Options{Logger: testLogger(), Namespace: "herald-test", CodecEndpoint: "http://127.0.0.1:8080/codec"})
		require.NotEmpty(t, srv.UIAddress())
		// The UI tells the browser where to decode payloads, with its
		// cookies.
		var settings struct {
			Codec struct {
				Endpoint           string
				IncludeCredentials bool
				PassAccessToken    bool
			}
		}
		require.NoError(t, json.Unmarshal(getUI(t, srv.UIAddress()+"/api/v1/settings"), &settings))
		require.Equal(t, "http://127.0.0.1:8080/codec", settings.Codec.Endpoint)
		require.True(t, settings.Codec.IncludeCredentials)
		require.False(t, settings.Codec.PassAccessToken)
		c := dial(t, srv)
		runGreet(t, c, "wf-memory")
		requireListed(t, c, `WorkflowId = "wf-memory"`, "wf-memory")
		requireRetention(t, c, "herald-test", devtemporal.DefaultRetention)
		getUI(t, srv.UIAddress()+"/api/v1/namespaces/herald-test")
	})

	t.Run("ErrPortInUse", func(t *testing.T) {
		t.Parallel()
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer l.Close()
		taken := l.Addr().(*net.TCPAddr).Port

		_, err = devtemporal.Start(t.Context(), devtemporal.Options{FrontendPort: taken})
		require.ErrorContains(t, err, "frontend port "+strconv.Itoa(taken))
		_, err = devtemporal.Start(t.Context(), devtemporal.Options{UIPort: taken})
		require.ErrorContains(t, err, "UI port "+strconv.Itoa(taken))
	})

	t.Run("ErrOptions", func(t *testing.T) {
		t.Parallel()
		for name, opts := range map[string]devtemporal.Options{
			"ShortRetention": {Retention: time.Hour},
			"BadIP":          {IP: "not-an-ip"},
			"RelativeCodec":  {CodecEndpoint: "/codec"},
			"NoType":         {SearchAttributes: map[string]enumspb.IndexedValueType{"HeraldApp": enumspb.INDEXED_VALUE_TYPE_UNSPECIFIED}},
		} {
			_, err := devtemporal.Start(t.Context(), opts)
			require.Error(t, err, name)
		}
	})
}

// quietSDKLogger drops the SDK client's logs, which go to stdout by default.
type quietSDKLogger struct{}

func (quietSDKLogger) Debug(string, ...any) {}
func (quietSDKLogger) Info(string, ...any)  {}
func (quietSDKLogger) Warn(string, ...any)  {}
func (quietSDKLogger) Error(string, ...any) {}
