package bind_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/handybind/handybind/internal/bind"
	"github.com/handybind/handybind/internal/money"
)

// Benchmarks of the client against the simulator over loopback HTTP; results are recorded in
// docs/benchmarks.md. They measure the client's own overhead plus the simulator's, not Bind.

func benchCompany(b *testing.B) (*company, string, string, string) {
	co := newCompany(b)
	ctx := context.Background()
	pid, err := co.c.CreateProduct(ctx, bind.NewProduct{Code: "B-1", Title: "Bench", Cost: money.NewFromInt(1), Price: money.NewFromInt(10), CurrencyID: co.mxn})
	if err != nil {
		b.Fatal(err)
	}
	cid, err := co.c.CreateClient(ctx, bind.NewClient{LegalName: "B", CommercialName: "B", RFC: "XAXX010101000", PriceListID: co.general, AccountingNumber: "105-01-001", Address: &bind.NewAddress{City: "Monterrey"}})
	if err != nil {
		b.Fatal(err)
	}
	d, err := co.c.Client(ctx, cid)
	if err != nil {
		b.Fatal(err)
	}
	return co, pid, cid, d.Addresses[0]
}

func BenchmarkClientGetOrder(b *testing.B) {
	co, pid, cid, addr := benchCompany(b)
	ctx := context.Background()
	oid, err := co.c.CreateOrder(ctx, co.order(cid, addr, "B", bind.NewOrderProduct{ID: pid, Price: money.NewFromInt(10), Qty: money.NewFromInt(1)}))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := co.c.Order(ctx, oid); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
}

func BenchmarkClientCreateOrder10Lines(b *testing.B) {
	co, pid, cid, addr := benchCompany(b)
	ctx := context.Background()
	lines := make([]bind.NewOrderProduct, 10)
	for i := range lines {
		lines[i] = bind.NewOrderProduct{ID: pid, Price: money.MustParse("86.2069"), Qty: money.NewFromInt(int64(i + 1))}
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		i++
		if _, err := co.c.CreateOrder(ctx, co.order(cid, addr, fmt.Sprint(i), lines...)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
}

func BenchmarkClientListPage(b *testing.B) {
	co, _, _, _ := benchCompany(b)
	ctx := context.Background()
	for i := range 99 {
		if _, err := co.c.CreateProduct(ctx, bind.NewProduct{Code: fmt.Sprint("P", i), Title: "T", Cost: money.NewFromInt(1), Price: money.NewFromInt(1), CurrencyID: co.mxn}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		n := 0
		for _, err := range co.c.Products(ctx, bind.Query{Top: 100}) { // one page: a full page alone asks for the next
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != 100 {
			b.Fatalf("got %d products", n)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pages/s")
}
