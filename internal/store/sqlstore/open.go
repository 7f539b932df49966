// Package sqlstore implements store.Store with GORM on PostgreSQL (production) and SQLite (the
// embedded default, pure Go). Both share one *sql.DB with River, so jobs can be enqueued in the
// same transaction as the state change that asks for them.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	// The pure-Go SQLite driver, registered as "sqlite"; no cgo needed.
	_ "modernc.org/sqlite"

	"github.com/handybind/handybind/internal/store/sqlstore/sqlitedialect"
)

// Dialect names the database behind a DB.
type Dialect string

// The supported databases.
const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

// Target is a parsed database URL.
type Target struct {
	Dialect Dialect
	// DSN is what the driver is given: the URL itself for PostgreSQL, a file: DSN for SQLite.
	DSN string
	// Path is the SQLite file; empty for PostgreSQL.
	Path string
}

// ParseURL reads a database URL: postgres://… or postgresql://… for PostgreSQL; sqlite:PATH,
// sqlite://PATH or file:PATH for a SQLite file, created on first use.
func ParseURL(raw string) (Target, error) {
	switch {
	case strings.HasPrefix(raw, "postgres://"), strings.HasPrefix(raw, "postgresql://"):
		if _, err := url.Parse(raw); err != nil {
			return Target{}, fmt.Errorf("database URL is not a valid URL: %s", Redact(raw))
		}
		return Target{Dialect: Postgres, DSN: raw}, nil
	case strings.HasPrefix(raw, "sqlite:"), strings.HasPrefix(raw, "file:"):
		path := strings.TrimPrefix(strings.TrimPrefix(raw, "sqlite:"), "file:")
		path = strings.TrimPrefix(path, "//")
		if i := strings.IndexByte(path, '?'); i >= 0 {
			return Target{}, fmt.Errorf("database URL %q: SQLite options are set by handybind; remove %q", raw, path[i:])
		}
		if path == "" {
			return Target{}, fmt.Errorf("database URL %q names no file", raw)
		}
		// WAL lets readers run beside the writer; immediate transactions and a busy timeout make
		// concurrent writers wait instead of failing with SQLITE_BUSY. synchronous=NORMAL is WAL's
		// recommended setting: a commit survives the process dying, and the database stays
		// consistent if the machine loses power (the last commits may then be lost).
		dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_txlock=immediate"
		return Target{Dialect: SQLite, DSN: dsn, Path: path}, nil
	}
	return Target{}, fmt.Errorf("database URL %q: want postgres://…, postgresql://… or sqlite:PATH", Redact(raw))
}

// Redact hides the password of a database URL, for logs and messages.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<unparseable database URL>"
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "REDACTED")
		}
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "REDACTED")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// DB is an open database: the *sql.DB that River also uses, and GORM on top of it.
type DB struct {
	Dialect Dialect
	SQL     *sql.DB
	// ListenPool is PostgreSQL's dedicated pool for River's LISTEN/NOTIFY; nil on SQLite.
	ListenPool *pgxpool.Pool

	gorm  *gorm.DB
	close func()
	count *counter
	// readGorm is SQLite's pool of read-only connections; nil on PostgreSQL.
	readGorm *gorm.DB
}

// Open connects to the database named by rawURL. It does not migrate.
func Open(ctx context.Context, rawURL string, log *slog.Logger) (*DB, error) {
	t, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	cfg := &gorm.Config{
		Logger:                 newGormLogger(log),
		NowFunc:                func() time.Time { return time.Now().UTC() },
		SkipDefaultTransaction: true,
		// GORM's statement cache stays off where a transaction can hold a connection the cache
		// needs: a statement being prepared outside a transaction waits for a connection while
		// the transaction holding it waits for that statement, and neither moves (SQLite's one
		// writer deadlocked so). pgx caches prepared statements per connection itself; SQLite's
		// read-only pool, which never holds a transaction, turns it on below.
		PrepareStmt:    false,
		TranslateError: false,
	}
	switch t.Dialect {
	case Postgres:
		return openPostgres(ctx, t, cfg)
	default:
		return openSQLite(ctx, t, cfg)
	}
}

func openPostgres(ctx context.Context, t Target, cfg *gorm.Config) (*DB, error) {
	pool, err := pgxpool.New(ctx, t.DSN)
	if err != nil {
		return nil, fmt.Errorf("postgres %s: %w", Redact(t.DSN), err)
	}
	listenCfg := pool.Config().Copy()
	listenCfg.MaxConns = 1
	listen, err := pgxpool.NewWithConfig(ctx, listenCfg)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres %s: %w", Redact(t.DSN), err)
	}
	sqlDB := stdlib.OpenDBFromPool(pool)
	closeAll := func() { _ = sqlDB.Close(); listen.Close(); pool.Close() }
	if err := sqlDB.PingContext(ctx); err != nil {
		closeAll()
		return nil, fmt.Errorf("postgres %s is not answering: %w", Redact(t.DSN), err)
	}
	g, err := gorm.Open(postgres.New(postgres.Config{Conn: sqlDB}), cfg)
	if err != nil {
		closeAll()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return newDB(Postgres, sqlDB, listen, g, closeAll)
}

