package store

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"github.com/heraldhq/herald/store/storetest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// testDialects are the databases every store test runs on.
func testDialects() []string { return []string{DialectPostgres, DialectSQLite} }

// eachDialect runs fn as parallel subtests named for each dialect, each
// with its own freshly migrated database.
func eachDialect(t *testing.T, fn func(t *testing.T, db *DB)) {
	t.Helper()
	for _, d := range testDialects() {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			fn(t, setup(t, d))
		})
	}
}

// setup returns a migrated store on a fresh database of the dialect.
func setup(t testing.TB, dialect string) *DB {
	t.Helper()
	db := setupEmpty(t, dialect)
	_, err := db.MigrateUp(t.Context())
	require.NoError(t, err)
	return db
}

// setupEmpty returns a store on a fresh, unmigrated database.
func setupEmpty(t testing.TB, dialect string) *DB {
	t.Helper()
	return openTestDB(t, testDatabaseURL(t, dialect), testCipher(t))
}

func openTestDB(t testing.TB, rawURL string, c *Cipher) *DB {
	t.Helper()
	db, err := Open(t.Context(), Options{URL: rawURL, Cipher: c})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, db.Close()) })
	return db
}

// testDatabaseURL creates a fresh database and returns its URL; it is
// dropped when the test ends.
func testDatabaseURL(t testing.TB, dialect string) string {
	t.Helper()
	switch dialect {
	case DialectSQLite:
		return "sqlite://" + filepath.Join(t.TempDir(), "herald.db")
	case DialectPostgres:
		return createPostgresDatabase(t)
	}
	t.Fatalf("unknown dialect %q", dialect)
	return ""
}

func createPostgresDatabase(t testing.TB) string {
	t.Helper()
	return storetest.PostgresURL(t, "herald_test")
}

func testCipher(t testing.TB) *Cipher {
	t.Helper()
	key := make([]byte, MasterKeySize)
	_, err := rand.Read(key)
	require.NoError(t, err)
	c, err := NewCipher(key)
	require.NoError(t, err)
	return c
}

func ptr[T any](v T) *T { return &v }

func TestOpen(t *testing.T) {
	t.Parallel()

	t.Run("UnknownScheme", func(t *testing.T) {
		t.Parallel()
		_, err := Open(t.Context(), Options{URL: "mysql://user:secret@host/db"})
		require.ErrorContains(t, err, `unsupported database URL scheme "mysql"`)
		require.NotContains(t, err.Error(), "secret")
	})
	t.Run("EmptyURL", func(t *testing.T) {
		t.Parallel()
		_, err := Open(t.Context(), Options{})
		require.ErrorContains(t, err, "empty")
	})
	t.Run("BadSQLiteURL", func(t *testing.T) {
		t.Parallel()
		for _, u := range []string{"sqlite:relative.db", "sqlite://", "sqlite:///tmp/x.db?mode=ro"} {
			_, err := Open(t.Context(), Options{URL: u})
			require.Error(t, err, u)
		}
	})
	t.Run("SQLiteMemory", func(t *testing.T) {
		t.Parallel()
		db := openTestDB(t, "sqlite::memory:", testCipher(t))
		require.Equal(t, DialectSQLite, db.Dialect())
		_, err := db.MigrateUp(t.Context())
		require.NoError(t, err)
		require.NoError(t, db.CreateRule(t.Context(), &Rule{Name: "r", Action: "retry", Enabled: true}))
		rules, err := db.ListRules(t.Context(), "")
		require.NoError(t, err)
		require.Len(t, rules, 1)
	})
	t.Run("SQLiteCreatesDirectoryAndUsesWAL", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "a", "b", "herald.db")
		db := openTestDB(t, "sqlite://"+path, nil)
		_, err := os.Stat(path)
		require.NoError(t, err)

		var mode string
		require.NoError(t, db.Bun().NewRaw("PRAGMA journal_mode").Scan(t.Context(), &mode))
		require.Equal(t, "wal", mode)
		var fk int
		require.NoError(t, db.Bun().NewRaw("PRAGMA foreign_keys").Scan(t.Context(), &fk))
		require.Equal(t, 1, fk)
		var busy int
		require.NoError(t, db.Bun().NewRaw("PRAGMA busy_timeout").Scan(t.Context(), &busy))
		require.Equal(t, int(sqliteBusyTimeout.Milliseconds()), busy)
		var sync int
		require.NoError(t, db.Bun().NewRaw("PRAGMA synchronous").Scan(t.Context(), &sync))
		require.Equal(t, 1, sync) // NORMAL
	})
	t.Run("SQLiteRelativePath", func(t *testing.T) {
		// Opening would create a file in the package directory, so this
		// checks the parsing only.
		t.Parallel()
		p, err := sqlitePath("sqlite://data/herald.db")
		require.NoError(t, err)
		require.Equal(t, filepath.Join("data", "herald.db"), p)
		p, err = sqlitePath("sqlite:///var/lib/herald.db")
		require.NoError(t, err)
		require.Equal(t, "/var/lib/herald.db", p)
	})
	for _, d := range testDialects() {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			db := setupEmpty(t, d)
			require.Equal(t, d, db.Dialect())
			require.NoError(t, db.Ping(t.Context()))
			require.NotNil(t, db.Bun())
		})
	}
	t.Run("PostgresUnreachable", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		_, err := Open(ctx, Options{URL: "postgresql://postgres@127.0.0.1:1/none?sslmode=disable&dial_timeout=1s"})
		require.Error(t, err)
	})
}

