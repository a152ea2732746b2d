package devtemporal

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/membership/static"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/primitives"
	sqliteschema "go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"
	"go.uber.org/zap"
	"google.golang.org/protobuf/types/known/durationpb"

	uiserver "github.com/temporalio/ui-server/v2/server"
)

// Defaults for Options. The ports are those of `temporal server start-dev`,
// so tools pointed at a local Temporal find this one too.
const (
	DefaultIP           = "127.0.0.1"
	DefaultFrontendPort = 7233
	DefaultUIPort       = 8233
	DefaultNamespace    = "default"
	DefaultRetention    = 7 * 24 * time.Hour
	// MinRetention is the shortest retention Options accepts; Temporal itself
	// rejects less than a day.
	MinRetention = 24 * time.Hour
	// DBFileName is the SQLite file created in Options.DataDir.
	DBFileName = "temporal.db"
)

const (
	clusterName = "active"
	// fileMaxConns is the SQLite connection pool size in file mode. More than
	// one connection would need WAL, and even with WAL it does not pay off:
	// the server's persistence layer reads before it writes inside deferred
	// transactions, so a second connection turns contention into
	// SQLITE_BUSY_SNAPSHOT ("database is locked (517)") errors, which
	// busy_timeout cannot absorb and the server has to retry. Running 1000
	// one-activity workflows on two cores took 27s and no such errors with
	// one connection, 36-44s and about 180 of them with four.
	fileMaxConns = 1
	// busyTimeoutMillis makes a connection wait for the writer lock instead
	// of failing at once with "database is locked".
	busyTimeoutMillis = "5000"
)

// Options configures Start. The zero value is valid: an in-memory server on
// 127.0.0.1 with the frontend and the UI on free ports.
type Options struct {
	// DataDir is the directory holding the SQLite file (DBFileName); it is
	// created if missing. Only one server may use a DataDir at a time. Empty
	// keeps all data in memory: it is gone after Stop, though the memory is
	// only released when the process exits (Temporal's SQLite plugin never
	// closes its connections).
	DataDir string
	// DatabaseURL, a postgres:// or postgresql:// URL naming a database,
	// keeps the data in PostgreSQL instead of SQLite: the main data in that
	// database and visibility in one named like it plus VisibilitySuffix.
	// Both are created if missing and their schemas set up or updated to
	// the server's version on every start. It excludes DataDir. Several
	// servers must not share these databases at the same time.
	DatabaseURL string
	// IP is the address the frontend and the UI listen on. Default DefaultIP.
	// The internal services always listen on loopback.
	IP string
	// FrontendPort is the gRPC port of the frontend. 0 picks a free port
	// (read it back with FrontendAddress), as tests want; pass
	// DefaultFrontendPort for the usual one.
	FrontendPort int
	// UIPort is the port of the Web UI. 0 picks a free port, a negative value
	// disables the UI; pass DefaultUIPort for the usual one.
	UIPort int
	// Namespace is created on first start. Default DefaultNamespace.
	Namespace string
	// Retention is how long closed workflows are kept; at least MinRetention.
	// Default DefaultRetention. A namespace kept for less is raised to it on
	// every start; a longer retention set elsewhere is left alone.
	Retention time.Duration
	// SearchAttributes are custom search attributes of Namespace. They are
	// registered when the database is created and added on every later start
	// if missing, so new ones can be introduced on an existing database. A
	// name already registered with another type is an error.
	SearchAttributes map[string]enumspb.IndexedValueType
	// CodecEndpoint is the URL of a codec server (one answering POST
	// <endpoint>/decode and /encode) the Web UI asks, from the browser and
	// with the browser's cookies for it, to decode payloads for display.
	// Empty shows payloads as they are stored.
	CodecEndpoint string
	// Logger receives the server's logs at warn level and above. Nil
	// discards them.
	Logger *zap.Logger
}

// Server is a running in-process Temporal server and, unless disabled, its
// Web UI.
type Server struct {
	srv          temporal.Server
	ui           *uiserver.Server
	uiDone       chan error
	frontendAddr string
	uiAddr       string
	namespace    string

	stopOnce sync.Once
	stopErr  error
}

// FrontendAddress returns the host:port SDK clients dial.
func (s *Server) FrontendAddress() string { return s.frontendAddr }

// UIAddress returns the base URL of the Web UI, such as
// "http://127.0.0.1:8233", or "" when the UI is disabled.
func (s *Server) UIAddress() string { return s.uiAddr }

// Namespace returns the namespace the server was started with.
func (s *Server) Namespace() string { return s.namespace }

// Stop stops the UI and then the server. It is safe to call more than once;
// later calls return the first result.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		s.stopErr = s.stop()
	})
	return s.stopErr
}

