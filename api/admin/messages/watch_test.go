package messages

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/store"
)

func TestWatch(t *testing.T) {
	t.Parallel()
	for _, d := range testDialects() {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			f := setup(t, d)
			ms := f.seed(t, 2) // channel 1 and 2
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.srv.URL+"/admin/api/v1/messages/watch?channel=2", nil)
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer test-viewer")
			res, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer res.Body.Close()
			require.Equal(t, http.StatusOK, res.StatusCode)
			require.Equal(t, "application/x-ndjson", res.Header.Get("Content-Type"))

			require.NoError(t, f.db.AddEvent(t.Context(), &store.MessageEvent{TaskID: ms[0].TaskID, Seq: 1, Kind: "accepted"}))
			require.NoError(t, f.db.AddEvent(t.Context(), &store.MessageEvent{TaskID: ms[1].TaskID, Seq: 1, Kind: "accepted", Status: "pending"}))
			sc := bufio.NewScanner(res.Body)
			require.True(t, sc.Scan(), "a line: %v", sc.Err())
			var e WatchEvent
			require.NoError(t, json.Unmarshal(sc.Bytes(), &e))
			require.Equal(t, ms[1].TaskID, e.TaskID, "only channel 2's event")
			require.Equal(t, "+86138****8001", e.Receiver)
			require.Equal(t, "accepted", e.Kind)
		})
	}
}
