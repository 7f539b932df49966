// Package sqlitedialect is GORM's SQLite dialect for a *sql.DB opened with the pure-Go
// modernc.org/sqlite driver. gorm.io/driver/sqlite is not used because it imports the cgo driver
// github.com/mattn/go-sqlite3; the drop-in github.com/glebarez/sqlite is not either, because its
// driver registers the database/sql name "sqlite" too and panics beside modernc.org/sqlite, which
// River needs on the same *sql.DB.
//
// It only builds SQL and reads errors: the connection is always handed in, and the schema is
// goose's, so the migrator is GORM's generic one and is not used by handybind.
package sqlitedialect

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"gorm.io/gorm"
	"gorm.io/gorm/callbacks"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/logger"
	"gorm.io/gorm/migrator"
	"gorm.io/gorm/schema"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Dialector is a gorm.Dialector for SQLite over an open connection pool.
type Dialector struct {
	// Conn is the *sql.DB (or *sql.Tx) GORM runs its statements on.
	Conn gorm.ConnPool
}

var (
	_ gorm.Dialector                     = Dialector{}
	_ gorm.ErrorTranslator               = Dialector{}
	_ gorm.SavePointerDialectorInterface = Dialector{}
)

// New returns the dialect for conn.
func New(conn gorm.ConnPool) Dialector { return Dialector{Conn: conn} }

// Name implements gorm.Dialector; GORM and its plugins key SQLite behaviour on "sqlite".
func (Dialector) Name() string { return "sqlite" }

// Initialize implements gorm.Dialector: it attaches the connection and registers GORM's
// callbacks with the clauses SQLite understands.
func (d Dialector) Initialize(db *gorm.DB) error {
	if d.Conn == nil {
		return errors.New("sqlitedialect: no connection given")
	}
	db.ConnPool = d.Conn

	var version string
	if err := db.ConnPool.QueryRowContext(context.Background(), "SELECT sqlite_version()").Scan(&version); err != nil {
		return fmt.Errorf("sqlitedialect: reading the SQLite version: %w", err)
	}
	// After a multi-row INSERT, SQLite's last insert rowid is the last row's (MySQL's is the
	// first's), so GORM must fill keys from the end: LastInsertIDReversed. RETURNING exists from
	// 3.35 on; the bundled SQLite is newer, but an older library just loses RETURNING.
	cfg := &callbacks.Config{LastInsertIDReversed: true}
	if versionAtLeast(version, 3, 35) {
		cfg.CreateClauses = []string{"INSERT", "VALUES", "ON CONFLICT", "RETURNING"}
		cfg.UpdateClauses = []string{"UPDATE", "SET", "FROM", "WHERE", "RETURNING"}
		cfg.DeleteClauses = []string{"DELETE", "FROM", "WHERE", "RETURNING"}
	}
	callbacks.RegisterDefaultCallbacks(db, cfg)

	for name, build := range clauseBuilders() {
		if _, taken := db.ClauseBuilders[name]; !taken {
			db.ClauseBuilders[name] = build
		}
	}
	return nil
}

// clauseBuilders override GORM's generic SQL where SQLite differs.
func clauseBuilders() map[string]clause.ClauseBuilder {
	return map[string]clause.ClauseBuilder{
		// SQLite accepts OFFSET only after a LIMIT; LIMIT -1 means no limit.
		"LIMIT": func(c clause.Clause, b clause.Builder) {
			limit, ok := c.Expression.(clause.Limit)
			if !ok {
				c.Build(b)
				return
			}
			n := -1
			if limit.Limit != nil && *limit.Limit >= 0 {
				n = *limit.Limit
			}
			if n >= 0 || limit.Offset > 0 {
				b.WriteString("LIMIT " + strconv.Itoa(n))
			}
			if limit.Offset > 0 {
				b.WriteString(" OFFSET " + strconv.Itoa(limit.Offset))
			}
		},
		// SQLite has no row locks (a write transaction locks the whole file): drop FOR UPDATE
		// and the like instead of sending a syntax error.
		"FOR": func(c clause.Clause, b clause.Builder) {
			if _, ok := c.Expression.(clause.Locking); ok {
				return
			}
			c.Build(b)
		},
	}
}

