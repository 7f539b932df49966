// Package cli is handybind's command line: serve, migrate, config.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/handybind/handybind/internal/app"
	"github.com/handybind/handybind/internal/demo"
	"github.com/handybind/handybind/internal/egress"
	"github.com/handybind/handybind/internal/store/sqlstore"
)

// EnvPrefix starts every environment variable handybind reads; a flag --database-url is
// HANDYBIND_DATABASE_URL. A flag given on the command line wins over the environment.
const EnvPrefix = "HANDYBIND_"

// Main runs the command line and returns the exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		if !errors.Is(err, errReported) {
			fmt.Fprintln(stderr, "handybind:", err)
		}
		var coded exitCode
		if errors.As(err, &coded) {
			return coded.code
		}
		return 1
	}
	return 0
}

// exitCode is an error that asks for an exit status other than 1, for an outcome a script must
// tell apart from a failure to find out (such as mapping diff's refusals).
type exitCode struct {
	code int
	err  error
}

func (e exitCode) Error() string { return e.err.Error() }
func (e exitCode) Unwrap() error { return e.err }

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	cfg := app.Defaults()
	// envErr holds bad environment values, reported together with every other configuration problem.
	var envErr error
	validate := func() error {
		if err := errors.Join(envErr, cfg.Validate()); err != nil {
			return fmt.Errorf("configuration:\n%w", err)
		}
		return nil
	}
	// logger checks the whole configuration, then builds the process logger from it.
	logger := func() (*slog.Logger, error) {
		if err := validate(); err != nil {
			return nil, err
		}
		log, err := app.NewLogger(cfg, stderr)
		if err == nil {
			// Libraries and packages without a logger of their own log in the same form.
			slog.SetDefault(log)
		}
		return log, err
	}
	root := &cobra.Command{
		Use:           "handybind",
		Short:         "Keeps a Bind ERP company in step with a Handy field-sales account",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRun: func(cmd *cobra.Command, _ []string) {
			envErr = applyEnv(cmd.Flags())
		},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	f := root.PersistentFlags()
	f.StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "folder for the embedded database and the generated key file")
	f.StringVar(&cfg.DatabaseURL, "database-url", cfg.DatabaseURL, "postgres://… or sqlite:PATH (default: SQLite in --data-dir)")
	f.StringVar(&cfg.LogLevel, "log-level", cfg.LogLevel, "debug, info, warn or error")
	f.StringVar(&cfg.LogFormat, "log-format", cfg.LogFormat, "text or json")
	f.StringVar(&cfg.SecretKey, "secret-key", cfg.SecretKey, "token encryption key, <id>:<base64 of 32 bytes> (prefer the environment variable)")
	f.StringVar(&cfg.SecretKeyFile, "secret-key-file", cfg.SecretKeyFile, "file of token encryption keys (default: secret.key in --data-dir)")

	serve := &cobra.Command{
		Use:   "serve",
		Short: "Serve the gRPC API and its REST gateway",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := logger()
			if err != nil {
				return err
			}
			log.Info("starting", "config", cfg)
			srv, err := app.NewServer(cmd.Context(), cfg, log)
			if err != nil {
				return err
			}
			return srv.Serve(cmd.Context())
		},
	}
	sf := serve.Flags()
	sf.StringVar(&cfg.GRPCAddr, "grpc-addr", cfg.GRPCAddr, "gRPC listen address")
	sf.StringVar(&cfg.HTTPAddr, "http-addr", cfg.HTTPAddr, "REST gateway listen address")
	sf.StringVar(&cfg.MappingsDir, "mappings-dir", cfg.MappingsDir, "folder of more mapping files, <dir>/<name>/<version>.yaml, added to the built-in ones; changes are picked up live")
	sf.DurationVar(&cfg.SyncSpread, "sync-spread", cfg.SyncSpread, "scheduled syncs start within this long after their slot, each connection at its own stable second (products: three times as long)")
	sf.IntVar(&cfg.SyncWorkers, "sync-workers", cfg.SyncWorkers, "syncs this replica runs at once; 0: 4 on SQLite, 16 on PostgreSQL")
	sf.IntVar(&cfg.MaxInFlight, "max-in-flight", cfg.MaxInFlight, "API calls served at once; more are refused at once with RESOURCE_EXHAUSTED (HTTP 429); 0: no bound")
	sf.Float64Var(&cfg.KeyRate, "key-rps", cfg.KeyRate, "calls per second each API key may make (bursts of twice as many); 0: no bound")
	sf.DurationVar(&cfg.MappingRefresh, "mapping-refresh", cfg.MappingRefresh, "how often to read mapping versions published through other replicas")
	sf.Float64Var(&cfg.BindRequestsPerSecond, "bind-rps", cfg.BindRequestsPerSecond, "requests per second each connection may send to Bind")
	sf.DurationVar(&cfg.JobTimeout, "job-timeout", cfg.JobTimeout, "a sync that makes no progress for this long is stopped and retried (one that makes progress is never cut)")
	sf.DurationVar(&cfg.LeaseTTL, "lease-ttl", cfg.LeaseTTL, "a sync whose process died is taken over this long after its last sign of life")
	sf.BoolVar(&cfg.NoSchedule, "no-schedule", cfg.NoSchedule, "do not run the periodic syncs (activation and manual triggers still run)")
	sf.BoolVar(&cfg.Migrate, "migrate", cfg.Migrate, "apply missing database migrations before serving")
	sf.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", cfg.ShutdownTimeout, "how long a graceful stop may take")
	sf.StringVar(&cfg.AdminAddr, "admin-addr", cfg.AdminAddr, "listen address of /metrics (keep it on loopback or a private network)")
	sf.StringVar(&cfg.AllowHosts, egress.Flag, cfg.AllowHosts, "host[:port] patterns connections may call besides the public Handy and Bind APIs, comma separated (loopback and private addresses only when listed)")
	sf.StringVar(&cfg.TLSCert, "tls-cert", cfg.TLSCert, "PEM certificate: serve both API listeners over TLS")
	sf.StringVar(&cfg.TLSKey, "tls-key", cfg.TLSKey, "PEM private key of --tls-cert")
	sf.StringVar(&cfg.ClientCA, "client-ca", cfg.ClientCA, "PEM CA that signs client certificates; a verified certificate acts as the key made with --cert-cn")

	var migrateJSON, configJSON bool
	migrate := &cobra.Command{
		Use:   "migrate",
		Short: "Apply missing database migrations (handybind's and River's)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := logger()
			if err != nil {
				return err
			}
			db, err := sqlstore.Open(cmd.Context(), cfg.Database(), log)
			if err != nil {
				return err
			}
			defer db.Close()
			st, err := db.Migrate(cmd.Context(), log)
			if err != nil {
				return err
			}
			if migrateJSON {
				return writeJSON(stdout, map[string]any{"database": sqlstore.Redact(cfg.Database()), "version": st.Current,
					"latest": st.Target, "riverPending": len(st.RiverPending) > 0})
			}
			fmt.Fprintf(stdout, "%s: %s\n", sqlstore.Redact(cfg.Database()), st)
			return nil
		},
	}
	migrate.Flags().BoolVar(&migrateJSON, "json", false, "print JSON for tools")

	config := &cobra.Command{
		Use:   "config",
		Short: "Print the configuration in effect, secrets redacted",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if configJSON {
				out := map[string]any{}
				for _, a := range cfg.LogValue().Group() {
					out[lowerCamel(a.Key)] = a.Value.String()
				}
				if err := writeJSON(stdout, out); err != nil {
					return err
				}
			} else {
				fmt.Fprint(stdout, cfg.String())
			}
			if err := validate(); err != nil {
				return err
			}
			return nil
		},
	}
	config.Flags().BoolVar(&configJSON, "json", false, "print JSON for tools, with camelCase names as the API's JSON has")
	// config shows the serve flags too, so the whole configuration can be checked.
	config.Flags().AddFlagSet(sf)

	demoCmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the service against built-in Handy and Bind simulators seeded with a company",
		Long: "Seeds a Handy account (50 products, 20 customers, 5 sellers, 200 sales with edits and deletions) and a\n" +
			"Bind company, starts the service on a fresh SQLite database in --data-dir, creates and activates a\n" +
			"connection through the API, runs every sync, prints what happened, and keeps serving.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("log-level") && os.Getenv(EnvPrefix+"LOG_LEVEL") == "" {
				cfg.LogLevel = "warn" // the demo's own output is the story; logs only for trouble
			}
			if !cmd.Flags().Changed("bind-rps") && os.Getenv(EnvPrefix+"BIND_RPS") == "" {
				cfg.BindRequestsPerSecond = 1000 // the simulator has no quota to protect
			}
			log, err := logger()
			if err != nil {
				return err
			}
			return demo.Run(cmd.Context(), cfg, log, stdout)
		},
	}
	demoCmd.Flags().AddFlagSet(sf)

	root.AddCommand(serve, migrate, config, demoCmd, newMappingCommand(stdout), newKeysCommand(stdout, &cfg, logger), newRunsCommand(stdout), newConnectionsCommand(stdout))
	return root
}

// applyEnv sets every flag not given on the command line from HANDYBIND_<FLAG>, reporting every
// bad value at once.
func applyEnv(fs *pflag.FlagSet) error {
	var problems []error
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Changed {
			return
		}
		name := EnvPrefix + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		v, ok := os.LookupEnv(name)
		if !ok {
			return
		}
		if err := f.Value.Set(v); err != nil {
			problems = append(problems, fmt.Errorf("%s: %w", name, err))
		}
	})
	return errors.Join(problems...)
}

// writeJSON prints v as indented JSON.
func writeJSON(out io.Writer, v any) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// lowerCamel writes a snake_case name as the API's JSON does: bind_rps → bindRps.
func lowerCamel(s string) string {
	parts := strings.Split(s, "_")
	for i := 1; i < len(parts); i++ {
		if parts[i] != "" {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
	}
	return strings.Join(parts, "")
}
