package devtemporal_test

import (
	"context"
	"database/sql"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun/driver/pgdriver"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	pgschema "go.temporal.io/server/schema/postgresql/v12"

	"github.com/heraldhq/herald/internal/devtemporal"
	"github.com/heraldhq/herald/store/storetest"
)

// postgresTemporalURL returns the URL of a fresh database for the server's
// main data; the visibility database the server creates beside it is
// dropped at cleanup too.
func postgresTemporalURL(t *testing.T) string {
	t.Helper()
	if os.Getenv("HERALD_TEST_DATABASE_URL") == "" && os.Getenv("CI") != "true" {
		t.Skip("HERALD_TEST_DATABASE_URL is not set: set it to a PostgreSQL server URL to run the embedded server on PostgreSQL")
	}
	raw := storetest.PostgresURL(t, "devtemporal")
	u, err := url.Parse(raw)
	require.NoError(t, err)
	visibility := strings.Trim(u.Path, "/") + devtemporal.VisibilitySuffix
	server := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(storetest.PostgresURLOfServer())))
	t.Cleanup(func() {
		defer server.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := server.ExecContext(ctx, `DROP DATABASE IF EXISTS "`+visibility+`" WITH (FORCE)`); err != nil {
			t.Errorf("drop visibility database %s: %v", visibility, err)
		}
	})
	return raw
}

func TestStartPostgres(t *testing.T) {
	t.Parallel()
	dbURL := postgresTemporalURL(t)
	appKey := temporal.NewSearchAttributeKeyKeyword("HeraldApp")
	attrs := map[string]enumspb.IndexedValueType{"HeraldApp": keyword, "HeraldStatus": keyword}

	// The subtests run in order: the second reopens the databases of the
	// first, so setup must find the schema in place and leave it alone.
	t.Run("FreshDatabases", func(t *testing.T) {
		srv := start(t, devtemporal.Options{DatabaseURL: dbURL, UIPort: -1, SearchAttributes: attrs, Logger: testLogger()})
		c := dial(t, srv)
		runGreet(t, c, "wf-pg-first", appKey.ValueSet("app-1"))
		requireListed(t, c, `HeraldApp = "app-1"`, "wf-pg-first")
		require.Equal(t, attrs, customAttributes(t, c, srv.Namespace()))
		requireRetention(t, c, srv.Namespace(), devtemporal.DefaultRetention)
		require.NoError(t, srv.Stop())
		requireSchemaVersion(t, dbURL, "", pgschema.Version)
		requireSchemaVersion(t, dbURL, devtemporal.VisibilitySuffix, pgschema.VisibilityVersion)
	})

	t.Run("ReopenDatabases", func(t *testing.T) {
		srv := start(t, devtemporal.Options{DatabaseURL: dbURL, UIPort: -1, SearchAttributes: attrs, Logger: testLogger()})
		c := dial(t, srv)
		runGreet(t, c, "wf-pg-second", appKey.ValueSet("app-1"))
		requireListed(t, c, `HeraldApp = "app-1"`, "wf-pg-first", "wf-pg-second")

		// The first workflow's history survived the restart.
		iter := c.GetWorkflowHistory(t.Context(), "wf-pg-first", "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		var events []enumspb.EventType
		for iter.HasNext() {
			e, err := iter.Next()
			require.NoError(t, err)
			events = append(events, e.GetEventType())
		}
		require.NotEmpty(t, events)
		require.Equal(t, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, events[0])
		require.Equal(t, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED, events[len(events)-1])
	})
}

// requireSchemaVersion checks the schema version the server's tooling
// recorded in the database of dbURL, its name extended by suffix.
func requireSchemaVersion(t *testing.T, dbURL, suffix, want string) {
	t.Helper()
	u, err := url.Parse(dbURL)
	require.NoError(t, err)
	u.Path += suffix
	db := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(u.String())))
	defer db.Close()
	var got string
	require.NoError(t, db.QueryRowContext(t.Context(), "SELECT curr_version FROM schema_version").Scan(&got))
	require.Equal(t, want, got, "schema version of %s", u.Path)
}

func TestStartPostgresOptions(t *testing.T) {
	t.Parallel()
	for name, opts := range map[string]devtemporal.Options{
		"NotPostgres": {DatabaseURL: "mysql://db.example.com/temporal"},
		"NoDatabase":  {DatabaseURL: "postgres://db.example.com"},
		"WithDataDir": {DatabaseURL: "postgres://db.example.com/temporal", DataDir: t.TempDir()},
		"Unparseable": {DatabaseURL: "postgres://%zz/temporal"},
		"NestedPath":  {DatabaseURL: "postgres://db.example.com/a/b"},
	} {
		_, err := devtemporal.Start(t.Context(), opts)
		require.Error(t, err, name)
	}
}
