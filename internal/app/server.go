package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"buf.build/go/protovalidate"
	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"
	"google.golang.org/protobuf/encoding/protojson"
	"riverqueue.com/riverui"

	pb "github.com/handybind/handybind/gen/handybind/v1"
	"github.com/handybind/handybind/gen/openapi"
	"github.com/handybind/handybind/internal/api"
	"github.com/handybind/handybind/internal/auth"
	"github.com/handybind/handybind/internal/bind"
	"github.com/handybind/handybind/internal/catalog"
	"github.com/handybind/handybind/internal/connection"
	"github.com/handybind/handybind/internal/console"
	"github.com/handybind/handybind/internal/egress"
	"github.com/handybind/handybind/internal/errs"
	"github.com/handybind/handybind/internal/handy"
	"github.com/handybind/handybind/internal/jobs"
	"github.com/handybind/handybind/internal/mapping"
	"github.com/handybind/handybind/internal/metrics"
	"github.com/handybind/handybind/internal/run"
	"github.com/handybind/handybind/internal/secret"
	"github.com/handybind/handybind/internal/store"
	"github.com/handybind/handybind/internal/store/sqlstore"
	"github.com/handybind/handybind/internal/syncer"
	"github.com/handybind/handybind/internal/tracing"
)

// Server is one handybind process: gRPC and the REST gateway over one storage.
type Server struct {
	cfg    Config
	log    *slog.Logger
	db     *sqlstore.DB
	grpc   *grpc.Server
	health *health.Server
	http   *http.Server
	admin  *http.Server
	tls    *tls.Config
	egress *egress.Policy

	mappings         *catalog.Catalog
	watched          *mapping.Registry // the operator's mappings folder, if any
	queue            *jobs.Queue
	engine           *syncer.Engine
	authn            *auth.Authenticator
	riverUI          *riverui.Handler
	store            store.Store
	tp               trace.TracerProvider
	stopTracing      func(context.Context) error
	keys             *secret.Keyring
	metrics          *metrics.Metrics
	grpcLis, httpLis net.Listener
	adminLis         net.Listener
	// gwLis is the gateway's in-process connection to gRPC: REST calls never leave the process,
	// and the guard can tell them from network calls (see auth.GatewayAddr).
	gwLis  *gatewayListener
	gwGRPC *grpc.Server
	gwConn *grpc.ClientConn
}

