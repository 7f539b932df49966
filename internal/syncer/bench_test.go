package syncer_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/handybind/handybind/internal/handy"
	"github.com/handybind/handybind/internal/handy/handysim"
	"github.com/handybind/handybind/internal/store"
	"github.com/handybind/handybind/internal/syncer"
	"github.com/handybind/handybind/internal/testdb"
)

// BenchmarkSalesSync10k sends 10,000 new sales of known customers and products to Bind in one
// sales run, against zero-latency simulators over loopback HTTP, on the embedded SQLite default
// and on PostgreSQL. It reports sales per second, the API calls and the SQL statements each sale
// cost; see docs/benchmarks.md.
func BenchmarkSalesSync10k(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchSalesSync(b, func() string { return testdb.SQLite(b) }) })
	b.Run("postgres", func(b *testing.B) { benchSalesSync(b, func() string { return testdb.Postgres(b) }) })
}

func benchSalesSync(b *testing.B, database func() string) {
	const n = 10000
	for b.Loop() {
		b.StopTimer()
		w := newWorld(b, database())
		// Like Bind's request rate (raised by the world), Handy's per-account budget is lifted:
		// the benchmark measures the service, not the 400 requests a minute a real account
		// allows (a hundred pages of 100 sales take about 12 s of budget alone).
		handyOpts := w.deps.HandyOptions
		w.deps.HandyOptions = func(o *handy.Options) {
			handyOpts(o)
			o.Budget = rate.NewLimiter(rate.Inf, 1)
		}
		w.engine = syncer.New(w.deps)
		w.activate()
		w.run(store.SyncProducts)
		// Catalogs and customers become known.
		w.sale("C-1", w.ana, line("E-001", 1))
		w.sale("C-2", w.beto, line("E-001", 1))
		w.run(store.SyncSales)
		customers := []string{"C-1", "C-2"}
		sellers := []int64{w.ana.ID, w.beto.ID}
		at := time.Now().UTC().Add(-5 * time.Minute)
		for i := range n {
			if _, err := w.handy.CreateSale(handysim.Sale{Customer: customers[i%2], Seller: sellers[i%2], At: at.Add(time.Duration(i) * time.Millisecond),
				Lines: []handysim.Line{line("E-001", int64(1+i%5)), line("L-001", int64(1+i%12))}}); err != nil {
				b.Fatal(err)
			}
		}
		bindBefore, handyBefore, sqlBefore := len(w.bind.Requests()), len(w.handy.Requests()), w.db.Statements()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		b.StartTimer()

		start := time.Now()
		r := w.run(store.SyncSales)
		elapsed := time.Since(start)
		statements := w.db.Statements() - sqlBefore

		b.StopTimer()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		created := 0
		for _, it := range w.items(r) {
			if it.Entity == store.EntitySale && it.Outcome == store.OutcomeCreated {
				created++
			}
		}
		if created != n {
			b.Fatalf("created %d orders, want %d (run %s: %s)", created, n, r.State, r.Error)
		}
		b.ReportMetric(float64(n)/elapsed.Seconds(), "sales/s")
		b.ReportMetric(float64(len(w.bind.Requests())-bindBefore)/n, "bind_calls/sale")
		b.ReportMetric(float64(len(w.handy.Requests())-handyBefore)/n, "handy_calls/sale")
		b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/n, "alloc_B/sale")
		b.ReportMetric(float64(statements)/n, "sql_statements/sale")
		fmt.Printf("10,000 sales in %s\n", elapsed.Round(time.Millisecond))
		w.requireTotalsMatch()
		b.StartTimer()
	}
}
