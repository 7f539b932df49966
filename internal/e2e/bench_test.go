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
	"testing"
	"time"

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
// backlog whole. HANDYBIND_BENCH_SALES sets the size (100,000 by default).
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
