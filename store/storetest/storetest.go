// Package storetest gives tests a database of their own: a fresh
// PostgreSQL database per test, dropped when the test ends.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/uptrace/bun/driver/pgdriver"
)

// DefaultServerURL is the PostgreSQL server used when
// HERALD_TEST_DATABASE_URL is not set.
const DefaultServerURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// PostgresURL creates a database named prefix_<random> on the server of
// HERALD_TEST_DATABASE_URL and returns its URL; it is dropped, with any
// connections left open, when the test ends. An unreachable server fails
// the test when CI is set (CI must not pass by skipping) and skips it
// elsewhere.
func PostgresURL(t testing.TB, prefix string) string {
	t.Helper()
	serverURL := PostgresURLOfServer()
	server := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(serverURL)))
	t.Cleanup(func() { _ = server.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := server.PingContext(ctx); err != nil {
		msg := fmt.Sprintf("PostgreSQL is not reachable (set HERALD_TEST_DATABASE_URL): %v", err)
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	buf := make([]byte, 6)
	if _, err := rand.Read(buf); err != nil {
		t.Fatal(err)
	}
	name := prefix + "_" + hex.EncodeToString(buf)
	if _, err := server.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		// The test's own context is done by now.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := server.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})
	u, err := url.Parse(serverURL)
	if err != nil {
		t.Fatalf("HERALD_TEST_DATABASE_URL: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// PostgresURLOfServer is the URL of the server test databases are made on.
func PostgresURLOfServer() string {
	if u := os.Getenv("HERALD_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultServerURL
}
