// Package e2e runs the handybind binary as separate processes against the simulators: killed in
// the middle of a sync, and as two replicas on one PostgreSQL database.
package e2e

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	pb "github.com/handybind/handybind/gen/handybind/v1"
	"github.com/handybind/handybind/internal/auth"
	"github.com/handybind/handybind/internal/bind"
	"github.com/handybind/handybind/internal/bind/bindsim"
	"github.com/handybind/handybind/internal/handy"
	"github.com/handybind/handybind/internal/handy/handysim"
	"github.com/handybind/handybind/internal/money"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "handybind-e2e")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "handybind")
	out, err := exec.Command("go", "build", "-o", binary, "github.com/handybind/handybind/cmd/handybind").CombinedOutput()
	if err != nil {
		panic(fmt.Sprintf("building handybind: %v\n%s", err, out))
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

// proc is one handybind process.
type proc struct {
	cmd      *exec.Cmd
	grpcAddr string
	conn     *grpc.ClientConn // calls with a platform key made by `handybind keys create`
	key      string           // that key
	log      string
}

func newKey() string {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return "k1:" + base64.StdEncoding.EncodeToString(k)
}

// start runs `handybind serve` on dbURL and waits until it is SERVING.
func start(t testing.TB, dbURL, key string, extra ...string) *proc {
	t.Helper()
	p := &proc{grpcAddr: freeAddr(t), log: filepath.Join(t.TempDir(), "handybind.log")}
	logFile, err := os.Create(p.log)
	require.NoError(t, err)
	// --sync-spread 0s: a scheduled sync is due at its slot. With the default spread, a slot that
	// begins during a test (or the catch-up at start, when it comes after the connection is made)
	// queues the connection's sync up to five minutes ahead, and a test that waits for every run
	// to end would wait on the clock. A later --sync-spread in extra wins.
	args := append([]string{"serve", "--migrate", "--database-url", dbURL, "--grpc-addr", p.grpcAddr, "--http-addr", freeAddr(t),
		"--mappings-dir", "../../mappings", "--bind-rps", "1000", "--log-level", "debug", "--sync-spread", "0s",
		"--admin-addr", freeAddr(t), "--allow-hosts", "127.0.0.1"}, extra...)
	p.cmd = exec.Command(binary, args...)
	p.cmd.Env = append(os.Environ(), "HANDYBIND_SECRET_KEY="+key, "HANDYBIND_DATA_DIR="+t.TempDir())
	if limit := os.Getenv("HANDYBIND_BENCH_SERVICE_GOMEMLIMIT"); limit != "" {
		// The service's soft memory limit alone: the simulators in this process hold the backlog.
		p.cmd.Env = append(p.cmd.Env, "GOMEMLIMIT="+limit)
	}
	p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
	require.NoError(t, p.cmd.Start())
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			_ = p.cmd.Wait()
		}
		logFile.Close()
	})
	// The log lives in the test's temporary folder, which is gone when CI reports the failure.
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("last lines of %s (pid %d):\n%s", p.grpcAddr, p.cmd.Process.Pid, tail(p.log, 100))
		}
	})
	health, err := grpc.NewClient(p.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer health.Close()
	require.Eventually(t, func() bool {
		res, err := healthpb.NewHealthClient(health).Check(context.Background(), &healthpb.HealthCheckRequest{})
		return err == nil && res.GetStatus() == healthpb.HealthCheckResponse_SERVING
	}, 30*time.Second, 50*time.Millisecond, "handybind did not start; see %s", p.log)
	p.key = mintKey(t, dbURL)
	p.conn, err = grpc.NewClient(p.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(auth.Bearer(p.key)))
	require.NoError(t, err)
	t.Cleanup(func() { p.conn.Close() })
	return p
}

// tail returns the last n lines of the log at path above debug level.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	var lines []string
	for l := range strings.Lines(string(b)) {
		if !strings.Contains(l, "level=DEBUG") {
			lines = append(lines, strings.TrimRight(l, "\n"))
		}
	}
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// mintKey makes a platform key with the CLI, as an operator would, and returns it.
func mintKey(t testing.TB, dbURL string) string {
	t.Helper()
	cmd := exec.Command(binary, "keys", "create", "--role", "platform", "--name", "e2e", "--database-url", dbURL, "--json")
	cmd.Env = append(os.Environ(), "HANDYBIND_DATA_DIR="+t.TempDir())
	out, err := cmd.Output()
	require.NoError(t, err, "keys create: %s", out)
	var created struct{ ID, Key string }
	require.NoError(t, json.Unmarshal(out, &created), "keys create --json printed %s", out)
	require.True(t, strings.HasPrefix(created.Key, created.ID+"_"), "the key starts with its id")
	return created.Key
}

