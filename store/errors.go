package store

import (
	"database/sql"
	"errors"
	"fmt"

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