// NewServer opens storage, checks (or applies) migrations and builds the servers. Nothing listens
// until Serve.
func NewServer(ctx context.Context, cfg Config, log *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("configuration:\n%w", err)
	}
	db, err := sqlstore.Open(ctx, cfg.Database(), log)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: log, db: db, tp: cfg.TracerProvider, stopTracing: func(context.Context) error { return nil }}
	if s.tp == nil {
		if s.tp, s.stopTracing, err = tracing.FromEnv(ctx, version()); err != nil {
			db.Close()
			return nil, fmt.Errorf("tracing: %w", err)
		}
	}
	if err := s.build(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func (s *Server) build(ctx context.Context) error {
	if err := checkSchema(ctx, s.db, s.cfg.Migrate, s.log); err != nil {
		return err
	}
	st := sqlstore.New(s.db)
	s.store = st
	keys, err := loadKeys(ctx, s.cfg, s.db.Dialect, st)
	s.keys = keys
	if err != nil {
		return err
	}
	validator, err := protovalidate.New()
	if err != nil {
		return fmt.Errorf("protovalidate: %w", err)
	}
	patterns, _ := egress.ParsePatterns(s.cfg.AllowHosts) // checked by Validate
	if s.egress, err = egress.NewPolicy(patterns); err != nil {
		return fmt.Errorf("allow-hosts: %w", err)
	}
	if s.tls, err = s.cfg.tlsConfig(); err != nil {
		return err
	}
	outbound := s.egress.HTTPClient(8)
	// Each Handy and Bind call is a span of the sync that made it.
	outbound.Transport = otelhttp.NewTransport(outbound.Transport, otelhttp.WithTracerProvider(s.tp), otelhttp.WithPropagators(tracing.Propagator))
	builtInDir, operatorDir, err := s.cfg.mappingsDirs(s.log)
	if err != nil {
		return err
	}
	builtIn, err := mapping.NewRegistry(builtInDir, s.log)
	if err != nil {
		return err
	}
	// The operator's folder adds versions, and its files take precedence over built-in ones of
	// the same number (an operator may patch one in place); only it is watched.
	regs := []*mapping.Registry{builtIn}
	if operatorDir != "" {
		files, err := mapping.NewRegistry(operatorDir, s.log)
		if err != nil {
			return fmt.Errorf("%w; set --mappings-dir to a folder of <name>/<version>.yaml files", err)
		}
		s.watched = files
		regs = []*mapping.Registry{files, builtIn}
	}
	s.mappings = catalog.New(st, s.log, regs...)
	if err := s.mappings.Refresh(ctx); err != nil {
		return fmt.Errorf("reading published mapping versions: %w", err)
	}

	s.metrics = metrics.New()
	budgets := &handy.Budgets{Key: keys.Derive("handy request budgets")}
	if s.db.Dialect == sqlstore.Postgres {
		// Replicas share a database, and Handy counts an account's requests whichever sends them.
		budgets.Shared = func(account [32]byte) handy.Budget {
			return s.db.SharedBudget(account, float64(handy.RequestsPerMinute)/60, handy.BudgetBurst)
		}
	}
	s.engine = syncer.New(syncer.Deps{Store: st, Keys: keys, Mappings: s.mappings, Budgets: budgets, Log: s.log, Metrics: s.metrics,
		Tracer:       s.tp.Tracer("handybind/syncer"),
		StallTimeout: s.cfg.JobTimeout, LeaseTTL: s.cfg.LeaseTTL, LeaseRenew: min(syncer.DefaultLeaseRenew, s.cfg.LeaseTTL/3),
		BindOptions: func(o *bind.Options) {
			o.RequestsPerSecond, o.Burst = s.cfg.BindRequestsPerSecond, max(1, int(s.cfg.BindRequestsPerSecond))
			o.HTTPClient = s.metrics.Upstream(outbound, "bind")
		},
		HandyOptions: func(o *handy.Options) { o.HTTPClient = s.metrics.Upstream(outbound, "handy") },
	})
	if s.queue, err = jobs.New(s.db, st, s.engine, s.log, jobs.Options{Workers: s.cfg.SyncWorkers, Periodic: !s.cfg.NoSchedule, ReapEvery: max(time.Second, s.cfg.LeaseTTL/3), Spread: max(time.Nanosecond, s.cfg.SyncSpread)}); err != nil {
		return err
	}
	activate := func(ctx context.Context, id string, salesSince time.Time) (*store.Connection, error) {
		return s.engine.ActivateFrom(ctx, id, salesSince, func(ctx context.Context, tx store.Store, c *store.Connection) error {
			_, err := s.queue.Enqueue(ctx, tx, c.ID, store.SyncProducts, store.TriggerActivation) // P1
			return err
		})
	}

	s.authn = auth.NewAuthenticator(st)
	guard := auth.NewGuard(s.authn, storeTenants{st}, st, s.log,
		func(ctx context.Context, err error) error { return api.ToStatus(ctx, s.log, err) })
	opts := []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(api.UnaryInterceptors(s.log, validator, s.metrics,
			api.Limits{InFlight: s.cfg.MaxInFlight, KeyRate: s.cfg.KeyRate, KeyBurst: int(2 * s.cfg.KeyRate)},
			guard.Unary(), guard.Scope())...),
		// Streams per connection are bounded too, but well above the calls in flight: calls
		// beyond the stream limit wait in the client, where the server cannot refuse them at once.
		grpc.MaxConcurrentStreams(uint32(max(1000, 4*s.cfg.MaxInFlight))),
		grpc.ChainStreamInterceptor(api.StreamInterceptors(s.log, s.metrics, guard.Stream())...),
		grpc.MaxRecvMsgSize(maxBody),
		grpc.ForceServerCodecV2(api.Codec()),
		grpc.StatsHandler(otelgrpc.NewServerHandler(otelgrpc.WithTracerProvider(s.tp), otelgrpc.WithPropagators(tracing.Propagator))),
	}
	s.health = health.NewServer()
	// NOT_SERVING until Serve has checked storage once more and both listeners are up.
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	connSvc := connection.NewService(st, keys, s.log, mappingVersions{s.mappings}, s.egress)
	s.metrics.WatchHealth(func(ctx context.Context) (metrics.Health, error) {
		counts, oldest, err := connSvc.HealthCounts(ctx)
		if err != nil {
			return metrics.Health{}, err
		}
		h := metrics.Health{Connections: make(map[string]int, len(counts)), OldestSuccess: oldest}
		for state, n := range counts {
			h.Connections[string(state)] = n
		}
		h.Waiting, h.OldestWaiting, err = connSvc.WaitingStats(ctx)
		return h, err
	})
	s.metrics.WatchMappingFallbacks(mapping.DirectFallbacks)
	connections := api.NewConnectionServer(connSvc, activate, s.engine.SalesFrom, s.log).WithComparer(
		func(ctx context.Context, c *store.Connection, version string, sample int) (*syncer.Comparison, error) {
			// The candidate must be a version the connection's tenant can use; another tenant's
			// is not found, like one that does not exist.
			v, ok := s.mappings.Find(c.Tenant, "", api.DefaultMappingName, version)
			if !ok {
				return nil, errs.NotFound("mapping %s version %s not found", api.DefaultMappingName, version)
			}
			if !v.Usable() {
				return nil, errs.FailedPrecondition("mapping %s version %s does not load or fails its tests; GetMapping says why", api.DefaultMappingName, version)
			}
			return s.engine.CompareMapping(ctx, c.ID, v.Mapping, sample)
		})
	runs := api.NewRunServer(run.NewService(st, s.queue))
	mappings := api.NewMappingServer(s.mappings)
	audit := api.NewAuditServer(st)
	register := func(g *grpc.Server) *grpc.Server {
		pb.RegisterConnectionServiceServer(g, connections)
		pb.RegisterRunServiceServer(g, runs)
		pb.RegisterMappingServiceServer(g, mappings)
		pb.RegisterAuditServiceServer(g, audit)
		healthpb.RegisterHealthServer(g, s.health)
		reflection.Register(g)
		return g
	}
	// The gateway's in-process server has the same services and interceptors; only the network
	// listener speaks TLS.
	s.gwGRPC = register(grpc.NewServer(opts...))
	if s.tls != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(s.tls)))
	}
	s.grpc = register(grpc.NewServer(opts...))
	s.metrics.GRPC.InitializeMetrics(s.grpc) // every method's families exist from the start, at zero
	return nil
}

