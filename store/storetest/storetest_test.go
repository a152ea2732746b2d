package storetest

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"github.com/uptrace/bun/driver/pgdriver"
)

func TestPostgresURL(t *testing.T) {
	var name string
	t.Run("Create", func(t *testing.T) {
		rawURL := PostgresURL(t, "herald_storetest")
		name = rawURL[strings.LastIndex(rawURL, "/")+1:]
		if i := strings.IndexByte(name, '?'); i >= 0 {
			name = name[:i]
		}
		db := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(rawURL)))
		defer db.Close()
		if _, err := db.ExecContext(context.Background(), "CREATE TABLE t (x INT)"); err != nil {
			t.Fatalf("the new database is not usable: %v", err)
		}
	})
	if !strings.HasPrefix(name, "herald_storetest_") {
		t.Fatalf("database name %q lacks its prefix", name)
	}
	// The subtest's cleanup dropped the database.
	server := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(PostgresURLOfServer())))
	defer server.Close()
	var n int
	if err := server.QueryRowContext(context.Background(), "SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("database %s survived its test", name)
	}
}
