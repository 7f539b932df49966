// Package app wires handybind together: configuration, storage, the gRPC server and its REST
// gateway. The command line and the tests start the very same server through it.
package app

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/handybind/handybind/internal/catalog"
	"github.com/handybind/handybind/internal/egress"
	"github.com/handybind/handybind/internal/jobs"
	"github.com/handybind/handybind/internal/secret"
	"github.com/handybind/handybind/internal/store/sqlstore"
	"github.com/handybind/handybind/internal/syncer"
	"github.com/handybind/handybind/mappings"
)

// Config is the whole server configuration. Zero values mean the defaults of Defaults().
type Config struct {
	// TracerProvider receives the service's spans; nil means what the OTEL_* environment asks
	// for (see internal/tracing). Not a flag: tests set it.
	TracerProvider trace.TracerProvider `json:"-"`
	// DataDir holds the embedded database and the generated key file.
	DataDir string
	// DatabaseURL is postgres://… or sqlite:PATH; empty means a SQLite file in DataDir.
	DatabaseURL string
	// GRPCAddr and HTTPAddr are listen addresses; port 0 picks a free port.
	GRPCAddr string
	HTTPAddr string
	// LogLevel is debug, info, warn or error; LogFormat is text or json.
	LogLevel  string
	LogFormat string
	// SecretKey is "<key id>:<base64 of 32 bytes>" and takes precedence over SecretKeyFile.
	SecretKey string
	// SecretKeyFile holds the token encryption keys; empty means DataDir/secret.key. On SQLite a
	// missing file is created; on PostgreSQL it must exist, because every replica needs the same key.
	SecretKeyFile string
	// MappingsDir holds the mapping files, <dir>/<name>/<version>.yaml; changes are picked up live.
	MappingsDir string
	// SyncSpread is how far after its slot each connection's scheduled sync may start, at a
	// stable offset per connection (products: three times as far).
	SyncSpread time.Duration
	// SyncWorkers is how many syncs this replica runs at once; 0 picks by database: 4 on SQLite
	// (one writer), 16 on PostgreSQL (syncs mostly wait on Handy and Bind).
	SyncWorkers int
	// MaxInFlight bounds the API calls served at once; beyond it calls are refused at once
	// (RESOURCE_EXHAUSTED, HTTP 429) instead of queueing. 0: no bound.
	MaxInFlight int
	// KeyRate bounds each API key's calls per second (bursts of twice as many); 0: no bound.
	KeyRate float64
	// MappingRefresh is how often this replica reads mapping versions published on others.
	MappingRefresh time.Duration
	// BindRequestsPerSecond bounds the requests each connection sends to Bind, which publishes no
	// limit; the default stays well below any daily quota.
	BindRequestsPerSecond float64
	// JobTimeout stops a sync that made no progress for that long (a stuck call, a hung
	// database); a sync that makes progress is never cut, however long its backlog.
	JobTimeout time.Duration
	// LeaseTTL is how long a sync whose process died keeps its connection's sync of that kind;
	// another process (or this one, restarted) takes it over after that.
	LeaseTTL time.Duration
	// NoSchedule turns the periodic syncs off (manual triggers and activation still run).
	NoSchedule bool
	// Migrate applies missing migrations at start instead of refusing to start.
	Migrate bool
	// ShutdownTimeout bounds a graceful stop.
	ShutdownTimeout time.Duration
	// AdminAddr serves /metrics (and other operator pages); loopback by default, never the API's.
	AdminAddr string
	// AllowHosts lists host[:port] patterns, besides the public Handy and Bind hosts, that
	// connections may call; loopback, private and metadata addresses need to be listed here.
	AllowHosts string
	// TLSCert and TLSKey turn on TLS on both API listeners; ClientCA also verifies client
	// certificates, whose common name can stand for an API key (keys create --cert-cn).
	TLSCert  string
	TLSKey   string
	ClientCA string
}

