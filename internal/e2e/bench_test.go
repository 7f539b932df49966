package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/handybind/handybind/gen/handybind/v1"
	"github.com/handybind/handybind/internal/testdb"
)

// peakRSS is the most memory the process ever held resident (VmHWM), in MB.
func peakRSS(tb testing.TB, pid int) float64 {
	tb.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			if err != nil {
				tb.Fatal(err)
			}
			return float64(kb) / 1024
		}
	}
	tb.Fatal("no VmHWM in /proc status")
	return 0
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[min(len(d)-1, int(float64(len(d))*p))]
}

// benchSeconds is how long each load phase lasts: HANDYBIND_BENCH_SECONDS, 5 by default (CI runs
// the benchmarks once, shorter).
func benchSeconds() time.Duration {
	if s, err := strconv.Atoi(os.Getenv("HANDYBIND_BENCH_SECONDS")); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	return 5 * time.Second
}

// BenchmarkListConnectionsUnderLoad drives the built binary (SQLite, the embedded default) with
// ListConnections calls over gRPC, a page of 100 out of 1,000 connections: first as fast as 32
// callers can go, which measures capacity; then open-loop at three times that rate, where the
// server must refuse what it cannot serve at once (RESOURCE_EXHAUSTED) and keep its memory. The
// load generator shares the machine's cores with the server.
func BenchmarkListConnectionsUnderLoad(b *testing.B) {
	for b.Loop() {
		p := start(b, testdb.SQLite(b), newKey(), "--log-level", "warn", "--key-rps", "0", "--no-schedule")
		ctx := context.Background()
		for i := range 1000 {
			if _, err := p.connections().CreateConnection(ctx, &pb.CreateConnectionRequest{Connection: &pb.Connection{
				DisplayName: fmt.Sprintf("Distribuidora %04d", i), Tenant: "acme"}}); err != nil {
				b.Fatal(err)
			}
		}
		call := func() (time.Duration, error) {
			start := time.Now()
			res, err := p.connections().ListConnections(ctx, &pb.ListConnectionsRequest{Tenant: "acme", PageSize: 100})
			if err == nil && len(res.GetConnections()) != 100 {
				b.Fatalf("a page of %d connections, want 100", len(res.GetConnections()))
			}
			return time.Since(start), err
		}
		phase := benchSeconds()

		// Capacity: 32 callers back to back.
		var mu sync.Mutex
		var lat []time.Duration
		var served, refused atomic.Int64
		deadline := time.Now().Add(phase)
		var wg sync.WaitGroup
		for range 32 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Now().Before(deadline) {
					d, err := call()
					switch status.Code(err) {
					case codes.OK:
						served.Add(1)
						mu.Lock()
						lat = append(lat, d)
						mu.Unlock()
					case codes.ResourceExhausted:
						refused.Add(1)
					default:
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		capacity := float64(served.Load()) / phase.Seconds()
		b.ReportMetric(capacity, "rps")
		b.ReportMetric(float64(percentile(lat, 0.99).Microseconds())/1000, "p99_ms")
		b.ReportMetric(float64(percentile(lat, 0.50).Microseconds())/1000, "p50_ms")

		// Three times capacity, open loop: a call every interval whether or not earlier ones
		// were answered.
		lat, served, refused = nil, atomic.Int64{}, atomic.Int64{}
		var refusedLat []time.Duration
		rate := 3 * capacity
		interval := time.Duration(float64(time.Second) / rate)
		deadline = time.Now().Add(phase)
		for next := time.Now(); next.Before(deadline); next = next.Add(interval) {
			time.Sleep(time.Until(next))
			wg.Add(1)
			go func() {
				defer wg.Done()
				d, err := call()
				mu.Lock()
				defer mu.Unlock()
				switch status.Code(err) {
				case codes.OK:
					served.Add(1)
					lat = append(lat, d)
				case codes.ResourceExhausted:
					refused.Add(1)
					refusedLat = append(refusedLat, d)
				default:
					b.Error(err)
				}
			}()
		}
		wg.Wait()
		total := served.Load() + refused.Load()
		b.ReportMetric(rate, "overload_rps")
		b.ReportMetric(float64(served.Load())/phase.Seconds(), "overload_served_rps")
		b.ReportMetric(float64(refused.Load())/float64(max(total, 1)), "overload_refused_frac")
		b.ReportMetric(float64(percentile(refusedLat, 0.99).Microseconds())/1000, "refusal_p99_ms")
		b.ReportMetric(float64(percentile(lat, 0.99).Microseconds())/1000, "overload_p99_ms")
		b.ReportMetric(peakRSS(b, p.cmd.Process.Pid), "peak_rss_MB")
	}
}

// BenchmarkBacklogMemory syncs a backlog of sales in one run with the built binary (SQLite) and
// reports the process's peak resident memory: the sync streams Handy's pages and never holds the
// backlog whole. HANDYBIND_BENCH_SALES sets the size (100,000 by default);
// HANDYBIND_BENCH_SERVICE_GOMEMLIMIT gives the service a soft memory limit (GOMEMLIMIT).
func BenchmarkBacklogMemory(b *testing.B) {
	n := 100_000
	if s, err := strconv.Atoi(os.Getenv("HANDYBIND_BENCH_SALES")); err == nil && s > 0 {
		n = s
	}
	for b.Loop() {
		c := newCompany(b)
		p := start(b, testdb.SQLite(b), newKey(), "--log-level", "warn", "--no-schedule")
		connID := c.connect(b, p)
		sales := c.sales(b, n)
		startRSS := peakRSS(b, p.cmd.Process.Pid)
		begin := time.Now()
		if _, err := p.runs().TriggerSync(context.Background(), &pb.TriggerSyncRequest{ConnectionId: connID, Kind: pb.SyncKind_SYNC_KIND_SALES}); err != nil {
			b.Fatal(err)
		}
		for c.orderCount() < len(sales) {
			if time.Since(begin) > 30*time.Minute {
				b.Fatalf("%d of %d sales in Bind after 30 minutes", c.orderCount(), len(sales))
			}
			time.Sleep(200 * time.Millisecond)
		}
		elapsed := time.Since(begin)
		b.ReportMetric(float64(n), "sales")
		b.ReportMetric(float64(n)/elapsed.Seconds(), "sales/s")
		b.ReportMetric(startRSS, "rss_before_MB")
		b.ReportMetric(peakRSS(b, p.cmd.Process.Pid), "peak_rss_MB")
	}
}

// cpuSeconds is the CPU time a process has used (user and system), from /proc/<pid>/stat.
func cpuSeconds(tb testing.TB, pid int) float64 {
	tb.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		tb.Fatal(err)
	}
	// The fields after the command name, which is in parentheses and may hold spaces.
	fields := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	utime, _ := strconv.ParseFloat(fields[11], 64)
	stime, _ := strconv.ParseFloat(fields[12], 64)
	return (utime + stime) / 100 // clock ticks; 100 a second on Linux
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// BenchmarkFleetOnOneReplica: one replica on PostgreSQL with HANDYBIND_BENCH_CONNECTIONS active
// connections (10,000 by default), each its own Handy account. At start the schedules fan out a
// sales and a deleted-sales sync of every connection, each at its stable offset within
// --sync-spread (HANDYBIND_BENCH_SPREAD_SECONDS, 300 by default). It reports how late after its
// scheduled second each sync started, how long the fan-out took, the peak memory, and the CPU
// the replica uses while no sync runs (idle overhead).
func BenchmarkFleetOnOneReplica(b *testing.B) {
	benchFleet(b, envInt("HANDYBIND_BENCH_CONNECTIONS", 10000), 1)
}

// BenchmarkFleetOnThreeReplicas is the same with three replicas sharing one database and
// HANDYBIND_BENCH_CONNECTIONS connections in all (30,000 by default): the slot's syncs are shared
// out among them by the queue. Memory is the largest replica's; idle CPU, the three together.
func BenchmarkFleetOnThreeReplicas(b *testing.B) {
	benchFleet(b, envInt("HANDYBIND_BENCH_CONNECTIONS", 30000), 3)
}

func benchFleet(b *testing.B, n, replicas int) {
	spread := time.Duration(envInt("HANDYBIND_BENCH_SPREAD_SECONDS", 300)) * time.Second
	for b.Loop() {
		ctx := context.Background()
		dbURL := testdb.Postgres(b)
		key := newKey()
		c := newCompany(b)
		setup := start(b, dbURL, key, "--log-level", "warn", "--no-schedule", "--key-rps", "0")
		first := c.connect(b, setup)
		for i := 1; i < n; i++ {
			tok := fmt.Sprintf("h-tok-%d", i)
			c.handy.AddToken(tok)
			if _, err := setup.connections().CreateConnection(ctx, &pb.CreateConnectionRequest{Connection: &pb.Connection{
				DisplayName: fmt.Sprintf("Distribuidora %05d", i), Tenant: "acme", Handy: &pb.HandyCredentials{BaseUrl: c.handyURL, Token: tok},
				Bind:     &pb.BindCredentials{BaseUrl: c.bindURL, UserName: "admin", Token: "b-tok"},
				Settings: &pb.ConnectionSettings{PriceList: "Lista General", Currency: "MXN", Warehouse: "Matriz", LedgerAccount: "105-01-001"},
			}}); err != nil {
				b.Fatal(err)
			}
		}
		pg, err := pgx.Connect(ctx, dbURL)
		if err != nil {
			b.Fatal(err)
		}
		defer pg.Close(ctx)
		// The others take the first one's resolved Bind ids, as if each had been activated.
		if _, err := pg.Exec(ctx, `UPDATE connections AS c SET state = 'active', price_list_id = f.price_list_id,
			currency_id = f.currency_id, warehouse_id = f.warehouse_id, location_id = f.location_id, account_id = f.account_id,
			user_id = f.user_id, resolved_at = f.resolved_at FROM connections AS f WHERE f.id = $1 AND c.id <> f.id`, first); err != nil {
			b.Fatal(err)
		}
		if err := setup.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			b.Fatal(err)
		}
		_ = setup.cmd.Wait()

		begin := time.Now()
		procs := make([]*proc, replicas)
		for i := range procs {
			procs[i] = start(b, dbURL, key, "--log-level", "warn", "--key-rps", "0", "--sync-spread", spread.String())
		}
		syncs := 2 * n // sales and deleted sales
		var done, inserted int
		var fanoutTook time.Duration
		var fanoutDone time.Time // the slot's runs were all created by then; later ones are the next slot's
		for done < syncs {
			if time.Since(begin) > spread+10*time.Minute {
				b.Fatalf("%d of %d scheduled syncs done after %s", done, syncs, time.Since(begin))
			}
			time.Sleep(time.Second)
			if fanoutTook == 0 {
				if err := pg.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'handybind.sync'`).Scan(&inserted); err != nil {
					b.Fatal(err)
				}
				if inserted >= syncs {
					fanoutTook, fanoutDone = time.Since(begin), time.Now()
				}
			}
			if fanoutDone.IsZero() {
				continue
			}
			if err := pg.QueryRow(ctx, `SELECT count(*) FROM runs WHERE trigger = 'schedule' AND finished_at IS NOT NULL AND created_at <= $1`, fanoutDone).Scan(&done); err != nil {
				b.Fatal(err)
			}
		}

		// How late each sync started after its second of the slot (or after it was queued, for the
		// slot the replica caught up with as it started: those seconds had passed).
		var states string
		if err := pg.QueryRow(ctx, `SELECT string_agg(state || ' ' || n, ', ') FROM (SELECT state, count(*) n FROM runs WHERE trigger = 'schedule' AND created_at <= $1 GROUP BY 1) s`, fanoutDone).Scan(&states); err != nil {
			b.Fatal(err)
		}
		b.Logf("scheduled runs by state: %s", states)
		rows, err := pg.Query(ctx, `SELECT EXTRACT(EPOCH FROM r.started_at - GREATEST(j.scheduled_at, j.created_at))
			FROM runs r JOIN river_job j ON j.kind = 'handybind.sync' AND (j.args->>'run_id')::uuid = r.id
			WHERE r.trigger = 'schedule' AND r.started_at IS NOT NULL AND r.created_at <= $1`, fanoutDone)
		if err != nil {
			b.Fatal(err)
		}
		var late []time.Duration
		for rows.Next() {
			var seconds float64
			if err := rows.Scan(&seconds); err != nil {
				b.Fatal(err)
			}
			late = append(late, max(0, time.Duration(seconds*float64(time.Second))))
		}
		rows.Close()
		if len(late) != syncs {
			b.Errorf("%d scheduled runs started, want %d", len(late), syncs)
		}
		failed := 0
		if err := pg.QueryRow(ctx, `SELECT count(*) FROM runs WHERE trigger = 'schedule' AND state NOT IN ('succeeded', 'partial') AND created_at <= $1`, fanoutDone).Scan(&failed); err != nil {
			b.Fatal(err)
		}
		if failed > 0 {
			b.Errorf("%d scheduled syncs did not succeed", failed)
		}

		// Idle: the slot's work is done; what does the replica spend waiting for the next one?
		cpu := func() (sum float64) {
			for _, p := range procs {
				sum += cpuSeconds(b, p.cmd.Process.Pid)
			}
			return sum
		}
		// Idle is a window in which no sync ran and no slot fanned out: the next slot may have
		// begun, so a window that saw one is measured again later (the second half of a slot is
		// quiet).
		idle := -1.0
		for idle < 0 {
			if time.Since(begin) > spread+30*time.Minute {
				b.Fatal("no quiet window to measure idle CPU in")
			}
			cpu0, t0 := cpu(), time.Now()
			time.Sleep(time.Duration(envInt("HANDYBIND_BENCH_IDLE_SECONDS", 20)) * time.Second)
			used, t1 := cpu()-cpu0, time.Now()
			var busy int
			if err := pg.QueryRow(ctx, `SELECT count(*) FROM runs WHERE (started_at < $2 AND (finished_at IS NULL OR finished_at > $1))
				OR created_at BETWEEN $1 AND $2`, t0, t1).Scan(&busy); err != nil {
				b.Fatal(err)
			}
			if busy == 0 {
				idle = used / t1.Sub(t0).Seconds()
			}
		}
		rss := 0.0
		for _, p := range procs {
			rss = max(rss, peakRSS(b, p.cmd.Process.Pid))
		}

		b.ReportMetric(float64(n), "connections")
		b.ReportMetric(fanoutTook.Seconds(), "fanout_s")
		b.ReportMetric(percentile(late, 0.5).Seconds(), "late_p50_s")
		b.ReportMetric(percentile(late, 0.99).Seconds(), "late_p99_s")
		b.ReportMetric(percentile(late, 1).Seconds(), "late_max_s")
		b.ReportMetric(time.Since(begin).Seconds(), "slot_done_s")
		b.ReportMetric(100*idle, "idle_cpu_%core")
		b.ReportMetric(rss, "peak_rss_MB")
	}
}