func (s *Server) stop() error {
	var errs []error
	if s.ui != nil {
		s.ui.Stop()
		if err := <-s.uiDone; err != nil {
			errs = append(errs, fmt.Errorf("devtemporal: run UI: %w", err))
		}
	}
	if err := recoverFatal(s.srv.Stop); err != nil {
		errs = append(errs, fmt.Errorf("devtemporal: stop temporal server: %w", err))
	}
	return errors.Join(errs...)
}

// settings are Options with defaults applied and every port decided.
type settings struct {
	Options
	dialHost     string // where clients reach IP (loopback for a wildcard IP)
	frontendHTTP int
	history      int
	matching     int
	worker       int
	dbPath       string   // "" in memory mode
	pgURL        *url.URL // nil unless DatabaseURL is set
}

// Start boots the server and returns once the frontend answers and the
// namespace is ready with its retention and search attributes, and the UI (if
// enabled) serves requests. ctx bounds the wait; on any failure everything
// started so far is stopped again. Start never exits the process: fatal
// errors of the server are returned.
func Start(ctx context.Context, opts Options) (*Server, error) {
	st, err := newSettings(opts)
	if err != nil {
		return nil, err
	}
	logger := serverLogger(st.Logger)

	persistence, err := prepareDatabase(ctx, st, logger)
	if err != nil {
		return nil, err
	}
	srv, err := newTemporalServer(st, persistence, logger)
	if err != nil {
		return nil, err
	}
	if err := recoverFatal(srv.Start); err != nil {
		// Stop whatever services did come up; the start error is what matters.
		_ = recoverFatal(srv.Stop)
		return nil, fmt.Errorf("devtemporal: start temporal server: %w", err)
	}
	s := &Server{
		srv:          srv,
		frontendAddr: net.JoinHostPort(st.dialHost, strconv.Itoa(st.FrontendPort)),
		namespace:    st.Namespace,
	}
	if err := prepareNamespace(ctx, st, s.frontendAddr, logger); err != nil {
		return nil, errors.Join(err, s.Stop())
	}
	if st.UIPort >= 0 {
		if err := s.startUI(ctx, st); err != nil {
			return nil, errors.Join(err, s.Stop())
		}
	}
	return s, nil
}

// newSettings validates opts, fills in defaults and picks the ports.
func newSettings(opts Options) (*settings, error) {
	st := &settings{Options: opts}
	if st.IP == "" || st.IP == "localhost" {
		// The server wants an IP, not a host name.
		st.IP = DefaultIP
	}
	ip := net.ParseIP(st.IP)
	if ip == nil {
		return nil, fmt.Errorf("devtemporal: IP %q is not an IP address", st.IP)
	}
	st.dialHost = st.IP
	if ip.IsUnspecified() {
		st.dialHost = loopbackFor(ip)
	}
	if st.Namespace == "" {
		st.Namespace = DefaultNamespace
	}
	if st.Retention == 0 {
		st.Retention = DefaultRetention
	}
	if st.Retention < MinRetention {
		return nil, fmt.Errorf("devtemporal: retention %s is shorter than %s", st.Retention, MinRetention)
	}
	if st.CodecEndpoint != "" {
		if u, err := url.Parse(st.CodecEndpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("devtemporal: codec endpoint %q is not an absolute http(s) URL", st.CodecEndpoint)
		}
	}
	if st.FrontendPort < 0 || st.FrontendPort > 65535 {
		return nil, fmt.Errorf("devtemporal: frontend port %d is out of range", st.FrontendPort)
	}
	if st.UIPort > 65535 {
		return nil, fmt.Errorf("devtemporal: UI port %d is out of range", st.UIPort)
	}
	for name, typ := range st.SearchAttributes {
		if name == "" {
			return nil, errors.New("devtemporal: search attribute with an empty name")
		}
		if _, ok := enumspb.IndexedValueType_name[int32(typ)]; !ok || typ == enumspb.INDEXED_VALUE_TYPE_UNSPECIFIED {
			return nil, fmt.Errorf("devtemporal: search attribute %s has no valid type", name)
		}
	}
	if st.DatabaseURL != "" {
		if st.DataDir != "" {
			return nil, errors.New("devtemporal: DataDir and DatabaseURL exclude each other")
		}
		u, err := parsePostgresURL(st.DatabaseURL)
		if err != nil {
			return nil, err
		}
		st.pgURL = u
	}
	if st.DataDir != "" {
		dir, err := filepath.Abs(st.DataDir)
		if err != nil {
			return nil, fmt.Errorf("devtemporal: resolve data dir: %w", err)
		}
		st.DataDir = dir
		st.dbPath = filepath.Join(dir, DBFileName)
	}

	if err := st.pickPorts(); err != nil {
		return nil, fmt.Errorf("devtemporal: %w", err)
	}
	return st, nil
}

