package cli

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Main(args, &out, &errOut)
	return out.String(), errOut.String(), code
}

func TestConfigPrecedenceAndRedaction(t *testing.T) {
	t.Setenv("HANDYBIND_LOG_LEVEL", "debug")
	t.Setenv("HANDYBIND_GRPC_ADDR", "127.0.0.1:7000")
	t.Setenv("HANDYBIND_DATABASE_URL", "postgres://app:s3cr3t-pw@db:5432/hb")
	t.Setenv("HANDYBIND_SECRET_KEY", "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")

	out, errOut, code := run(t, "config", "--grpc-addr", "127.0.0.1:7001")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "log_level=debug", "the environment sets what flags do not")
	require.Contains(t, out, "grpc_addr=127.0.0.1:7001", "a flag wins over the environment")
	require.Contains(t, out, "database_url=postgres://app:REDACTED@db:5432/hb")
	require.Contains(t, out, "secret_key=REDACTED")
	require.NotContains(t, out, "s3cr3t-pw")
	require.NotContains(t, out, "AAECAwQF")
}

func TestConfigReportsEveryProblemAtOnce(t *testing.T) {
	t.Setenv("HANDYBIND_SHUTDOWN_TIMEOUT", "soon")
	_, errOut, code := run(t, "config", "--log-level", "loud", "--http-addr", "nohostport", "--database-url", "mysql://u:pw@h/db", "--secret-key", "k1:short", "--sync-workers", "-1")
	require.Equal(t, 1, code)
	for _, want := range []string{"HANDYBIND_SHUTDOWN_TIMEOUT", "log-level", "http-addr", "database-url", "secret-key", "sync-workers: -1 must be between 0 (by database) and 256"} {
		require.Contains(t, errOut, want)
	}
	require.NotContains(t, errOut, "u:pw@")
}

func TestMigrateThenServeRefusalIsGone(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "hb.db")
	out, errOut, code := run(t, "migrate", "--database-url", db, "--log-level", "warn")
	require.Equal(t, 0, code, errOut)
	require.Regexp(t, `handybind schema at version (\d+) of (\d+); River schema up to date`, out)
	m := regexp.MustCompile(`version (\d+) of (\d+)`).FindStringSubmatch(out)
	require.Equal(t, m[1], m[2], "every migration applied")

	// A second database that was never migrated: serve refuses and names the fix.
	other := "sqlite:" + filepath.Join(dir, "other.db")
	_, errOut, code = run(t, "serve", "--database-url", other, "--data-dir", dir, "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0")
	require.Equal(t, 1, code)
	require.True(t, strings.Contains(errOut, "handybind migrate"), errOut)
}

// TestConfigAndMigrateJSON: the commands that print data print JSON for tools, with the API's
// camelCase names, and secrets stay redacted.
func TestConfigAndMigrateJSON(t *testing.T) {
	t.Setenv("HANDYBIND_SECRET_KEY", "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
	out, errOut, code := run(t, "config", "--json", "--data-dir", t.TempDir())
	require.Equal(t, 0, code, errOut)
	var cfg map[string]string
	require.NoError(t, json.Unmarshal([]byte(out), &cfg), out)
	require.Equal(t, "REDACTED", cfg["secretKey"])
	require.Equal(t, "127.0.0.1:9090", cfg["grpcAddr"])
	require.NotContains(t, out, "AAECAwQF")

	db := "sqlite:" + filepath.Join(t.TempDir(), "hb.db")
	out, errOut, code = run(t, "migrate", "--database-url", db, "--log-level", "warn", "--json")
	require.Equal(t, 0, code, errOut)
	var st struct {
		Version, Latest int
		RiverPending    bool
	}
	require.NoError(t, json.Unmarshal([]byte(out), &st), out)
	require.Equal(t, st.Latest, st.Version)
	require.False(t, st.RiverPending)
}