func TestRunInTx(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()

		t.Run("RollbackOnError", func(t *testing.T) {
			boom := errors.New("boom")
			err := db.RunInTx(ctx, func(ctx context.Context, tx *DB) error {
				require.NoError(t, tx.CreateRule(ctx, &Rule{Name: "rolled back", Action: "fail", Enabled: true}))
				rules, err := tx.ListRules(ctx, "")
				require.NoError(t, err)
				require.Len(t, rules, 1)
				return boom
			})
			require.ErrorIs(t, err, boom)
			rules, err := db.ListRules(ctx, "")
			require.NoError(t, err)
			require.Empty(t, rules)
		})
		t.Run("RollbackOnConflict", func(t *testing.T) {
			err := db.RunInTx(ctx, func(ctx context.Context, tx *DB) error {
				require.NoError(t, tx.CreateChannel(ctx, &Channel{Name: "tx-dup", Type: ChannelSMS}))
				return tx.CreateChannel(ctx, &Channel{Name: "tx-dup", Type: ChannelSMS})
			})
			require.ErrorIs(t, err, ErrConflict)
			_, err = db.FindChannelByName(ctx, "tx-dup")
			require.ErrorIs(t, err, ErrNotFound)
		})
		t.Run("Commit", func(t *testing.T) {
			err := db.RunInTx(ctx, func(ctx context.Context, tx *DB) error {
				// Nested calls join the same transaction.
				return tx.RunInTx(ctx, func(ctx context.Context, tx2 *DB) error {
					return tx2.CreateRule(ctx, &Rule{Name: "kept", Action: "fail", Enabled: true})
				})
			})
			require.NoError(t, err)
			rules, err := db.ListRules(ctx, "")
			require.NoError(t, err)
			require.Len(t, rules, 1)
		})
		t.Run("CloseInTx", func(t *testing.T) {
			err := db.RunInTx(ctx, func(ctx context.Context, tx *DB) error {
				return tx.Close()
			})
			require.ErrorContains(t, err, "transaction")
		})
	})
}

func TestConcurrentWriters(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		ch := &Channel{Name: "c", Type: ChannelSMS}
		require.NoError(t, db.CreateChannel(ctx, ch))

		const writers, each = 8, 15
		var wg sync.WaitGroup
		errs := make(chan error, writers*each)
		for w := range writers {
			wg.Go(func() {
				for i := range each {
					taskID := fmt.Sprintf("task-%d-%d", w, i)
					err := db.CreateMessages(ctx, []*Message{{TaskID: taskID, AppID: "app", ChannelID: ch.ID, Receiver: "r", Status: "pending"}}, nil)
					if err == nil {
						err = db.RunInTx(ctx, func(ctx context.Context, tx *DB) error {
							seq, err := tx.NextEventSeq(ctx, taskID)
							if err != nil {
								return err
							}
							return tx.AddEvent(ctx, &MessageEvent{TaskID: taskID, Seq: seq, Kind: "created"})
						})
					}
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		stale, err := db.ListStaleMessages(ctx, "pending", time.Now().Add(time.Hour), 0)
		require.NoError(t, err)
		require.Len(t, stale, writers*each)
	})
}

// TestSQLiteTwoHandles writes through two stores on one file, as a server
// and a CLI command would: busy_timeout and BEGIN IMMEDIATE must keep them
// from failing with "database is locked".
func TestSQLiteTwoHandles(t *testing.T) {
	t.Parallel()
	u := testDatabaseURL(t, DialectSQLite)
	c := testCipher(t)
	a, b := openTestDB(t, u, c), openTestDB(t, u, c)
	_, err := a.MigrateUp(t.Context())
	require.NoError(t, err)

	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i, db := range []*DB{a, b} {
		wg.Go(func() {
			for j := range 50 {
				errs <- db.RunInTx(t.Context(), func(ctx context.Context, tx *DB) error {
					return tx.CreateRule(ctx, &Rule{Name: fmt.Sprintf("r%d-%d", i, j), Action: "fail", Enabled: true})
				})
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	rules, err := b.ListRules(t.Context(), "")
	require.NoError(t, err)
	require.Len(t, rules, 100)
}

// TestDeploymentID checks that each store has an identity of its own,
// the same on every read.
func TestDeploymentID(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, db *DB) {
		id, err := db.DeploymentID(t.Context())
		require.NoError(t, err)
		require.Len(t, id, 32)
		again, err := db.DeploymentID(t.Context())
		require.NoError(t, err)
		require.Equal(t, id, again)
		other, err := setup(t, db.Dialect()).DeploymentID(t.Context())
		require.NoError(t, err)
		require.NotEqual(t, id, other, "another store, another identity")
	})
}
