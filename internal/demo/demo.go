package demo

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	pb "github.com/handybind/handybind/gen/handybind/v1"
	"github.com/handybind/handybind/internal/app"
	"github.com/handybind/handybind/internal/auth"
	"github.com/handybind/handybind/internal/bind/bindsim"
	"github.com/handybind/handybind/internal/handy/handysim"
	"github.com/handybind/handybind/internal/money"
	"github.com/handybind/handybind/internal/store"
	"github.com/handybind/handybind/internal/store/sqlstore"
)

// Tenant is the demo company's tenant.
const Tenant = "demo"

// Run seeds both simulators, starts the service on cfg (its database is the demo's own, made
// afresh), creates and activates a connection, runs every sync, prints what happened and keeps
// serving until ctx ends.
func Run(ctx context.Context, cfg app.Config, log *slog.Logger, out io.Writer) error {
	if cfg.DatabaseURL == "" {
		path := filepath.Join(cfg.DataDir, "demo.db")
		for _, p := range []string{path, path + "-wal", path + "-shm"} {
			if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
				return err
			}
		}
		cfg.DatabaseURL = "sqlite:" + path
	}
	cfg.Migrate = true
	fmt.Fprintf(out, "handybind demo: seeding a simulated Handy account and Bind company; the database is %s\n", sqlstore.Redact(cfg.DatabaseURL))

	r := rand.New(rand.NewPCG(2026, 11))
	hs, bs := handysim.New(nil), bindsim.New()
	SeedBind(bs)
	company := SeedHandy(hs, r, time.Now().UTC().Add(-72*time.Hour))
	handyURL, err := serveSim(ctx, hs)
	if err != nil {
		return err
	}
	bindURL, err := serveSim(ctx, bs)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Handy simulator: %s/api/v2 (token %q)\nBind simulator:  %s (API key %q)\n\n", handyURL, HandyToken, bindURL, BindToken)

	// The simulators listen on loopback, which the service refuses to call unless told.
	sims := strings.TrimPrefix(handyURL, "http://") + "," + strings.TrimPrefix(bindURL, "http://")
	if cfg.AllowHosts != "" {
		sims = cfg.AllowHosts + "," + sims
	}
	cfg.AllowHosts = sims
	fmt.Fprintln(out, "Migrating the database and starting the service…")
	srv, err := app.NewServer(ctx, cfg, log)
	if err != nil {
		return err
	}
	// The demo is a partner of tenant "demo": it mints its key the way an operator would.
	apiKey, _, err := srv.KeyAdmin().Create(ctx, app.NewKeyRequest{Role: store.RolePartner, Tenant: Tenant, Name: "demo"})
	if err != nil {
		srv.Close()
		return fmt.Errorf("creating the demo's API key: %w", err)
	}
	if err := srv.Listen(ctx); err != nil {
		srv.Close()
		return err
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()

	conn, err := grpc.NewClient(srv.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithPerRPCCredentials(auth.Bearer(apiKey)))
	if err != nil {
		return err
	}
	defer conn.Close()
	d := &driver{out: out, conns: pb.NewConnectionServiceClient(conn), runs: pb.NewRunServiceClient(conn), handyURL: handyURL, bindURL: bindURL}
	if err := d.story(ctx, hs, company, r); err != nil {
		return err
	}
	fmt.Fprintf(out, "\nThe service keeps running: gRPC on %s, REST on http://%s, metrics on http://%s/metrics. Ctrl-C stops it.\n"+
		"API key of the demo's tenant (partner role, tenant %q):\n  %s\n"+
		"Open the console at http://%s/console/ and sign in with that key.\nTry:\n"+
		"  curl -H 'Authorization: Bearer %s' http://%s/v1/connections/%s/runs\n"+
		"  HANDYBIND_API_KEY=%s handybind runs list --addr %s --connection %s\n"+
		"  grpcurl -plaintext -H 'authorization: Bearer %s' %s list    (in the repository: go tool -modfile=tools/go.mod grpcurl …)\n",
		srv.GRPCAddr(), srv.HTTPAddr(), srv.AdminAddr(), Tenant, apiKey, srv.HTTPAddr(), apiKey, srv.HTTPAddr(), d.connID,
		apiKey, srv.GRPCAddr(), d.connID, apiKey, srv.GRPCAddr())
	return <-served
}

func serveSim(ctx context.Context, h http.Handler) (string, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(lis) }()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	return "http://" + lis.Addr().String(), nil
}

type driver struct {
	out               io.Writer
	conns             pb.ConnectionServiceClient
	runs              pb.RunServiceClient
	handyURL, bindURL string
	connID            string
	printed           map[string]bool // runs already reported
}