// Defaults returns the configuration of the embedded default: SQLite under ./data, both servers
// on the loopback interface only (nothing is exposed until an operator says so).
func Defaults() Config {
	return Config{
		DataDir:               "data",
		MappingsDir:           "mappings",
		MappingRefresh:        catalog.DefaultRefresh,
		MaxInFlight:           128,
		SyncSpread:            jobs.DefaultSpread,
		KeyRate:               100,
		BindRequestsPerSecond: 5,
		JobTimeout:            syncer.DefaultStallTimeout,
		LeaseTTL:              syncer.DefaultLeaseTTL,
		GRPCAddr:              "127.0.0.1:9090",
		HTTPAddr:              "127.0.0.1:8080",
		AdminAddr:             "127.0.0.1:9091",
		LogLevel:              "info",
		LogFormat:             "text",
		ShutdownTimeout:       15 * time.Second,
	}
}

// Database returns the database URL in effect.
func (c Config) Database() string {
	if c.DatabaseURL != "" {
		return c.DatabaseURL
	}
	return "sqlite:" + filepath.Join(c.DataDir, "handybind.db")
}

// KeyFile returns the key file path in effect.
func (c Config) KeyFile() string {
	if c.SecretKeyFile != "" {
		return c.SecretKeyFile
	}
	return filepath.Join(c.DataDir, "secret.key")
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var problems []error
	add := func(format string, args ...any) { problems = append(problems, fmt.Errorf(format, args...)) }

	if c.DataDir == "" && (c.DatabaseURL == "" || (c.SecretKey == "" && c.SecretKeyFile == "")) {
		add("data-dir: must not be empty")
	}
	if _, err := sqlstore.ParseURL(c.Database()); err != nil {
		add("database-url: %v", err)
	}
	for _, a := range []struct{ name, addr string }{{"grpc-addr", c.GRPCAddr}, {"http-addr", c.HTTPAddr}, {"admin-addr", c.AdminAddr}} {
		if _, _, err := net.SplitHostPort(a.addr); err != nil {
			add("%s: %q is not host:port", a.name, a.addr)
		}
	}
	seen := map[string]string{}
	for _, a := range []struct{ name, addr string }{{"grpc-addr", c.GRPCAddr}, {"http-addr", c.HTTPAddr}, {"admin-addr", c.AdminAddr}} {
		if other, ok := seen[a.addr]; ok && !strings.HasSuffix(a.addr, ":0") {
			add("%s and %s: both are %q; they need different ports", other, a.name, a.addr)
		}
		seen[a.addr] = a.name
	}
	if _, err := egress.ParsePatterns(c.AllowHosts); err != nil {
		add("%v", err)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		add("tls-cert and tls-key: give both or neither")
	}
	if c.ClientCA != "" && c.TLSCert == "" {
		add("client-ca: client certificates need TLS; give tls-cert and tls-key too")
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		add("log-level: %v", err)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		add("log-format: %q is not text or json", c.LogFormat)
	}
	if c.SecretKey != "" {
		if _, err := parseSecretKey(c.SecretKey); err != nil {
			add("secret-key: %v", err)
		}
	}
	if c.BindRequestsPerSecond <= 0 || c.BindRequestsPerSecond > 1000 {
		add("bind-rps: %v must be above 0 and at most 1000", c.BindRequestsPerSecond)
	}
	if c.JobTimeout < time.Second {
		add("job-timeout: %s is shorter than a second", c.JobTimeout)
	}
	if c.SyncSpread < 0 || c.SyncSpread > 9*time.Minute {
		add("sync-spread: %s must be between 0 and 9m, so that a sync starts within its 10-minute slot", c.SyncSpread)
	}
	if c.SyncWorkers < 0 || c.SyncWorkers > 256 {
		add("sync-workers: %d must be between 0 (by database) and 256", c.SyncWorkers)
	}
	if c.MaxInFlight < 0 {
		add("max-in-flight: %d is negative; 0 means no bound", c.MaxInFlight)
	}
	if c.KeyRate < 0 {
		add("key-rps: %g is negative; 0 means no bound", c.KeyRate)
	}
	if c.MappingRefresh < 100*time.Millisecond || c.MappingRefresh > 10*time.Minute {
		add("mapping-refresh: %s must be between 100ms and 10m", c.MappingRefresh)
	}
	if c.LeaseTTL < 3*time.Second || c.LeaseTTL > 10*time.Minute {
		add("lease-ttl: %s must be between 3s and 10m", c.LeaseTTL)
	}
	if c.MappingsDir == "" {
		add("mappings-dir: must not be empty")
	}
	if c.ShutdownTimeout <= 0 {
		add("shutdown-timeout: must be positive, got %s", c.ShutdownTimeout)
	}
	return errors.Join(problems...)
}

