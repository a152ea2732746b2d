package api

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/store"
)

// Environment of the child processes of TestQuotaTwoProcesses.
const (
	envQuotaChildDB      = "HERALD_QUOTA_CHILD_DB"
	envQuotaChildKey     = "HERALD_QUOTA_CHILD_KEY"
	envQuotaChildApp     = "HERALD_QUOTA_CHILD_APP"
	envQuotaChildSecret  = "HERALD_QUOTA_CHILD_SECRET"
	envQuotaChildChannel = "HERALD_QUOTA_CHILD_CHANNEL"
)

func openKeyedStore(t *testing.T, rawURL, hexKey string) *store.DB {
	t.Helper()
	key, err := hex.DecodeString(hexKey)
	require.NoError(t, err)
	c, err := store.NewCipher(key)
	require.NoError(t, err)
	db, err := store.Open(context.Background(), store.Options{URL: rawURL, Cipher: c})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	_, err = db.MigrateUp(context.Background())
	require.NoError(t, err)
	return db
}

// TestQuotaTwoProcesses runs two API servers in two OS processes over one
// PostgreSQL database, each sending from several goroutines, and checks
// that together they accept exactly the quota.
func TestQuotaTwoProcesses(t *testing.T) {
	t.Parallel()
	url := testPostgresURL(t)
	key := randHex(32)
	db := openKeyedStore(t, url, key)
	appID, secret := "app-"+randHex(8), "secret-"+randHex(16)
	chID := seedQuotaApp(t, db, appID, secret, 30, 0)

	var total atomic.Int64
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(os.Args[0], "-test.run", "^TestQuotaProcessChild$", "-test.count=1")
			cmd.Env = append(os.Environ(), envQuotaChildDB+"="+url, envQuotaChildKey+"="+key, envQuotaChildApp+"="+appID,
				envQuotaChildSecret+"="+secret, envQuotaChildChannel+"="+strconv.FormatInt(chID, 10))
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Errorf("child: %v\n%s", err, out)
				return
			}
			m := regexp.MustCompile(`accepted=(\d+) refused=(\d+)`).FindSubmatch(out)
			if m == nil {
				t.Errorf("child said nothing: %s", out)
				return
			}
			n, _ := strconv.Atoi(string(m[1]))
			total.Add(int64(n))
		}()
	}
	wg.Wait()
	require.Equal(t, int64(30), total.Load(), "two processes together accept exactly the quota")
}

// TestQuotaProcessChild is one process of TestQuotaTwoProcesses; run on
// its own it does nothing.
func TestQuotaProcessChild(t *testing.T) {
	url := os.Getenv(envQuotaChildDB)
	if url == "" {
		t.Skip("runs only as a child of TestQuotaTwoProcesses")
	}
	db := openKeyedStore(t, url, os.Getenv(envQuotaChildKey))
	f := setup(t, withStore(func(*fakeStore) Store { return db }), withApp(func(a *store.App) {
		a.ID, a.Secret = os.Getenv(envQuotaChildApp), os.Getenv(envQuotaChildSecret)
	}))
	var accepted, refused atomic.Int64
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 6 {
				body := fmt.Sprintf(`{"channel_id":%s,"receiver":"p%d-%d-%d@example.com","template_params":{"name":"x"}}`,
					os.Getenv(envQuotaChildChannel), os.Getpid(), g, i)
				res := f.call(t, http.MethodPost, "/api/v1/messages", body)
				switch {
				case res.Status == http.StatusOK:
					accepted.Add(1)
				case res.Status == http.StatusTooManyRequests && res.Code == CodeQuotaExceeded:
					refused.Add(1)
				default:
					t.Errorf("send: %d %s", res.Status, res.Body)
				}
			}
		}()
	}
	wg.Wait()
	fmt.Printf("accepted=%d refused=%d\n", accepted.Load(), refused.Load())
}