func (p *proc) kill(t testing.TB) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL))
	_ = p.cmd.Wait()
}

func (p *proc) connections() pb.ConnectionServiceClient { return pb.NewConnectionServiceClient(p.conn) }
func (p *proc) runs() pb.RunServiceClient               { return pb.NewRunServiceClient(p.conn) }

// company is a Handy account and a Bind company behind HTTP servers in the test process.
type company struct {
	handy        *handysim.Sim
	bind         *bindsim.Sim
	handyURL     string
	bindURL      string
	seller       handy.User
	customerCode string
}

func newCompany(t testing.TB) *company {
	c := &company{handy: handysim.New(nil), bind: bindsim.New(), customerCode: "C-1"}
	c.handy.AddToken("h-tok")
	c.seller = c.handy.AddUser(handy.User{Name: "Beto", Username: "beto@example.com", Enabled: true})
	c.handy.AddCustomer(handy.Customer{Code: "C-1", Description: "Abarrotes Lupita"})
	c.handy.AddProduct("E-001", "Escoba", money.MustParse("836.21"), handysim.IVA(16), time.Now().Add(-time.Hour))
	c.bind.AddToken("b-tok", bind.UserProfile{Name: "Admin", Username: "admin"})
	c.bind.AddPriceList("Lista General")
	c.bind.AddCurrency("MXN", "Peso")
	c.bind.AddWarehouse("Matriz", c.bind.AddLocation("Matriz"))
	c.bind.AddAccount("105-01-001", "Clientes")
	hs, bs := httptest.NewServer(c.handy), httptest.NewServer(c.bind)
	t.Cleanup(hs.Close)
	t.Cleanup(bs.Close)
	c.handyURL, c.bindURL = hs.URL+"/api/v2", bs.URL
	return c
}

// connect creates and activates a connection and waits for its first product sync.
func (c *company) connect(t testing.TB, p *proc) string {
	t.Helper()
	ctx := context.Background()
	conn, err := p.connections().CreateConnection(ctx, &pb.CreateConnectionRequest{Connection: &pb.Connection{
		DisplayName: "Distribuidora", Tenant: "acme", Handy: &pb.HandyCredentials{BaseUrl: c.handyURL, Token: "h-tok"},
		Bind:     &pb.BindCredentials{BaseUrl: c.bindURL, UserName: "admin", Token: "b-tok"},
		Settings: &pb.ConnectionSettings{PriceList: "Lista General", Currency: "MXN", Warehouse: "Matriz", LedgerAccount: "105-01-001"},
	}})
	require.NoError(t, err)
	_, err = p.connections().ActivateConnection(ctx, &pb.ActivateConnectionRequest{Id: conn.GetId()})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(c.bind.Products()) == 1 }, 20*time.Second, 50*time.Millisecond)
	return conn.GetId()
}

func (c *company) sales(t testing.TB, n int) map[string]handy.SalesOrder {
	t.Helper()
	out := map[string]handy.SalesOrder{}
	at := time.Now().UTC().Add(-2 * time.Minute)
	for i := range n {
		o, err := c.handy.CreateSale(handysim.Sale{Customer: c.customerCode, Seller: c.seller.ID, At: at.Add(time.Duration(i) * time.Millisecond),
			Lines: []handysim.Line{{Product: "E-001", Quantity: money.NewFromInt(int64(1 + i%7))}}})
		require.NoError(t, err)
		out[strconv.FormatInt(o.ID, 10)] = o
	}
	return out
}

// requireExactlyOnce checks that every sale is in Bind once, with Handy's total.
func (c *company) requireExactlyOnce(t testing.TB, sales map[string]handy.SalesOrder) {
	t.Helper()
	seen := map[string]int{}
	for _, o := range c.bind.Orders() {
		s, ok := sales[o.PurchaseOrder]
		require.True(t, ok, "order for unknown sale %s", o.PurchaseOrder)
		require.True(t, o.Total.Equal(s.TotalSales), "sale %s: Bind %s, Handy %s", o.PurchaseOrder, o.Total, s.TotalSales)
		seen[o.PurchaseOrder]++
	}
	for id := range sales {
		require.Equal(t, 1, seen[id], "sale %s must be in Bind exactly once", id)
	}
}

func (c *company) orderCount() int { return len(c.bind.Orders()) }