// checkSchema applies migrations when asked, and otherwise refuses a schema that is behind.
func checkSchema(ctx context.Context, db *sqlstore.DB, migrate bool, log *slog.Logger) error {
	if migrate {
		st, err := db.Migrate(ctx, log)
		if err != nil {
			return err
		}
		log.InfoContext(ctx, "schema migrated", "status", st.String())
		return nil
	}
	st, err := db.Status(ctx)
	if err != nil {
		return err
	}
	switch {
	case st.Ahead():
		return fmt.Errorf("the database schema (version %d) is newer than this build knows (%d); run a newer handybind", st.Current, st.Target)
	case st.Behind():
		return fmt.Errorf("the database schema is behind (%s); run `handybind migrate` with the same --database-url, or start with --migrate", st)
	}
	return nil
}

// loadKeys returns the token-encryption keyring, and refuses to start when it cannot open the
// tokens the database already holds: a new or wrong key would make every sync fail later, one by
// one, while the fix (restoring the key) is only possible now.
func loadKeys(ctx context.Context, cfg Config, dialect sqlstore.Dialect, st *sqlstore.Store) (*secret.Keyring, error) {
	samples, err := st.TokenSamples(ctx)
	if err != nil {
		return nil, err
	}
	var kr *secret.Keyring
	if cfg.SecretKey != "" {
		k, err := parseSecretKey(cfg.SecretKey)
		if err != nil {
			return nil, fmt.Errorf("secret-key: %w", err)
		}
		if kr, err = secret.NewKeyring(k); err != nil {
			return nil, err
		}
	} else {
		// Only the embedded default may invent a key, and only while no token needs the old one:
		// replicas sharing PostgreSQL must share the key.
		kr, err = secret.LoadKeyFile(cfg.KeyFile(), dialect == sqlstore.SQLite && len(samples) == 0)
		if err != nil {
			switch {
			case dialect == sqlstore.Postgres:
				return nil, fmt.Errorf("%w\nwith PostgreSQL, give every replica the same key: HANDYBIND_SECRET_KEY=<id>:<base64 of 32 bytes> or --secret-key-file", err)
			case errors.Is(err, fs.ErrNotExist):
				return nil, fmt.Errorf("%w\nthe database holds %d connection token(s) encrypted with key %s; restore that key file (or give the key with HANDYBIND_SECRET_KEY) instead of starting with a new key, which could open none of them",
					err, len(samples), samples[0].Token.KeyID)
			}
			return nil, err
		}
	}
	for _, t := range samples {
		if _, err := kr.Open(t.Token, connection.TokenAAD(t.ConnectionID, t.Field)); err != nil {
			return nil, fmt.Errorf("the token-encryption key in use cannot open the stored %s of connection %s (%v); restore the key that encrypted it (key id %s, from --secret-key-file or HANDYBIND_SECRET_KEY), keeping it first for new tokens if you rotate",
				t.Field, t.ConnectionID, err, t.Token.KeyID)
		}
	}
	return kr, nil
}

