package resources

import (
	"net/http"
	"sort"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// Changes made at once against the same version: one wins, the others
// are refused, also when they change only a channel's pool (whose rows
// are not the channel's own).
func TestConcurrentChanges(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	s.must(http.StatusCreated, http.MethodPost, "/accounts", map[string]any{"name": "a", "kind": "sandbox"})
	ch := s.must(http.StatusCreated, http.MethodPost, "/channels", map[string]any{"name": "sms", "type": "sms", "pool": []map[string]any{{"account": "a", "weight": 1}}})
	path := "/channels/" + strconv.FormatInt(int64(ch.body["id"].(float64)), 10)

	const n = 6
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := s.do("operator", http.MethodPatch, path, map[string]any{"pool": []map[string]any{{"account": "a", "weight": i + 2}}}, "If-Match", `"1"`)
			statuses[i] = a.status
		}()
	}
	wg.Wait()
	sort.Ints(statuses)
	require.Equal(t, http.StatusOK, statuses[0])
	for _, st := range statuses[1:] {
		require.Equal(t, http.StatusConflict, st)
	}
	got := s.must(http.StatusOK, http.MethodGet, path, nil)
	require.Equal(t, `"2"`, got.header.Get("ETag"))
}