// LogValue prints the configuration with secrets redacted.
func (c Config) LogValue() slog.Value {
	key := "unset"
	if c.SecretKey != "" {
		key = "REDACTED"
	}
	return slog.GroupValue(
		slog.String("data_dir", c.DataDir),
		slog.String("database_url", sqlstore.Redact(c.Database())),
		slog.String("grpc_addr", c.GRPCAddr),
		slog.String("http_addr", c.HTTPAddr),
		slog.String("log_level", c.LogLevel),
		slog.String("log_format", c.LogFormat),
		slog.String("secret_key", key),
		slog.String("secret_key_file", c.KeyFile()),
		slog.String("mappings_dir", c.MappingsDir),
		slog.Float64("bind_rps", c.BindRequestsPerSecond),
		slog.Int("sync_workers", c.SyncWorkers),
		slog.Duration("job_timeout", c.JobTimeout),
		slog.Duration("lease_ttl", c.LeaseTTL),
		slog.Bool("migrate", c.Migrate),
		slog.Duration("shutdown_timeout", c.ShutdownTimeout),
		slog.String("admin_addr", c.AdminAddr),
		slog.String("allow_hosts", c.AllowHosts),
		slog.String("tls_cert", c.TLSCert),
		slog.String("tls_key", c.TLSKey),
		slog.String("client_ca", c.ClientCA),
	)
}

// String is LogValue as text, for printing.
func (c Config) String() string {
	var b strings.Builder
	for _, a := range c.LogValue().Group() {
		fmt.Fprintf(&b, "%s=%s\n", a.Key, a.Value)
	}
	return b.String()
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("%q is not debug, info, warn or error", s)
	}
	return l, nil
}

func parseSecretKey(s string) (secret.Key, error) {
	id, b64, ok := strings.Cut(s, ":")
	if !ok {
		return secret.Key{}, errors.New(`want "<key id>:<base64 of 32 bytes>"`)
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return secret.Key{}, fmt.Errorf("key %q is not valid base64", id)
	}
	if len(raw) != secret.KeySize {
		return secret.Key{}, fmt.Errorf("key %q decodes to %d bytes; AES-256 needs %d", id, len(raw), secret.KeySize)
	}
	return secret.Key{ID: id, Bytes: raw}, nil
}

// NewLogger builds the process logger from the configuration.
func NewLogger(c Config, w interface{ Write([]byte) (int, error) }) (*slog.Logger, error) {
	level, err := parseLevel(c.LogLevel)
	if err != nil {
		return nil, err
	}
	opts := &slog.HandlerOptions{Level: level}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return slog.New(slog.NewTextHandler(w, opts)), nil
}

// mappingsDir is the folder the mapping registry reads. When the default folder is not there
// (the binary runs outside the repository), the mappings built into the binary are written to
// the data folder and read from there: the same files, every start, so they match the binary.
// A --mappings-dir that was given and does not exist stays an error.
func (c Config) mappingsDirs(log *slog.Logger) (builtIn, operator string, err error) {
	builtIn = filepath.Join(c.DataDir, "builtin-mappings")
	// Rewritten at every start, so the folder always holds this build's versions.
	if err := os.RemoveAll(builtIn); err != nil {
		return "", "", fmt.Errorf("clearing %s: %w", builtIn, err)
	}
	err = fs.WalkDir(mappings.Files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := mappings.Files.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Join(builtIn, filepath.Dir(p)), 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(builtIn, p), b, 0o644)
	})
	if err != nil {
		return "", "", fmt.Errorf("writing the built-in mappings to %s: %w", builtIn, err)
	}
	if _, err := os.Stat(c.MappingsDir); err == nil || c.MappingsDir != Defaults().MappingsDir {
		return builtIn, c.MappingsDir, nil
	}
	log.Info("no mappings folder here: serving the mappings built into the binary", "folder", builtIn)
	return builtIn, "", nil
}