// storeTenants tells the guard which tenant owns a connection or a run.
type storeTenants struct{ st store.Store }

func (t storeTenants) ConnectionTenant(ctx context.Context, id string) (string, error) {
	c, err := t.st.GetConnection(ctx, id)
	if err != nil {
		return "", err
	}
	return c.Tenant, nil
}

func (t storeTenants) RunTenant(ctx context.Context, id string) (string, error) {
	r, err := t.st.GetRun(ctx, id)
	if err != nil {
		return "", err
	}
	return t.ConnectionTenant(ctx, r.ConnectionID)
}

// mappingVersions tells the connection use-cases which mapping versions a connection may use.
type mappingVersions struct{ cat *catalog.Catalog }

func (m mappingVersions) CheckPin(tenant, version string) error {
	return m.cat.CheckPin(tenant, api.DefaultMappingName, version)
}

func (m mappingVersions) Latest() string { return m.cat.Latest(api.DefaultMappingName) }

// GRPCAddr is the address gRPC listens on, once Listen has run.
func (s *Server) GRPCAddr() string { return s.grpcLis.Addr().String() }

// HTTPAddr is the address the REST gateway listens on, once Listen has run.
func (s *Server) HTTPAddr() string { return s.httpLis.Addr().String() }

// Listen opens both listeners and connects the gateway to gRPC.
func (s *Server) Listen(ctx context.Context) error {
	var err error
	if s.grpcLis, err = net.Listen("tcp", s.cfg.GRPCAddr); err != nil {
		return fmt.Errorf("grpc-addr: %w", err)
	}
	if s.httpLis, err = net.Listen("tcp", s.cfg.HTTPAddr); err != nil {
		s.grpcLis.Close()
		return fmt.Errorf("http-addr: %w", err)
	}
	if s.adminLis, err = net.Listen("tcp", s.cfg.AdminAddr); err != nil {
		s.grpcLis.Close()
		s.httpLis.Close()
		return fmt.Errorf("admin-addr: %w", err)
	}
	if s.tls != nil {
		// HTTP/1.1 only: the REST listener does not speak HTTP/2 over a plain TLS listener.
		httpTLS := s.tls.Clone()
		httpTLS.NextProtos = []string{"http/1.1"}
		s.httpLis = tls.NewListener(s.httpLis, httpTLS)
	}
	s.gwLis = newGatewayListener()
	handler, err := s.httpHandler(ctx)
	if err != nil {
		s.grpcLis.Close()
		s.httpLis.Close()
		s.adminLis.Close()
		return err
	}
	admin := http.NewServeMux()
	admin.Handle("GET /metrics", s.metrics.Handler())
	// River's UI, for operators with a platform key only: it shows every tenant's jobs.
	if s.riverUI, err = s.queue.UI("/riverui"); err != nil {
		return fmt.Errorf("river UI: %w", err)
	}
	admin.Handle("/riverui/", platformOnly(s.authn, s.riverUI))
	s.admin = &http.Server{Handler: admin, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
	s.http = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	return nil
}

// AdminAddr is the address of the admin listener (/metrics), once Listen has run.
func (s *Server) AdminAddr() string { return s.adminLis.Addr().String() }

// maxBody bounds REST request bodies; a mapping source (1 MiB) is the largest legitimate one.
const maxBody = 2 << 20

func (s *Server) httpHandler(ctx context.Context) (http.Handler, error) {
	// The gateway is a real gRPC client of this server, so interceptors (validation, logging,
	// error mapping) run once for both protocols.
	conn, err := grpc.NewClient("passthrough:///gateway", grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithStatsHandler(otelgrpc.NewClientHandler(otelgrpc.WithTracerProvider(s.tp), otelgrpc.WithPropagators(tracing.Propagator))),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return s.gwLis.DialContext(ctx) }))
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	s.gwConn = conn
	gw := runtime.NewServeMux(
		runtime.WithMarshalerOption(runtime.MIMEWildcard, &runtime.HTTPBodyMarshaler{
			Marshaler: &runtime.JSONPb{
				MarshalOptions: protojson.MarshalOptions{EmitUnpopulated: false},
				// Unknown fields are refused: a misspelled field must not be silently dropped.
				UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
			},
		}),
		runtime.WithIncomingHeaderMatcher(func(h string) (string, bool) {
			if strings.EqualFold(h, api.RequestIDHeader) {
				return api.RequestIDHeader, true
			}
			// No metadata of the caller's choosing: it could pose as what only this process may say
			// (auth.ForwardedCertHeader). Authorization is forwarded by the gateway itself.
			if strings.HasPrefix(strings.ToLower(h), "grpc-metadata-") {
				return "", false
			}
			return runtime.DefaultHeaderMatcher(h)
		}),
		// A client certificate the REST listener verified speaks for the caller, as on gRPC.
		runtime.WithMetadata(func(_ context.Context, r *http.Request) metadata.MD {
			if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 {
				return metadata.Pairs(auth.ForwardedCertHeader, r.TLS.VerifiedChains[0][0].Subject.CommonName)
			}
			return nil
		}),
		runtime.WithOutgoingHeaderMatcher(func(h string) (string, bool) {
			if h == api.RequestIDHeader {
				return "X-Request-Id", true
			}
			return "", false
		}),
		runtime.WithHealthzEndpoint(healthpb.NewHealthClient(conn)),
		// A form-encoded POST must not be served as the GET of the same path.
		runtime.WithDisablePathLengthFallback(),
		// The challenge names the scheme, as RFC 6750 has it; the reason is in the body.
		runtime.WithErrorHandler(func(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
			err = api.GatewayStatus(err)
			// A refusal for load says when to come back (429 with Retry-After).
			if after := api.RetryAfter(err); after > 0 {
				w.Header().Set("Retry-After", strconv.Itoa(after))
			}
			runtime.DefaultHTTPErrorHandler(ctx, mux, m, challengeWriter{w}, r, err)
		}),
		// A known path with the wrong method is the caller's mistake (405), not a missing server
		// feature (the gateway's default maps it to UNIMPLEMENTED, a 501).
		runtime.WithRoutingErrorHandler(func(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, code int) {
			if code == http.StatusMethodNotAllowed {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusMethodNotAllowed)
				_, _ = fmt.Fprintf(w, `{"code":%d,"message":"method %s is not allowed on this path"}`, codes.InvalidArgument, r.Method)
				return
			}
			runtime.DefaultRoutingErrorHandler(ctx, mux, m, w, r, code)
		}),
	)
	for _, register := range []func(context.Context, *runtime.ServeMux, *grpc.ClientConn) error{
		pb.RegisterConnectionServiceHandler,
		pb.RegisterRunServiceHandler,
		pb.RegisterMappingServiceHandler,
		pb.RegisterAuditServiceHandler,
	} {
		if err := register(ctx, gw, conn); err != nil {
			return nil, fmt.Errorf("gateway: %w", err)
		}
	}
	ui, err := console.New(console.Options{Conn: conn, Keys: s.keys, Secure: s.tls != nil, Log: s.log, Sessions: s.store})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	// The operator console; / leads to it.
	mux.Handle(console.Prefix, http.MaxBytesHandler(ui.Handler(), maxBody))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, console.Prefix, http.StatusSeeOther)
	})
	mux.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(openapi.Document)
	})
	mux.HandleFunc("GET /swagger.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(openapi.Swagger2)
	})
	mux.Handle("/", http.MaxBytesHandler(validUTF8(gw), maxBody))
	return otelhttp.NewHandler(mux, "rest", otelhttp.WithTracerProvider(s.tp), otelhttp.WithPropagators(tracing.Propagator)), nil
}

