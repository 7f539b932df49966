// Package testdb gives tests a fresh, empty database of either kind.
//
// PostgreSQL is found through HANDYBIND_TEST_POSTGRES_URL (default: the local server with trust
// auth). Each call creates a throw-away database and drops it when the test ends. Where no server
// answers, the test is skipped with the reason, except when CI is set to anything, where it fails: CI must never
// skip PostgreSQL.
package testdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultPostgresURL is the maintenance database used when HANDYBIND_TEST_POSTGRES_URL is unset.
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// URLs returns one fresh database URL per backend, keyed "sqlite" and "postgres".
func URLs(t testing.TB) map[string]string {
	t.Helper()
	return map[string]string{"sqlite": SQLite(t), "postgres": Postgres(t)}
}

// SQLite returns the URL of a new SQLite file in the test's temporary folder.
func SQLite(t testing.TB) string {
	t.Helper()
	return "sqlite:" + filepath.Join(t.TempDir(), "handybind.db")
}

// Postgres returns the URL of a new, empty PostgreSQL database that is dropped after the test.
func Postgres(t testing.TB) string {
	t.Helper()
	admin := os.Getenv("HANDYBIND_TEST_POSTGRES_URL")
	if admin == "" {
		admin = DefaultPostgresURL
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("PostgreSQL is required in CI but does not answer at HANDYBIND_TEST_POSTGRES_URL: %v", err)
		}
		t.Skipf("PostgreSQL tests skipped: no server answers (%v); set HANDYBIND_TEST_POSTGRES_URL", err)
	}
	defer conn.Close(ctx)

	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "handybind_test_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("creating test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Logf("dropping test database %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("dropping test database %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("HANDYBIND_TEST_POSTGRES_URL: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}
