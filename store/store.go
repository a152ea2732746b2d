package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/driver/pgdriver"
	"go.uber.org/zap"

	// The embedded database; registers the "sqlite" database/sql driver.
	_ "modernc.org/sqlite"
)

// Dialect names returned by DB.Dialect.
const (
	DialectPostgres = "postgres"
	DialectSQLite   = "sqlite"
)

// sqliteBusyTimeout is how long a SQLite connection waits for another
// process (such as a "herald migrate" run) to release its write lock.
const sqliteBusyTimeout = 10 * time.Second

// Options configures Open.
type Options struct {
	// URL selects the database: "postgres://..." or "postgresql://..." for
	// PostgreSQL; "sqlite:///abs/path.db", "sqlite://relative.db" or
	// "sqlite::memory:" for the embedded SQLite store.
	URL string
	// Cipher seals app secrets, provider configs and personal data at
	// rest. It may be nil for work that never touches them (migrations):
	// calls on secrets then fail with ErrNoCipher, personal data is written
	// in clear text and sealed personal data cannot be read.
	Cipher *Cipher
	// Logger may be nil.
	Logger *zap.Logger
	// ReceiverKeys keys the receiver of every message stored
	// (Message.ReceiverKey), so it can be found although the receiver is
	// sealed. When nil, receiver keys are derived from the Cipher's master
	// key (NewReceiverKeyer), and without a Cipher there are none.
	ReceiverKeys *ReceiverKeyer
}

// DB is Herald's data store. A DB obtained from RunInTx runs every query in
// that transaction; otherwise each query runs on its own.
type DB struct {
	bun     *bun.DB
	idb     bun.IDB
	dialect string
	cipher  *Cipher
	log     *zap.Logger
	now     func() time.Time
	keys    *ReceiverKeyer
}

// Open connects to the database named by opts.URL and checks that it
// answers. It does not migrate; call MigrateUp for that.
func Open(ctx context.Context, opts Options) (*DB, error) {
	log := opts.Logger
	if log == nil {
		log = zap.NewNop()
	}
	var (
		bdb     *bun.DB
		dialect string
		err     error
	)
	switch {
	case strings.HasPrefix(opts.URL, "postgres://"), strings.HasPrefix(opts.URL, "postgresql://"):
		dialect = DialectPostgres
		bdb = openPostgres(opts.URL)
	case strings.HasPrefix(opts.URL, "sqlite:"):
		dialect = DialectSQLite
		bdb, err = openSQLite(opts.URL)
		if err != nil {
			return nil, err
		}
	case opts.URL == "":
		return nil, errors.New("open store: database URL is empty")
	default:
		return nil, fmt.Errorf("open store: unsupported database URL scheme %q (want postgres://, postgresql:// or sqlite:)", urlScheme(opts.URL))
	}
	keys := opts.ReceiverKeys
	if keys == nil && opts.Cipher != nil {
		keys = &ReceiverKeyer{key: opts.Cipher.keys[0].receivers}
	}
	db := &DB{bun: bdb, idb: bdb, dialect: dialect, cipher: opts.Cipher, log: log, now: time.Now, keys: keys}
	if err := db.Ping(ctx); err != nil {
		_ = bdb.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	return db, nil
}

// urlScheme returns the scheme of a database URL for error messages
// without echoing the rest, which may hold a password.
func urlScheme(raw string) string {
	if i := strings.Index(raw, ":"); i > 0 {
		return raw[:i]
	}
	return "none"
}

// postgresMaxOpenConns bounds one process's PostgreSQL connections.
const postgresMaxOpenConns = 20

func openPostgres(dsn string) *bun.DB {
	sqldb := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(dsn)))
	// PostgreSQL's connections are shared by every Herald process (100 by
	// default); an unbounded pool lets one busy worker take them all and
	// the others then fail with "too many clients". Bounded, a burst waits
	// for a connection instead.
	sqldb.SetMaxOpenConns(postgresMaxOpenConns)
	sqldb.SetMaxIdleConns(postgresMaxOpenConns)
	return bun.NewDB(sqldb, pgdialect.New())
}