// Serve runs until ctx is cancelled, then stops gracefully: health goes NOT_SERVING, HTTP drains,
// gRPC drains (forced after the shutdown timeout), storage closes.
func (s *Server) Serve(ctx context.Context) error {
	if s.grpcLis == nil {
		if err := s.Listen(ctx); err != nil {
			s.Close()
			return err
		}
	}
	errc := make(chan error, 4)
	go func() { errc <- s.grpc.Serve(s.grpcLis) }()
	go func() { errc <- s.gwGRPC.Serve(s.gwLis) }()
	go func() {
		if err := s.admin.Serve(s.adminLis); !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
	}()
	go func() {
		if err := s.http.Serve(s.httpLis); !errors.Is(err, http.ErrServerClosed) {
			errc <- err
			return
		}
		errc <- nil
	}()
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	// The mapping watch is set up before health can say SERVING, so no edit made after that is missed.
	go s.mappings.Run(watchCtx, s.cfg.MappingRefresh)
	if s.watched != nil {
		if loop, err := s.watched.StartWatching(); err != nil {
			s.log.Warn("mapping files are not watched; changes need a restart", "error", err)
		} else {
			go func() { _ = loop(watchCtx) }()
		}
	}
	go s.watchStorage(watchCtx)
	// The queue is stopped explicitly (softly) on shutdown, not by the context ending.
	if err := s.queue.Start(context.WithoutCancel(ctx)); err != nil {
		s.shutdown()
		return fmt.Errorf("starting the job queue: %w", err)
	}
	if err := s.riverUI.Start(watchCtx); err != nil {
		s.shutdown()
		return fmt.Errorf("starting River UI: %w", err)
	}
	s.log.InfoContext(ctx, "handybind serving", "grpc", s.GRPCAddr(), "http", s.HTTPAddr(), "admin", s.AdminAddr(),
		"tls", s.tls != nil, "allowed_hosts", strings.Join(s.egress.Patterns(), ","), "database", sqlstore.Redact(s.cfg.Database()))

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	stopWatch()
	s.shutdown()
	return serveErr
}