// story is the demo: what a company's first day with handybind looks like.
func (d *driver) story(ctx context.Context, hs *handysim.Sim, co Company, r *rand.Rand) error {
	c, err := d.conns.CreateConnection(ctx, &pb.CreateConnectionRequest{Connection: &pb.Connection{
		DisplayName: "Distribuidora del Norte",
		Handy:       &pb.HandyCredentials{BaseUrl: d.handyURL + "/api/v2", Token: HandyToken},
		Bind:        &pb.BindCredentials{BaseUrl: d.bindURL, UserName: "admin", Token: BindToken},
		Settings:    &pb.ConnectionSettings{PriceList: "Lista General", Currency: "MXN", Warehouse: "Almacén Matriz", LedgerAccount: "105-01-001"},
	}})
	if err != nil {
		return fmt.Errorf("creating the connection: %w", err)
	}
	d.connID = c.GetId()
	if _, err := d.conns.ActivateConnection(ctx, &pb.ActivateConnectionRequest{Id: c.GetId()}); err != nil {
		return fmt.Errorf("activating the connection: %w", err)
	}
	fmt.Fprintf(d.out, "Connection %s activated (mapping %s); the initial product sync runs.\n", c.GetId(), c.GetMappingVersion())
	if err := d.report(ctx, pb.SyncKind_SYNC_KIND_PRODUCTS, ""); err != nil {
		return err
	}

	// A product added in Handy after the product sync: a sale with it must wait (S2).
	hs.AddProduct("P-999", "Producto nuevo sin sincronizar", money.MustParse("50"), handysim.IVA(16), time.Now().UTC())
	now := time.Now().UTC()
	var ids []int64
	for i := range 200 {
		sale := handysim.Sale{
			Customer: co.Customers[r.IntN(len(co.Customers))].Code,
			Seller:   co.Sellers[r.IntN(len(co.Sellers))].ID,
			At:       now.Add(-time.Duration(r.IntN(600)) * time.Second),
		}
		for range 1 + r.IntN(6) {
			code := co.Products[r.IntN(len(co.Products))]
			line := handysim.Line{Product: code, Quantity: money.NewFromInt(int64(1 + r.IntN(24))), OptionalTax: co.WithIEPS[code]}
			if r.IntN(5) == 0 {
				line.DiscountPercent = money.NewFromInt(int64(5 * (1 + r.IntN(3))))
			}
			sale.Lines = append(sale.Lines, line)
		}
		if i == 57 {
			sale.Lines = append(sale.Lines, handysim.Line{Product: "P-999", Quantity: money.NewFromInt(1)})
		}
		o, err := hs.CreateSale(sale)
		if err != nil {
			return err
		}
		ids = append(ids, o.ID)
	}
	fmt.Fprintf(d.out, "\n200 sales captured in Handy by 5 sellers; the sales sync runs.\n")
	if err := d.trigger(ctx, pb.SyncKind_SYNC_KIND_SALES); err != nil {
		return err
	}

	// Sellers fix and cancel some sales.
	later := time.Now().UTC()
	for _, id := range ids[:5] {
		if _, err := hs.EditSale(id, handysim.Sale{Customer: co.Customers[0].Code, Seller: co.Sellers[2].ID, At: later,
			Lines: []handysim.Line{{Product: co.Products[0], Quantity: money.NewFromInt(3)}}}); err != nil {
			return err
		}
	}
	for _, id := range ids[5:10] {
		if err := hs.DeleteSale(id, later, co.Sellers[0].ID); err != nil {
			return err
		}
	}
	fmt.Fprintf(d.out, "\n5 sales edited and 5 deleted in Handy; the syncs run again.\n")
	if err := d.trigger(ctx, pb.SyncKind_SYNC_KIND_SALES); err != nil {
		return err
	}
	if err := d.trigger(ctx, pb.SyncKind_SYNC_KIND_DELETED_SALES); err != nil {
		return err
	}
	fmt.Fprintf(d.out, "\nThe next product sync brings P-999 to Bind, and the sale that waited for it goes through.\n")
	if err := d.trigger(ctx, pb.SyncKind_SYNC_KIND_PRODUCTS); err != nil {
		return err
	}
	return d.trigger(ctx, pb.SyncKind_SYNC_KIND_SALES)
}

func (d *driver) trigger(ctx context.Context, kind pb.SyncKind) error {
	run, err := d.runs.TriggerSync(ctx, &pb.TriggerSyncRequest{ConnectionId: d.connID, Kind: kind})
	if err != nil {
		return fmt.Errorf("triggering a %s sync: %w", kind, err)
	}
	return d.report(ctx, kind, run.GetId())
}

