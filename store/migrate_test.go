package store

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMigrations(t *testing.T) {
	t.Parallel()
	for _, d := range testDialects() {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			db := setupEmpty(t, d)

			st, err := db.MigrationStatus(ctx)
			require.NoError(t, err)
			require.NotEmpty(t, st)
			for _, s := range st {
				require.False(t, s.Applied, s.Name)
			}
			require.Equal(t, "000001_init", st[0].Name)

			applied, err := db.MigrateUp(ctx)
			require.NoError(t, err)
			require.Equal(t, []string{"000001_init", "000002_grants_sealed_tokens"}, applied)

			again, err := db.MigrateUp(ctx)
			require.NoError(t, err)
			require.Empty(t, again)

			st, err = db.MigrationStatus(ctx)
			require.NoError(t, err)
			for _, s := range st {
				require.True(t, s.Applied, s.Name)
				require.Equal(t, int64(1), s.GroupID)
			}
			require.NoError(t, db.CreateRule(ctx, &Rule{Name: "r", Action: "fail"}))

			down, err := db.MigrateDown(ctx)
			require.NoError(t, err)
			require.Equal(t, []string{"000002_grants_sealed_tokens", "000001_init"}, down)
			_, err = db.ListRules(ctx, "")
			require.Error(t, err, "tables are gone after rolling back")

			st, err = db.MigrationStatus(ctx)
			require.NoError(t, err)
			for _, s := range st {
				require.False(t, s.Applied, s.Name)
			}

			down, err = db.MigrateDown(ctx)
			require.NoError(t, err)
			require.Empty(t, down)

			applied, err = db.MigrateUp(ctx)
			require.NoError(t, err)
			require.Equal(t, []string{"000001_init", "000002_grants_sealed_tokens"}, applied)
			rules, err := db.ListRules(ctx, "")
			require.NoError(t, err)
			require.Empty(t, rules)
		})
	}
}

func TestMigrationsConcurrent(t *testing.T) {
	t.Parallel()
	for _, d := range testDialects() {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			u := testDatabaseURL(t, d)
			c := testCipher(t)
			dbs := []*DB{openTestDB(t, u, c), openTestDB(t, u, c), openTestDB(t, u, c)}
			// Create the lock tables first: concurrent CREATE TABLE IF NOT
			// EXISTS is not atomic on PostgreSQL.
			_, err := dbs[0].MigrationStatus(t.Context())
			require.NoError(t, err)

			var (
				wg    sync.WaitGroup
				mu    sync.Mutex
				total []string
			)
			for _, db := range dbs {
				wg.Go(func() {
					names, err := db.MigrateUp(t.Context())
					// Not require: this is not the test's goroutine.
					if !assert.NoError(t, err) {
						return
					}
					mu.Lock()
					total = append(total, names...)
					mu.Unlock()
				})
			}
			wg.Wait()
			require.Equal(t, []string{"000001_init", "000002_grants_sealed_tokens"}, total, "exactly one process applies the migration")
		})
	}
}

func TestMigrateInTx(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, db *DB) {
		err := db.RunInTx(t.Context(), func(ctx context.Context, tx *DB) error {
			_, err := tx.MigrateUp(ctx)
			return err
		})
		require.ErrorContains(t, err, "inside a transaction")
	})
}