// pickPorts checks the ports given explicitly and picks free ones for the
// rest. The frontend HTTP API and the internal services always get free
// ports. Explicit ports stay bound while the others are picked so that none
// of them is handed out twice.
func (st *settings) pickPorts() (err error) {
	var held []net.Listener
	defer func() {
		for _, l := range held {
			err = errors.Join(err, l.Close())
		}
	}()
	ips := []string{st.IP, internalIP, internalIP, internalIP}
	if st.FrontendPort != 0 {
		l, err := holdPort("frontend", st.IP, st.FrontendPort)
		if err != nil {
			return err
		}
		held = append(held, l)
	} else {
		ips = append(ips, st.IP)
	}
	if st.UIPort > 0 {
		l, err := holdPort("UI", st.IP, st.UIPort)
		if err != nil {
			return err
		}
		held = append(held, l)
	} else if st.UIPort == 0 {
		ips = append(ips, st.IP)
	}
	ports, err := reservePorts(ips...)
	if err != nil {
		return err
	}
	st.frontendHTTP, st.history, st.matching, st.worker = ports[0], ports[1], ports[2], ports[3]
	ports = ports[4:]
	if st.FrontendPort == 0 {
		st.FrontendPort, ports = ports[0], ports[1:]
	}
	if st.UIPort == 0 {
		st.UIPort = ports[0]
	}
	return nil
}

// internalIP is where history, matching and worker listen: nothing outside
// the process needs them.
const internalIP = "127.0.0.1"

// prepareDatabase returns the persistence configuration and makes sure the
// databases have their schema and the namespace. Namespace creation only writes
// rows, so it happens before the server starts, as `temporal server
// start-dev` does; the search attributes and the retention of a namespace
// that already exists are reconciled through the API later.
func prepareDatabase(ctx context.Context, st *settings, logger log.Logger) (*config.Persistence, error) {
	persistence := &config.Persistence{NumHistoryShards: 1}
	sqlConf := &config.SQL{PluginName: sqliteplugin.PluginName}
	switch {
	case st.pgURL != nil:
		main, visibility, err := preparePostgres(ctx, st.pgURL, logger)
		if err != nil {
			return nil, err
		}
		sqlConf = main
		persistence.DefaultStore, persistence.VisibilityStore = "postgres", "postgres-visibility"
		persistence.DataStores = map[string]config.DataStore{
			persistence.DefaultStore:    {SQL: main},
			persistence.VisibilityStore: {SQL: visibility},
		}
	case st.dbPath == "":
		// A shared-cache in-memory database lives as long as a connection to
		// it is open; the plugin keeps its connections for the process
		// lifetime. The random name keeps parallel servers apart.
		sqlConf.DatabaseName = "herald-dev-" + strconv.FormatUint(rand.Uint64(), 36)
		sqlConf.ConnectAttributes = map[string]string{"mode": "memory", "cache": "shared"}
	default:
		sqlConf.DatabaseName = st.dbPath
		// Keys the plugin does not know become PRAGMAs on every connection.
		// WAL with synchronous=NORMAL syncs on checkpoints rather than on
		// every commit and stays consistent after a crash; busy_timeout
		// covers another process (say, an sqlite3 shell) holding the file.
		sqlConf.ConnectAttributes = map[string]string{
			"mode":         "rwc",
			"journal_mode": "wal",
			"synchronous":  "NORMAL",
			"busy_timeout": busyTimeoutMillis,
		}
		sqlConf.MaxConns = fileMaxConns
		sqlConf.MaxIdleConns = fileMaxConns

		if err := os.MkdirAll(st.DataDir, 0o750); err != nil {
			return nil, fmt.Errorf("devtemporal: create data dir: %w", err)
		}
		_, err := os.Stat(st.dbPath)
		switch {
		case errors.Is(err, os.ErrNotExist):
			if err := sqliteschema.SetupSchema(sqlConf); err != nil {
				return nil, fmt.Errorf("devtemporal: set up schema in %s (remove the file to retry): %w", st.dbPath, err)
			}
		case err != nil:
			return nil, fmt.Errorf("devtemporal: inspect database: %w", err)
		}
	}
	if st.pgURL == nil {
		persistence.DefaultStore, persistence.VisibilityStore = sqliteplugin.PluginName, sqliteplugin.PluginName
		persistence.DataStores = map[string]config.DataStore{sqliteplugin.PluginName: {SQL: sqlConf}}
	}

	ns, err := sqliteschema.NewNamespaceConfig(clusterName, st.Namespace, false, st.SearchAttributes)
	if err != nil {
		return nil, fmt.Errorf("devtemporal: namespace %s: %w", st.Namespace, err)
	}
	// The helper is named for SQLite but writes the namespace rows through
	// the generic SQL persistence layer, so it serves PostgreSQL as well.
	// NewNamespaceConfig always asks for one day; a namespace created here
	// gets the configured retention right away.
	ns.Detail.Config.Retention = durationpb.New(st.Retention)
	if err := sqliteschema.CreateNamespaces(sqlConf, ns); err != nil {
		return nil, fmt.Errorf("devtemporal: create namespace %s: %w", st.Namespace, err)
	}
	return persistence, nil
}

