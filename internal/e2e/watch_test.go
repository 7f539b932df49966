package e2e

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	pb "github.com/handybind/handybind/gen/handybind/v1"
	"github.com/handybind/handybind/internal/bind/bindsim"
	"github.com/handybind/handybind/internal/testdb"
)

// TestRunsWatchShowsProgress follows a long sales run with `handybind runs watch`, as an operator
// would from a shell: outside a terminal it prints a line at each change, and the processed count
// is seen growing at least three times before the run ends; the exit code says it succeeded.
func TestRunsWatchShowsProgress(t *testing.T) {
	t.Parallel()
	dbURL := testdb.SQLite(t)
	c := newCompany(t)
	p := start(t, dbURL, newKey(), leaseFlags...)
	connID := c.connect(t, p)
	sales := c.sales(t, 300)
	c.bind.Inject("POST /api/Orders", bindsim.Fault{Latency: 10 * time.Millisecond, Times: len(sales)})
	r, err := p.runs().TriggerSync(context.Background(), &pb.TriggerSyncRequest{ConnectionId: connID, Kind: pb.SyncKind_SYNC_KIND_SALES})
	require.NoError(t, err)

	cmd := exec.Command(binary, "runs", "watch", r.GetId(), "--addr", p.grpcAddr, "--every", "200ms")
	cmd.Env = append(os.Environ(), "HANDYBIND_API_KEY="+p.key)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	text := string(out)
	var seen []int
	for _, m := range regexp.MustCompile(`(?m)^\[[#.]+\] (\d+) of 300`).FindAllStringSubmatch(text, -1) {
		n, _ := strconv.Atoi(m[1])
		seen = append(seen, n)
	}
	require.GreaterOrEqual(t, len(seen), 3, "progress lines:\n%s", text)
	require.IsIncreasing(t, seen)
	require.Contains(t, text, "sales sync of connection "+connID+", succeeded")
	require.Contains(t, text, "processed 300 of 300")
	require.True(t, strings.Contains(text, "/s"), "a rate is shown:\n%s", text)

	// The other commands an operator uses from a terminal, with the API's JSON names.
	cli := func(args ...string) (string, error) {
		cmd := exec.Command(binary, append(args, "--addr", p.grpcAddr)...)
		cmd.Env = append(os.Environ(), "HANDYBIND_API_KEY="+p.key)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out2, err := cli("connections", "list", "--json")
	require.NoError(t, err, out2)
	require.Contains(t, out2, `"displayName": "Distribuidora"`)
	require.Contains(t, out2, `"state": "HEALTH_STATE_OK"`)
	out2, err = cli("connections", "list")
	require.NoError(t, err, out2)
	require.Contains(t, out2, connID+"  active   ok")
	out2, err = cli("runs", "list", "--connection", connID, "--kind", "sales")
	require.NoError(t, err, out2)
	require.Contains(t, out2, r.GetId()+"  sales         succeeded   300 of 300")
	out2, err = cli("runs", "get", "01900000-0000-7000-8000-000000000009")
	require.Error(t, err)
	require.Contains(t, out2, "handybind: not found: run 01900000-0000-7000-8000-000000000009")

	// Without a key, a clear refusal.
	cmd = exec.Command(binary, "runs", "get", r.GetId(), "--addr", p.grpcAddr)
	cmd.Env = append(os.Environ(), "HANDYBIND_API_KEY=")
	out, err = cmd.CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(out), "an API key is needed")
}
