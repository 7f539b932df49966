package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	pb "github.com/handybind/handybind/gen/handybind/v1"
	"github.com/handybind/handybind/internal/testdb"
)

// TestMappingPushAndDiff publishes a mapping file with `handybind mapping push` and compares it
// on a connection's last sales with `handybind mapping diff`, as an integrator would from a
// shell: a file whose test fails is refused with the failure at FILE:LINE and exit code 1; the
// fixed file becomes v3; the diff names the changed field, its old and new value and the rule.
func TestMappingPushAndDiff(t *testing.T) {
	t.Parallel()
	dbURL := testdb.SQLite(t)
	c := newCompany(t)
	p := start(t, dbURL, newKey())
	connID := c.connect(t, p)
	sales := c.sales(t, 2)
	_, err := p.runs().TriggerSync(context.Background(), &pb.TriggerSyncRequest{ConnectionId: connID, Kind: pb.SyncKind_SYNC_KIND_SALES})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return c.orderCount() == len(sales) }, 20*time.Second, 50*time.Millisecond)

	cli := func(args ...string) (string, error) {
		cmd := exec.Command(binary, append(args, "--addr", p.grpcAddr)...)
		cmd.Env = append(os.Environ(), "HANDYBIND_API_KEY="+p.key)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	raw, err := os.ReadFile("../../mappings/handy-bind/v2.yaml")
	require.NoError(t, err)
	src := regexp.MustCompile(`(?m)^version: v2\n`).ReplaceAllString(string(raw), "")
	src = strings.Replace(src, `"Vendedor: " + seller.name`, `"Vendió: " + seller.name`, 1)
	file := filepath.Join(t.TempDir(), "comments.yaml")
	require.NoError(t, os.WriteFile(file, []byte(src), 0o644))

	out, err := cli("mapping", "push", file, "--mapping", "handy-bind")
	require.Error(t, err, out)
	require.Regexp(t, regexp.QuoteMeta(file)+`:\d+: test .* failed: .*Comments`, out)
	require.Contains(t, out, file+" was not published")

	require.NoError(t, os.WriteFile(file, []byte(strings.ReplaceAll(src, `Comments: "Vendedor: `, `Comments: "Vendió: `)), 0o644))
	out, err = cli("mapping", "push", file, "--mapping", "handy-bind")
	require.NoError(t, err, out)
	require.Regexp(t, `^published handy-bind v3 \(global\), checksum [0-9a-f]{12}\n$`, out)

	out, err = cli("mapping", "diff", "--connection", connID, "--version", "v3")
	require.NoError(t, err, out)
	require.Contains(t, out, "v2 → v3 on 2 sale(s); 0 unchanged")
	require.Contains(t, out, `order.Comments: "Vendedor: Beto <beto@example.com>" → "Vendió: Beto <beto@example.com>"   ← "Vendió: " + seller.name`)
	out, err = cli("mapping", "diff", "--connection", connID, "--version", "v3", "--json")
	require.NoError(t, err, out)
	require.Contains(t, out, `"candidateVersion": "v3"`)
	require.Contains(t, out, `"path": "order.Comments"`)
	out, err = cli("mapping", "diff", "--connection", connID, "--version", "v9")
	require.Error(t, err)
	require.Contains(t, out, "not found: mapping handy-bind version v9 not found")
}
