package devtemporal

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/uptrace/bun/driver/pgdriver"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/persistence/sql/sqlplugin/postgresql"
	"go.temporal.io/server/tools/common/schema"
	sqltool "go.temporal.io/server/tools/sql"
)

const (
	// VisibilitySuffix is appended to the name of the main PostgreSQL
	// database to name the visibility database.
	VisibilitySuffix = "_visibility"
	// maintenanceDB is the database connected to when one of the server's
	// databases has to be created.
	maintenanceDB = "postgres"
	// postgresMaxConns bounds each of the server's two connection pools.
	postgresMaxConns = 20
	// dbSetupTimeout bounds the creation checks of one database.
	dbSetupTimeout = 30 * time.Second
	// Names of the server's embedded schemas, as `temporal-sql-tool
	// update-schema --schema-name` takes them.
	mainSchema       = "postgresql/v12/temporal"
	visibilitySchema = "postgresql/v12/visibility"
	// undefinedDatabase is PostgreSQL's SQLSTATE for connecting to a database
	// that does not exist.
	undefinedDatabase = "3D000"
)

// parsePostgresURL checks a postgres:// or postgresql:// URL naming a
// database.
func parsePostgresURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("devtemporal: database URL does not parse")
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return nil, fmt.Errorf("devtemporal: database URL scheme %q is not postgres or postgresql", u.Scheme)
	}
	if u.Host == "" {
		return nil, errors.New("devtemporal: database URL has no host")
	}
	name := strings.Trim(u.Path, "/")
	if name == "" || strings.Contains(name, "/") {
		return nil, errors.New("devtemporal: database URL must name exactly one database, as in postgres://host:5432/temporal")
	}
	return u, nil
}

// postgresConfig is the server's SQL configuration for database name on the
// server of u; the URL's query parameters (sslmode and the like) become
// connect attributes.
func postgresConfig(u *url.URL, name string) *config.SQL {
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "5432")
	}
	password, _ := u.User.Password()
	attrs := make(map[string]string)
	for k, v := range u.Query() {
		attrs[k] = v[len(v)-1]
	}
	return &config.SQL{
		PluginName:        postgresql.PluginName,
		DatabaseName:      name,
		ConnectAddr:       addr,
		ConnectProtocol:   "tcp",
		User:              u.User.Username(),
		Password:          password,
		ConnectAttributes: attrs,
		MaxConns:          postgresMaxConns,
		MaxIdleConns:      postgresMaxConns,
		MaxConnLifetime:   time.Hour,
	}
}

// preparePostgres creates the main and the visibility database if missing
// and brings both schemas to the server's version, as `temporal-sql-tool
// setup-schema -v 0.0` followed by `update-schema` would. Every step is a
// no-op on databases already up to date.
func preparePostgres(ctx context.Context, u *url.URL, logger log.Logger) (main, visibility *config.SQL, err error) {
	name := strings.Trim(u.Path, "/")
	main = postgresConfig(u, name)
	visibility = postgresConfig(u, name+VisibilitySuffix)
	for _, db := range []struct {
		conf   *config.SQL
		schema string
	}{{main, mainSchema}, {visibility, visibilitySchema}} {
		if err := ensureDatabase(ctx, u, db.conf.DatabaseName); err != nil {
			return nil, nil, err
		}
		if err := migrateSchema(db.conf, db.schema, logger); err != nil {
			return nil, nil, err
		}
	}
	return main, visibility, nil
}

// ensureDatabase creates database name on the server of u unless it can
// already be connected to. The maintenance database is only used when the
// database is missing, so a role without CREATEDB works on databases created
// beforehand.
func ensureDatabase(ctx context.Context, u *url.URL, name string) error {
	ctx, cancel := context.WithTimeout(ctx, dbSetupTimeout)
	defer cancel()
	err := ping(ctx, withDatabase(u, name))
	var pgErr pgdriver.Error
	switch {
	case err == nil:
		return nil
	case !errors.As(err, &pgErr) || pgErr.Field('C') != undefinedDatabase:
		return fmt.Errorf("devtemporal: connect to database %s: %w", name, err)
	}
	db := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(withDatabase(u, maintenanceDB))))
	defer func() { _ = db.Close() }()
	_, err = db.ExecContext(ctx, "CREATE DATABASE "+quoteIdent(name))
	if err != nil && (!errors.As(err, &pgErr) || pgErr.Field('C') != "42P04") {
		// 42P04 (duplicate_database) means another process won the race.
		return fmt.Errorf("devtemporal: create database %s through database %s: %w", name, maintenanceDB, err)
	}
	return nil
}

func ping(ctx context.Context, dsn string) error {
	db := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(dsn)))
	defer func() { _ = db.Close() }()
	return db.PingContext(ctx)
}

func withDatabase(u *url.URL, name string) string {
	c := *u
	c.Path = "/" + name
	c.RawPath = ""
	return c.String()
}

func quoteIdent(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// migrateSchema runs the server's schema tooling on the database of conf:
// the setup step only creates the version tables (and records version 0.0 on
// an empty database), the update step applies every versioned change newer
// than the recorded version.
func migrateSchema(conf *config.SQL, schemaName string, logger log.Logger) error {
	conn, err := sqltool.NewConnection(conf, logger)
	if err != nil {
		return fmt.Errorf("devtemporal: connect to database %s: %w", conf.DatabaseName, err)
	}
	defer conn.Close()
	setup := schema.NewSetupSchemaTask(conn, &schema.SetupConfig{InitialVersion: "0.0"}, logger)
	if err := setup.Run(); err != nil {
		return fmt.Errorf("devtemporal: set up schema version tables in database %s: %w", conf.DatabaseName, err)
	}
	update := schema.NewUpdateSchemaTask(conn, &schema.UpdateConfig{DBName: conf.DatabaseName, SchemaName: schemaName}, logger)
	if err := update.Run(); err != nil {
		return fmt.Errorf("devtemporal: update schema %s in database %s: %w", schemaName, conf.DatabaseName, err)
	}
	return nil
}