// report waits for a run to end, then prints every run of the connection that ended since the
// last report (scheduled runs too: the schedules are on, as in production), with what each did and
// why records were skipped or failed.
func (d *driver) report(ctx context.Context, kind pb.SyncKind, runID string) error {
	if d.printed == nil {
		d.printed = map[string]bool{}
	}
	var ended []*pb.Run
	deadline := time.Now().Add(2 * time.Minute)
	for {
		runs, err := d.runs.ListRuns(ctx, &pb.ListRunsRequest{ConnectionId: d.connID, PageSize: 50})
		if err != nil {
			return err
		}
		ended = nil
		waited := false
		for _, r := range runs.GetRuns() {
			if r.GetFinishTime() == nil || d.printed[r.GetId()] {
				continue
			}
			ended = append(ended, r)
			if (runID == "" && r.GetKind() == kind) || r.GetId() == runID {
				waited = true
			}
		}
		if waited {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the %s sync did not finish within 2 minutes", kind)
		}
		time.Sleep(100 * time.Millisecond)
	}
	sort.Slice(ended, func(i, j int) bool {
		return ended[i].GetFinishTime().AsTime().Before(ended[j].GetFinishTime().AsTime())
	})
	for _, r := range ended {
		d.printed[r.GetId()] = true
		if err := d.printRun(ctx, r); err != nil {
			return err
		}
	}
	return nil
}

func (d *driver) printRun(ctx context.Context, run *pb.Run) error {
	trigger := ""
	if run.GetTrigger() == pb.RunTrigger_RUN_TRIGGER_SCHEDULE {
		trigger = " (scheduled)"
	}
	fmt.Fprintf(d.out, "  %s run %s%s: %s in %s\n",
		strings.ToLower(strings.TrimPrefix(run.GetKind().String(), "SYNC_KIND_")), run.GetId(), trigger, strings.ToLower(strings.TrimPrefix(run.GetState().String(), "RUN_STATE_")),
		run.GetFinishTime().AsTime().Sub(run.GetStartTime().AsTime()).Round(time.Millisecond))
	if run.GetError() != "" && run.GetState() == pb.RunState_RUN_STATE_FAILED {
		fmt.Fprintf(d.out, "    %s\n", run.GetError())
	}
	reasons := map[string]int{}
	counts := map[string]map[string]int{} // entity → outcome → n
	var token string
	for {
		items, err := d.runs.ListRunItems(ctx, &pb.ListRunItemsRequest{RunId: run.GetId(), PageSize: 1000, PageToken: token})
		if err != nil {
			return err
		}
		for _, it := range items.GetItems() {
			o := it.GetOutcome()
			entity := strings.ToLower(strings.TrimPrefix(it.GetEntity().String(), "RUN_ITEM_ENTITY_"))
			if counts[entity] == nil {
				counts[entity] = map[string]int{}
			}
			counts[entity][strings.ToLower(strings.TrimPrefix(o.String(), "RUN_ITEM_OUTCOME_"))]++
			if o == pb.RunItemOutcome_RUN_ITEM_OUTCOME_FAILED || o == pb.RunItemOutcome_RUN_ITEM_OUTCOME_WAITING || o == pb.RunItemOutcome_RUN_ITEM_OUTCOME_SKIPPED || o == pb.RunItemOutcome_RUN_ITEM_OUTCOME_DELETED {
				label := strings.ToLower(strings.TrimPrefix(o.String(), "RUN_ITEM_OUTCOME_"))
				reasons[fmt.Sprintf("%s %s %s: %s", label, entity, it.GetHandyId(), it.GetReason())]++
			}
		}
		if token = items.GetNextPageToken(); token == "" {
			break
		}
	}
	entities := make([]string, 0, len(counts))
	for e := range counts {
		entities = append(entities, e)
	}
	sort.Strings(entities)
	for _, e := range entities {
		var parts []string
		for _, o := range []string{"created", "updated", "unchanged", "deleted", "skipped", "waiting", "failed"} {
			if n := counts[e][o]; n > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", n, o))
			}
		}
		fmt.Fprintf(d.out, "    %ss: %s\n", e, strings.Join(parts, ", "))
	}
	if len(counts) == 0 {
		fmt.Fprintf(d.out, "    nothing to do\n")
	}
	lines := make([]string, 0, len(reasons))
	for l := range reasons {
		lines = append(lines, l)
	}
	sort.Strings(lines)
	for _, l := range lines {
		fmt.Fprintf(d.out, "    %s\n", l)
	}
	return nil
}