// newTemporalServer builds the server the way `temporal server start-dev`
// does: all four services in this process, found through static hosts rather
// than ringpop, one history shard, no archival, no metrics listener.
func newTemporalServer(st *settings, persistence *config.Persistence, logger log.Logger) (temporal.Server, error) {
	frontendAddr := net.JoinHostPort(st.dialHost, strconv.Itoa(st.FrontendPort))
	internalAddr := func(port int) string { return net.JoinHostPort(internalIP, strconv.Itoa(port)) }

	conf := &config.Config{}
	conf.Global.Membership = config.Membership{MaxJoinDuration: 30 * time.Second, BroadcastAddress: internalIP}
	// Global.Metrics stays nil: the server then uses a no-op metrics handler
	// and opens no Prometheus port. Global.PProf.Port 0 keeps pprof off.
	conf.Persistence = *persistence
	conf.ClusterMetadata = &cluster.Config{
		EnableGlobalNamespace:    false,
		FailoverVersionIncrement: 10,
		MasterClusterName:        clusterName,
		CurrentClusterName:       clusterName,
		ClusterInformation: map[string]cluster.ClusterInformation{
			clusterName: {
				Enabled:                true,
				InitialFailoverVersion: 1,
				RPCAddress:             frontendAddr,
				HTTPAddress:            net.JoinHostPort(st.dialHost, strconv.Itoa(st.frontendHTTP)),
			},
		},
	}
	conf.DCRedirectionPolicy.Policy = "noop"
	conf.Services = map[string]config.Service{
		string(primitives.FrontendService): {RPC: config.RPC{GRPCPort: st.FrontendPort, HTTPPort: st.frontendHTTP, BindOnIP: st.IP}},
		string(primitives.HistoryService):  {RPC: config.RPC{GRPCPort: st.history, BindOnIP: internalIP}},
		string(primitives.MatchingService): {RPC: config.RPC{GRPCPort: st.matching, BindOnIP: internalIP}},
		string(primitives.WorkerService):   {RPC: config.RPC{GRPCPort: st.worker, BindOnIP: internalIP}},
	}
	conf.Archival.History.State = "disabled"
	conf.Archival.Visibility.State = "disabled"
	conf.NamespaceDefaults.Archival.History.State = "disabled"
	conf.NamespaceDefaults.Archival.Visibility.State = "disabled"
	// The server's own worker service dials the frontend through this.
	conf.PublicClient.HostPort = frontendAddr

	dynamic := dynamicconfig.StaticClient{
		// The default (128k entries) is sized for production hosts.
		dynamicconfig.HistoryCacheHostLevelMaxSize.Key(): 8096,
		// The UI lists and counts workflows often; 10 RPS throttles it.
		dynamicconfig.FrontendMaxNamespaceVisibilityRPSPerInstance.Key(): 100,
		// Search attributes added at start must be usable at once, not after
		// the next cache refresh.
		dynamicconfig.ForceSearchAttributesCacheRefreshOnRead.Key(): true,
		dynamicconfig.FrontendPersistenceMaxQPS.Key():               10000,
		dynamicconfig.HistoryPersistenceMaxQPS.Key():                45000,
		// Batch chunks carry their app as fairness key, so one app's
		// campaign does not hold back another's on the bulk queue; the
		// server honours fairness keys only with this on.
		dynamicconfig.MatchingEnableFairness.Key(): true,
	}

	claimMapper := authorization.NewNoopClaimMapper()
	var srv temporal.Server
	err := recoverFatal(func() error {
		var err error
		srv, err = temporal.NewServer(
			temporal.WithConfig(conf),
			temporal.ForServices(temporal.DefaultServices),
			temporal.WithStaticHosts(map[primitives.ServiceName]static.Hosts{
				primitives.FrontendService: static.SingleLocalHost(frontendAddr),
				primitives.HistoryService:  static.SingleLocalHost(internalAddr(st.history)),
				primitives.MatchingService: static.SingleLocalHost(internalAddr(st.matching)),
				primitives.WorkerService:   static.SingleLocalHost(internalAddr(st.worker)),
			}),
			temporal.WithLogger(logger),
			temporal.WithAuthorizer(authorization.NewNoopAuthorizer()),
			temporal.WithClaimMapper(func(*config.Config) authorization.ClaimMapper { return claimMapper }),
			temporal.WithDynamicConfigClient(dynamic),
		)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("devtemporal: create temporal server: %w", err)
	}
	return srv, nil
}