// openSQLite opens the embedded store. SQLite allows one writer at a time;
// one shared connection serializes every statement in this process, so
// concurrent writers queue in database/sql instead of failing with
// "database is locked". WAL keeps readers in other processes unblocked and
// busy_timeout covers writers in other processes.
func openSQLite(rawURL string) (*bun.DB, error) {
	path, err := sqlitePath(rawURL)
	if err != nil {
		return nil, err
	}
	params := url.Values{}
	params.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", sqliteBusyTimeout.Milliseconds()))
	params.Add("_pragma", "foreign_keys(1)")
	// BEGIN IMMEDIATE takes the write lock up front, so a transaction never
	// fails half way when upgrading from a read lock.
	params.Set("_txlock", "immediate")
	if path != ":memory:" {
		if dir := filepath.Dir(path); dir != "" {
			if err := os.MkdirAll(dir, 0o750); err != nil {
				return nil, fmt.Errorf("open store: create directory for sqlite database: %w", err)
			}
		}
		params.Add("_pragma", "journal_mode(WAL)")
		params.Add("_pragma", "synchronous(NORMAL)")
	}
	sqldb, err := sql.Open("sqlite", path+"?"+params.Encode())
	if err != nil {
		return nil, fmt.Errorf("open store: open sqlite: %w", err)
	}
	sqldb.SetMaxOpenConns(1)
	// Keep the one connection forever: an in-memory database lives only as
	// long as its connection.
	sqldb.SetMaxIdleConns(1)
	sqldb.SetConnMaxLifetime(0)
	sqldb.SetConnMaxIdleTime(0)
	return bun.NewDB(sqldb, sqlitedialect.New()), nil
}

// sqlitePath turns a sqlite: URL into a file path for the driver.
func sqlitePath(rawURL string) (string, error) {
	rest := strings.TrimPrefix(rawURL, "sqlite:")
	if rest == ":memory:" {
		return ":memory:", nil
	}
	if !strings.HasPrefix(rest, "//") {
		return "", fmt.Errorf("open store: sqlite URL %q: want sqlite:///abs/path.db, sqlite://relative.db or sqlite::memory:", rawURL)
	}
	path := strings.TrimPrefix(rest, "//")
	if path == "" || path == "/" {
		return "", fmt.Errorf("open store: sqlite URL %q has no file path", rawURL)
	}
	// The driver reads "?" as the start of its own parameters.
	if strings.ContainsAny(path, "?#") {
		return "", fmt.Errorf("open store: sqlite URL %q: query parameters and fragments are not supported", rawURL)
	}
	return filepath.Clean(path), nil
}

// Close closes the database. Calling it on a transaction-bound DB is a
// mistake and returns an error.
func (db *DB) Close() error {
	if db.inTx() {
		return errors.New("close store: DB is bound to a transaction")
	}
	if err := db.bun.Close(); err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	return nil
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	var one int
	if err := db.idb.NewSelect().ColumnExpr("1").Scan(ctx, &one); err != nil {
		return fmt.Errorf("ping %s database: %w", db.dialect, err)
	}
	return nil
}

// DeploymentID returns the store's random identity, made when it was
// created: Redis keys named after the store's own ids carry it, so
// stores sharing a Redis database keep apart.
func (db *DB) DeploymentID(ctx context.Context) (string, error) {
	var id string
	if err := db.idb.NewSelect().Table("deployment").Column("id").Limit(1).Scan(ctx, &id); err != nil {
		return "", fmt.Errorf("read deployment id: %w", mapErr(err))
	}
	return id, nil
}

// Bun returns the underlying bun database (not the transaction, for a
// transaction-bound DB).
func (db *DB) Bun() *bun.DB { return db.bun }

// KeyID returns the id of the master key the store seals personal data
// under, as sealed values name it; "" without a Cipher.
func (db *DB) KeyID() string { return db.cipher.KeyID() }

// Dialect returns "postgres" or "sqlite".
func (db *DB) Dialect() string { return db.dialect }

// RunInTx runs fn in a transaction and commits it when fn returns nil; it
// rolls back when fn returns an error or panics. fn must use the tx it is
// given: on SQLite the store has a single connection, so a query through
// the outer DB inside fn would wait for the transaction forever. Called on
// a DB that is already in a transaction, RunInTx runs fn in that same
// transaction.
func (db *DB) RunInTx(ctx context.Context, fn func(ctx context.Context, tx *DB) error) error {
	if db.inTx() {
		return fn(ctx, db)
	}
	return db.bun.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		return fn(ctx, db.withIDB(tx))
	})
}

func (db *DB) inTx() bool {
	_, ok := db.idb.(bun.Tx)
	return ok
}

func (db *DB) withIDB(idb bun.IDB) *DB {
	c := *db
	c.idb = idb
	return &c
}

// timestamp returns the current time as stored: UTC, at the microsecond
// precision both databases keep, so a written struct equals its read-back.
func (db *DB) timestamp() time.Time { return normTime(db.now()) }

func normTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func normTimePtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	n := normTime(*t)
	return &n
}
