// Package devtemporal runs a complete Temporal server (frontend, history,
// matching and worker services) and the Temporal Web UI inside the current
// process, backed by SQLite or, with Options.DatabaseURL, by PostgreSQL. It is
// what `herald dev` and the integration tests use instead of an external
// Temporal cluster.
//
// The server is meant for development only: SQLite is not a supported
// production store for Temporal, every service shares one history shard
// (PostgreSQL included), and HTTP security checks of a production deployment
// are not applied.
//
// Usage:
//
//	srv, err := devtemporal.Start(ctx, devtemporal.Options{
//		DataDir:      "/var/lib/herald/temporal", // "" keeps everything in memory
//		FrontendPort: devtemporal.DefaultFrontendPort,
//		UIPort:       devtemporal.DefaultUIPort,
//		SearchAttributes: map[string]enumspb.IndexedValueType{
//			"HeraldApp": enumspb.INDEXED_VALUE_TYPE_KEYWORD,
//		},
//		Logger: logger,
//	})
//	if err != nil {
//		return fmt.Errorf("start dev temporal: %w", err)
//	}
//	defer srv.Stop()
//	c, err := client.Dial(client.Options{HostPort: srv.FrontendAddress(), Namespace: srv.Namespace()})
package devtemporal
