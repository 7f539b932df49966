package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/handybind/handybind/internal/testdb"
)

// TestMigrationsGoDownAndUpAgain runs every migration's Down and Up again on a database that holds
// a run item of each outcome, so that a release can be rolled back: no step fails, and what the
// older schema cannot hold (a waiting item) is kept as the nearest thing it can (failed).
func TestMigrationsGoDownAndUpAgain(t *testing.T) {
	t.Parallel()
	for name, url := range map[string]string{"sqlite": testdb.SQLite(t), "postgres": testdb.Postgres(t)} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			db, err := Open(ctx, url, nil)
			require.NoError(t, err)
			defer db.Close()
			_, err = db.Migrate(ctx, nil)
			require.NoError(t, err)
			const conn, run = "01a22ffd-6172-7011-b325-88e0fb77d3f4", "01a22ffd-6172-7011-b325-88e0fb77d3f5"
			exec := func(q string, args ...any) {
				t.Helper()
				if db.Dialect == Postgres {
					for i := 1; strings.Contains(q, "?"); i++ {
						q = strings.Replace(q, "?", fmt.Sprintf("$%d", i), 1)
					}
				}
				_, err := db.SQL.ExecContext(ctx, q, args...)
				require.NoError(t, err, q)
			}
			exec(`INSERT INTO connections (id, tenant, display_name, state, created_at, updated_at) VALUES (?, 'acme', 'x', 'active', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)`, conn)
			exec(`INSERT INTO runs (id, connection_id, kind, trigger, state, created_at) VALUES (?, ?, 'sales', 'manual', 'succeeded', CURRENT_TIMESTAMP)`, run, conn)
			exec(`INSERT INTO run_items (id, run_id, entity, handy_id, outcome, created_at) VALUES ('01a22ffd-6172-7011-b325-88e0fb77d3f6', ?, 'sale', '1', 'waiting', CURRENT_TIMESTAMP)`, run)

			p, err := db.gooseProvider(nil)
			require.NoError(t, err)
			_, err = p.DownTo(ctx, 2)
			require.NoError(t, err)
			var outcome string
			require.NoError(t, db.SQL.QueryRowContext(ctx, "SELECT outcome FROM run_items").Scan(&outcome))
			require.Equal(t, "failed", outcome)
			_, err = p.Up(ctx)
			require.NoError(t, err)
			st, err := db.Status(ctx)
			require.NoError(t, err)
			require.False(t, st.Behind())
			exec(`UPDATE run_items SET outcome = 'waiting'`)
		})
	}
}
