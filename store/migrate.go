package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/uptrace/bun/migrate"
	"go.uber.org/zap"
)

//go:embed migrations/postgres/*.sql migrations/sqlite/*.sql
var migrationFiles embed.FS

// How long MigrateUp and MigrateDown wait for another process's migration
// lock before giving up.
const (
	migrationLockWait     = 30 * time.Second
	migrationLockInterval = 250 * time.Millisecond
)

// MigrationState is one known migration and whether it is applied.
type MigrationState struct {
	// Name is the migration's file name stem, such as "000001_init".
	Name    string
	Applied bool
	// GroupID is the batch the migration was applied in; 0 if not applied.
	GroupID int64
}

func (db *DB) migrator() (*migrate.Migrator, error) {
	sub, err := fs.Sub(migrationFiles, "migrations/"+db.dialect)
	if err != nil {
		return nil, fmt.Errorf("load %s migrations: %w", db.dialect, err)
	}
	ms := migrate.NewMigrations()
	if err := ms.Discover(sub); err != nil {
		return nil, fmt.Errorf("load %s migrations: %w", db.dialect, err)
	}
	// Marking after success keeps a failed migration unapplied, so fixing
	// it and running again works.
	return migrate.NewMigrator(db.bun, ms, migrate.WithMarkAppliedOnSuccess(true)), nil
}

// MigrateUp applies every pending migration as one group and returns the
// names applied; none when the schema is current.
func (db *DB) MigrateUp(ctx context.Context) ([]string, error) {
	var names []string
	err := db.withMigrationLock(ctx, "migrate up", func(m *migrate.Migrator) error {
		group, err := m.Migrate(ctx)
		if group != nil {
			names = migrationNames(group.Migrations)
		}
		if err != nil {
			return err
		}
		if len(names) > 0 {
			db.log.Info("database migrated", zap.String("dialect", db.dialect), zap.Strings("applied", names))
		}
		return nil
	})
	return names, err
}

// MigrateDown rolls back the last applied group and returns the names
// rolled back, newest first; none when nothing is applied.
func (db *DB) MigrateDown(ctx context.Context) ([]string, error) {
	var names []string
	err := db.withMigrationLock(ctx, "migrate down", func(m *migrate.Migrator) error {
		group, err := m.Rollback(ctx)
		if err != nil {
			return err
		}
		ms := group.Migrations
		for i := len(ms) - 1; i >= 0; i-- {
			names = append(names, ms[i].String())
		}
		if len(names) > 0 {
			db.log.Info("database migrations rolled back", zap.String("dialect", db.dialect), zap.Strings("rolled_back", names))
		}
		return nil
	})
	return names, err
}

// MigrationStatus lists every known migration, oldest first.
func (db *DB) MigrationStatus(ctx context.Context) ([]MigrationState, error) {
	m, err := db.migrator()
	if err != nil {
		return nil, err
	}
	if err := m.Init(ctx); err != nil {
		return nil, fmt.Errorf("migration status: create migration tables: %w", err)
	}
	ms, err := m.MigrationsWithStatus(ctx)
	if err != nil {
		return nil, fmt.Errorf("migration status: %w", err)
	}
	out := make([]MigrationState, 0, len(ms))
	for _, mg := range ms {
		out = append(out, MigrationState{Name: mg.String(), Applied: mg.IsApplied(), GroupID: mg.GroupID})
	}
	return out, nil
}

// withMigrationLock runs fn holding bun migrate's lock, waiting a while for
// another process that holds it.
func (db *DB) withMigrationLock(ctx context.Context, what string, fn func(*migrate.Migrator) error) (err error) {
	if db.inTx() {
		return fmt.Errorf("%s: cannot migrate inside a transaction", what)
	}
	m, err := db.migrator()
	if err != nil {
		return err
	}
	if err := m.Init(ctx); err != nil {
		return fmt.Errorf("%s: create migration tables: %w", what, err)
	}
	if err := lockMigrations(ctx, m); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer func() {
		// A fresh context: the lock must be released even when ctx is done.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if uerr := m.Unlock(uctx); uerr != nil {
			err = errors.Join(err, fmt.Errorf("%s: release migration lock: %w", what, uerr))
		}
	}()
	if err := fn(m); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// lockMigrations takes the lock, retrying while another process holds it.
// The lock is a row, so one left behind by a crashed process must be
// removed by hand; the error says where.
func lockMigrations(ctx context.Context, m *migrate.Migrator) error {
	deadline := time.Now().Add(migrationLockWait)
	for {
		err := m.Lock(ctx)
		if err == nil {
			return nil
		}
		if !isUniqueViolation(err) {
			return fmt.Errorf("take migration lock: %w", err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("take migration lock: still held after %s; if no migration is running, delete the row in bun_migration_locks: %w", migrationLockWait, err)
		}
		t := time.NewTimer(migrationLockInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("take migration lock: %w", ctx.Err())
		case <-t.C:
		}
	}
}

func migrationNames(ms migrate.MigrationSlice) []string {
	names := make([]string, 0, len(ms))
	for _, m := range ms {
		names = append(names, m.String())
	}
	return names
}