func openSQLite(ctx context.Context, t Target, cfg *gorm.Config) (*DB, error) {
	if dir := filepath.Dir(t.Path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("sqlite: creating folder for %s: %w", t.Path, err)
		}
	}
	// The file holds sealed tokens and customer data: create it readable by its owner only (SQLite
	// gives its -wal and -shm files the same mode).
	if f, err := os.OpenFile(t.Path, os.O_RDONLY|os.O_CREATE, 0o600); err == nil {
		_ = f.Close()
	} else {
		return nil, fmt.Errorf("sqlite: creating %s: %w", t.Path, err)
	}
	sqlDB, err := sql.Open("sqlite", t.DSN)
	if err != nil {
		return nil, fmt.Errorf("sqlite %s: %w", t.Path, err)
	}
	// One connection, as River advises for SQLite: writers never contend for the file lock.
	sqlDB.SetMaxOpenConns(1)
	if err := sqlDB.PingContext(ctx); err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("sqlite %s: %w", t.Path, err)
	}
	g, err := gorm.Open(sqlitedialect.New(sqlDB), cfg)
	if err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	// Readers: WAL lets any number of them run beside the writer, each on its own connection,
	// so that API reads neither wait for a sync's writes nor for each other.
	readDB, err := sql.Open("sqlite", t.DSN+"&_pragma=query_only(1)")
	if err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("sqlite %s: %w", t.Path, err)
	}
	readDB.SetMaxOpenConns(readers)
	readDB.SetMaxIdleConns(readers)
	closeAll := func() { _ = readDB.Close(); _ = sqlDB.Close() }
	// Reads are parsed once per connection and reused. The cache is bounded, as lists with IN (…)
	// of many sizes would otherwise grow it without end.
	readCfg := *cfg
	readCfg.PrepareStmt, readCfg.PrepareStmtMaxSize, readCfg.PrepareStmtTTL = true, 500, time.Hour
	rg, err := gorm.Open(sqlitedialect.New(readDB), &readCfg)
	if err != nil {
		closeAll()
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	db, err := newDB(SQLite, sqlDB, nil, g, closeAll)
	if err != nil {
		return nil, err
	}
	if err := db.count.register(rg); err != nil {
		closeAll()
		return nil, err
	}
	db.readGorm = rg
	return db, nil
}

func newDB(d Dialect, sqlDB *sql.DB, listen *pgxpool.Pool, g *gorm.DB, closeAll func()) (*DB, error) {
	db := &DB{Dialect: d, SQL: sqlDB, ListenPool: listen, gorm: g, close: closeAll, count: &counter{}}
	if err := db.count.register(g); err != nil {
		closeAll()
		return nil, err
	}
	return db, nil
}

// readers is the size of SQLite's read pool: enough to keep every core busy with reads.
var readers = max(2, min(8, 2*runtime.NumCPU()))

// Close releases the database.
func (db *DB) Close() { db.close() }

// gormLogger sends GORM's slow-query and error reports to slog, without query arguments (they can
// hold customer data) and without logging a miss as an error.
type gormLogger struct{ log *slog.Logger }

func newGormLogger(log *slog.Logger) logger.Interface {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return gormLogger{log: log}
}

func (l gormLogger) LogMode(logger.LogLevel) logger.Interface { return l }
func (l gormLogger) Info(ctx context.Context, msg string, args ...any) {
	l.log.DebugContext(ctx, "gorm: "+fmt.Sprintf(msg, args...))
}
func (l gormLogger) Warn(ctx context.Context, msg string, args ...any) {
	l.log.WarnContext(ctx, "gorm: "+fmt.Sprintf(msg, args...))
}
func (l gormLogger) Error(ctx context.Context, msg string, args ...any) {
	l.log.ErrorContext(ctx, "gorm: "+fmt.Sprintf(msg, args...))
}

const slowQuery = 500 * time.Millisecond

func (l gormLogger) Trace(ctx context.Context, begin time.Time, fc func() (string, int64), err error) {
	elapsed := time.Since(begin)
	switch {
	case err != nil && !errors.Is(err, gorm.ErrRecordNotFound) && !errors.Is(err, context.Canceled):
		l.log.DebugContext(ctx, "query failed", "elapsed", elapsed, "error", err)
	case elapsed > slowQuery:
		l.log.WarnContext(ctx, "slow query", "elapsed", elapsed)
	}
}
