package store

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/uptrace/bun/driver/pgdriver"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

var (
	// ErrNotFound is returned when the requested row does not exist, or a
	// row refers to one that does not (a foreign key).
	ErrNotFound = errors.New("store: not found")
	// ErrConflict is returned when a write would break a uniqueness rule,
	// such as a reused idempotency key or task id.
	ErrConflict = errors.New("store: conflict")
)

// mapErr translates driver errors into ErrNotFound and ErrConflict, keeping
// the driver error in the chain for logs. Other errors pass unchanged.
func mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrNoRows):
		return ErrNotFound
	case isUniqueViolation(err):
		return fmt.Errorf("%w (%w)", ErrConflict, err)
	case isForeignKeyViolation(err):
		return fmt.Errorf("%w: a referenced row does not exist (%w)", ErrNotFound, err)
	}
	return err
}

func isUniqueViolation(err error) bool {
	var pgErr pgdriver.Error
	if errors.As(err, &pgErr) {
		return pgErr.Field('C') == "23505"
	}
	var liteErr *sqlite.Error
	if errors.As(err, &liteErr) {
		code := liteErr.Code()
		return code == sqlite3.SQLITE_CONSTRAINT_UNIQUE || code == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

func isForeignKeyViolation(err error) bool {
	var pgErr pgdriver.Error
	if errors.As(err, &pgErr) {
		return pgErr.Field('C') == "23503"
	}
	var liteErr *sqlite.Error
	if errors.As(err, &liteErr) {
		return liteErr.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
	}
	return false
}

// IsUnavailable reports whether err says the database could not be reached
// or cannot serve right now (connection refused, reset or lost, server
// shutting down or out of connections, SQLite busy), as opposed to a
// database that answered with an error. Callers answer the first kind as
// an outage worth retrying.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	var netErr net.Error
	if errors.As(err, &netErr) ||
		errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	var pgErr pgdriver.Error
	if errors.As(err, &pgErr) {
		code := pgErr.Field('C')
		// Class 08: connection exception; 57P01-57P03: the server is
		// shutting down or starting; 53300: too many connections.
		return strings.HasPrefix(code, "08") || code == "57P01" || code == "57P02" || code == "57P03" || code == "53300"
	}
	var liteErr *sqlite.Error
	if errors.As(err, &liteErr) {
		primary := liteErr.Code() & 0xff
		return primary == sqlite3.SQLITE_BUSY || primary == sqlite3.SQLITE_LOCKED
	}
	return false
}

// IsDatabaseError reports whether err came from a database driver.
func IsDatabaseError(err error) bool {
	var pgErr pgdriver.Error
	var liteErr *sqlite.Error
	return errors.As(err, &pgErr) || errors.As(err, &liteErr) || errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone)
}

// ErrStale is returned by an update that names the version it expects
// (IfVersion) when the row has moved on: someone else changed it since it
// was read. It wraps ErrConflict: both answer 409.
var ErrStale = fmt.Errorf("%w: stale version, the object was changed since it was read", ErrConflict)
