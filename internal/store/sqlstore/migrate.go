package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/handybind/handybind/migrations"
)

// SchemaStatus says how far a database's schema is from this build's.
type SchemaStatus struct {
	Current, Target int64 // handybind's own migrations (goose versions)
	RiverPending    []int // River migration versions not yet applied
}

// Behind reports whether any migration is missing.
func (s SchemaStatus) Behind() bool { return s.Current < s.Target || len(s.RiverPending) > 0 }

// Ahead reports whether the database was migrated by a newer build.
func (s SchemaStatus) Ahead() bool { return s.Current > s.Target }

func (s SchemaStatus) String() string {
	river := "up to date"
	if len(s.RiverPending) > 0 {
		river = fmt.Sprintf("missing %v", s.RiverPending)
	}
	return fmt.Sprintf("handybind schema at version %d of %d; River schema %s", s.Current, s.Target, river)
}

func (db *DB) gooseProvider(log *slog.Logger) (*goose.Provider, error) {
	dialect, dir := goose.DialectPostgres, "postgres"
	if db.Dialect == SQLite {
		dialect, dir = goose.DialectSQLite3, "sqlite"
	}
	sub, err := fs.Sub(migrations.FS, dir)
	if err != nil {
		return nil, err
	}
	opts := []goose.ProviderOption{}
	if log != nil {
		opts = append(opts, goose.WithSlog(log))
	}
	if db.Dialect == Postgres {
		// Replicas started together with --migrate take turns instead of racing.
		// Probe every second, for up to 5 minutes.
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300))
		if err != nil {
			return nil, err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	return goose.NewProvider(dialect, db.SQL, sub, opts...)
}

func (db *DB) riverMigrator(log *slog.Logger) (*rivermigrate.Migrator[*sql.Tx], error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var driver riverdriver.Driver[*sql.Tx] = riverdatabasesql.New(db.SQL)
	if db.Dialect == SQLite {
		driver = riversqlite.New(db.SQL)
	}
	return rivermigrate.New(driver, &rivermigrate.Config{Logger: log})
}

// Status reports how far the schema is from this build's, without changing anything.
func (db *DB) Status(ctx context.Context) (SchemaStatus, error) {
	var st SchemaStatus
	p, err := db.gooseProvider(nil)
	if err != nil {
		return st, err
	}
	if st.Current, st.Target, err = p.GetVersions(ctx); err != nil {
		return st, fmt.Errorf("reading schema version: %w", err)
	}
	m, err := db.riverMigrator(nil)
	if err != nil {
		return st, err
	}
	applied, err := m.ExistingVersions(ctx)
	if err != nil && !isMissingTable(err) {
		return st, fmt.Errorf("reading River schema version: %w", err)
	}
	done := make(map[int]bool, len(applied))
	for _, v := range applied {
		done[v.Version] = true
	}
	for _, v := range m.AllVersions() {
		if !done[v.Version] {
			st.RiverPending = append(st.RiverPending, v.Version)
		}
	}
	return st, nil
}

// migrationLockKey is the advisory lock that serialises migrations across replicas ("hbmigrat").
const migrationLockKey int64 = 0x68626d6967726174

// Migrate applies every missing migration, handybind's and River's, and returns the new status.
func (db *DB) Migrate(ctx context.Context, log *slog.Logger) (SchemaStatus, error) {
	if db.Dialect == Postgres {
		// River's migrator takes no lock of its own: replicas migrating together would both
		// create its types. One advisory lock, held on its own connection, makes them take turns
		// over both migrators (goose's own lock nests inside it under another key).
		conn, err := db.SQL.Conn(ctx)
		if err != nil {
			return SchemaStatus{}, fmt.Errorf("migrations: %w", err)
		}
		defer conn.Close()
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", migrationLockKey); err != nil {
			return SchemaStatus{}, fmt.Errorf("migrations: waiting for the migration lock: %w", err)
		}
		defer func() {
			_, _ = conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrationLockKey)
		}()
	}
	p, err := db.gooseProvider(log)
	if err != nil {
		return SchemaStatus{}, err
	}
	if _, err := p.Up(ctx); err != nil {
		return SchemaStatus{}, fmt.Errorf("applying handybind migrations: %w", err)
	}
	m, err := db.riverMigrator(log)
	if err != nil {
		return SchemaStatus{}, err
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return SchemaStatus{}, fmt.Errorf("applying River migrations: %w", err)
	}
	return db.Status(ctx)
}

// isMissingTable recognises "no migrations table yet" from either database.
func isMissingTable(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "no such table") || strings.Contains(msg, "does not exist")
}