// healthInterval is how often storage is pinged for the health status.
const healthInterval = 5 * time.Second

// watchStorage keeps the health status in step with storage: SERVING while the database answers,
// NOT_SERVING while it does not, so load balancers stop sending work that would fail.
func (s *Server) watchStorage(ctx context.Context) {
	serving := false
	for {
		pingCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := s.db.SQL.PingContext(pingCtx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		switch {
		case err == nil && !serving:
			s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
			serving = true
		case err != nil && serving:
			s.log.ErrorContext(ctx, "storage does not answer; health is NOT_SERVING", "error", err)
			s.health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
			serving = false
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(healthInterval):
		}
	}
}

func (s *Server) shutdown() {
	s.log.Info("shutting down")
	s.health.Shutdown()
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	if err := s.http.Shutdown(ctx); err != nil {
		s.log.Warn("HTTP shutdown", "error", err)
	}
	_ = s.admin.Shutdown(ctx)
	// Running syncs finish the record in flight and are recorded as interrupted; their jobs go
	// back in the queue for the next start, and no new ones start here.
	s.engine.Interrupt()
	if err := s.queue.Stop(ctx); err != nil {
		s.log.Warn("job queue stop", "error", err)
	}
	if err := s.stopTracing(ctx); err != nil {
		s.log.Warn("flushing traces", "error", err)
	}
	var once sync.Once
	done := make(chan struct{})
	go func() { s.grpc.GracefulStop(); once.Do(func() { close(done) }) }()
	select {
	case <-done:
	case <-ctx.Done():
		s.log.Warn("gRPC calls still running at the shutdown deadline; stopping them")
		s.grpc.Stop()
	}
	s.gwGRPC.Stop() // HTTP has drained, so the gateway has no call left
	_ = s.gwConn.Close()
	s.db.Close()
	s.log.Info("stopped")
}

// Close releases a server that was built but never served.
func (s *Server) Close() {
	if s.http != nil {
		s.grpcLis.Close()
		s.httpLis.Close()
		s.adminLis.Close()
		s.gwLis.Close()
		_ = s.gwConn.Close()
	}
	s.db.Close()
}

// Methods lists every unary method the gRPC server serves, as full method names; the access
// test walks them to prove none is left without a rule.
func (s *Server) Methods() []string {
	var out []string
	for name, info := range s.grpc.GetServiceInfo() {
		for _, m := range info.Methods {
			if !m.IsClientStream && !m.IsServerStream {
				out = append(out, "/"+name+"/"+m.Name)
			}
		}
	}
	sort.Strings(out)
	return out
}

// validUTF8 refuses a URL whose path or query is not UTF-8: the gateway would copy it into a
// protobuf string, which cannot hold it, and fail with an internal error.
func validUTF8(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		where := ""
		if !utf8.ValidString(r.URL.Path) {
			where = "the URL path"
		}
		for k, vs := range r.URL.Query() {
			for _, v := range append([]string{k}, vs...) {
				if !utf8.ValidString(v) {
					where = "the query parameter " + strconv.Quote(strings.ToValidUTF8(k, "?"))
				}
			}
		}
		if where != "" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = fmt.Fprintf(w, `{"code":%d,"message":%s}`, codes.InvalidArgument, strconv.Quote(where+" is not valid UTF-8"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// challengeWriter replaces the gateway's WWW-Authenticate (the error message) with a bearer
// challenge.
type challengeWriter struct{ http.ResponseWriter }

func (w challengeWriter) WriteHeader(code int) {
	if code == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="handybind"`)
	}
	w.ResponseWriter.WriteHeader(code)
}

// version is the module version the binary was built from, for traces.
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "dev"
}

// platformOnly lets through a request that carries a platform key, as a bearer token or as the
// password of HTTP basic authentication (what a browser asks for); anything else is 401, or 403
// for a key of another role.
func platformOnly(authn *auth.Authenticator, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, ok := "", false
		if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
			key, ok = strings.TrimPrefix(h, "Bearer "), true
		} else if _, pw, basic := r.BasicAuth(); basic {
			key, ok = pw, true
		}
		if !ok {
			w.Header().Set("WWW-Authenticate", `Basic realm="handybind admin: a platform API key as the password", charset="UTF-8"`)
			http.Error(w, "a platform API key is needed", http.StatusUnauthorized)
			return
		}
		caller, err := authn.ByKey(r.Context(), key)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Basic realm="handybind admin: a platform API key as the password", charset="UTF-8"`)
			http.Error(w, "this API key is not accepted", http.StatusUnauthorized)
			return
		}
		if caller.Role != store.RolePlatform {
			http.Error(w, "River UI shows every tenant's jobs: it needs a platform key", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}