// Migrator implements gorm.Dialector with GORM's generic migrator. handybind's schema is made by
// goose migrations, so nothing calls it; queries that need information_schema fail on SQLite.
func (d Dialector) Migrator(db *gorm.DB) gorm.Migrator {
	return migrator.Migrator{Config: migrator.Config{
		DB:                          db,
		Dialector:                   d,
		CreateIndexAfterCreateTable: true,
	}}
}

// DataTypeOf implements gorm.Dialector with SQLite's type affinities.
func (Dialector) DataTypeOf(field *schema.Field) string {
	switch field.DataType {
	case schema.Bool:
		return "numeric"
	case schema.Int, schema.Uint:
		if field.AutoIncrement {
			return "integer PRIMARY KEY AUTOINCREMENT"
		}
		return "integer"
	case schema.Float:
		return "real"
	case schema.String:
		return "text"
	case schema.Time:
		if t, ok := field.TagSettings["TYPE"]; ok {
			return t
		}
		return "datetime"
	case schema.Bytes:
		return "blob"
	}
	return string(field.DataType)
}

// DefaultValueOf implements gorm.Dialector: NULL makes SQLite pick the next rowid for an
// auto-increment key; SQLite has no DEFAULT keyword in VALUES, so anything else errors out.
func (Dialector) DefaultValueOf(field *schema.Field) clause.Expression {
	if field.AutoIncrement {
		return clause.Expr{SQL: "NULL"}
	}
	return clause.Expr{SQL: "DEFAULT"}
}

// BindVarTo implements gorm.Dialector: SQLite takes positional ? parameters.
func (Dialector) BindVarTo(w clause.Writer, _ *gorm.Statement, _ any) { w.WriteByte('?') }

// QuoteTo implements gorm.Dialector. Each dot-separated part is quoted in backquotes (as
// gorm.io/driver/sqlite does, so the SQL is unchanged), with a backquote inside doubled.
// A part that arrives already backquoted is kept as it is.
func (Dialector) QuoteTo(w clause.Writer, name string) {
	for i, part := range strings.Split(name, ".") {
		if i > 0 {
			w.WriteByte('.')
		}
		if len(part) >= 2 && part[0] == '`' && part[len(part)-1] == '`' {
			w.WriteString(part)
			continue
		}
		w.WriteByte('`')
		w.WriteString(strings.ReplaceAll(part, "`", "``"))
		w.WriteByte('`')
	}
}

// Explain implements gorm.Dialector: it inlines vars into sql for GORM's logger and DryRun.
func (Dialector) Explain(sql string, vars ...any) string {
	return logger.ExplainSQL(sql, nil, `"`, vars...)
}

// SavePoint implements gorm.SavePointerDialectorInterface, used by nested Transaction calls.
func (Dialector) SavePoint(tx *gorm.DB, name string) error {
	return tx.Exec("SAVEPOINT " + name).Error
}

// RollbackTo implements gorm.SavePointerDialectorInterface.
func (Dialector) RollbackTo(tx *gorm.DB, name string) error {
	return tx.Exec("ROLLBACK TO SAVEPOINT " + name).Error
}

// Translate implements gorm.ErrorTranslator, used when gorm.Config.TranslateError is set: key
// and foreign-key violations become GORM's errors, told apart by SQLite's extended result code
// (modernc.org/sqlite turns extended codes on). Other errors pass through unchanged.
func (Dialector) Translate(err error) error {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return err
	}
	switch e.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return gorm.ErrDuplicatedKey
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return gorm.ErrForeignKeyViolated
	}
	return err
}

// versionAtLeast reports whether a dotted version such as "3.53.0" is major.minor or newer.
func versionAtLeast(version string, major, minor int) bool {
	parts := strings.SplitN(version, ".", 3)
	if len(parts) < 2 {
		return false
	}
	gotMajor, err1 := strconv.Atoi(parts[0])
	gotMinor, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil {
		return false
	}
	return gotMajor > major || gotMajor == major && gotMinor >= minor
}
