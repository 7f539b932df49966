package mapping_test

import (
	"encoding/json"
	"math/bits"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/handybind/handybind/internal/handy"
	"github.com/handybind/handybind/internal/mapping"
	"github.com/handybind/handybind/internal/money"
)

// The baseline the mapping engine is measured against: the v2 order mapping written by hand in
// Go, the cheapest exact way a Go developer would write it, with money as int64 (amounts in
// cents, net prices in units of 10⁻¹⁰, rates in hundredths of a percent) and no decimal library.

// centsOrder is a Bind order in int64 money.
type centsOrder struct {
	PriceListID, CurrencyID, PurchaseOrder, Comments string
	OrderDate                                        time.Time
	VATRate                                          int64 // hundredths of a percent: 1600 is 16%
	Warehouse                                        string
	Lines                                            []centsLine
}

type centsLine struct {
	Price     int64 // 10⁻¹⁰ units
	VATExempt bool
	IEPS      int64 // hundredths of a percent
	Qty       int64 // thousandths
	Comments  string
	Unit      string
}

// cents reads a decimal as an int64 of 10⁻scale units (exact for the amounts Handy sends).
func scaled(d money.Decimal, scale int32) int64 {
	return d.Decimal.Shift(scale).Round(0).IntPart()
}

// mulDivRound returns a×b÷c rounded half away from zero, exactly, for non-negative a, b and a
// positive c, through a 128-bit product.
func mulDivRound(a, b, c uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	q, r := bits.Div64(hi, lo, c)
	if r >= c-r {
		q++
	}
	return q
}

var mexicoCity, _ = time.LoadLocation("America/Mexico_City")

// handWrittenOrder is v2's order, warehouse and line rules in plain Go.
func handWrittenOrder(s *handy.SalesOrder, c mapping.Connection, loc *time.Location) centsOrder {
	o := centsOrder{
		PriceListID: c.PriceListID, CurrencyID: c.CurrencyID, PurchaseOrder: strconv.FormatInt(s.ID, 10),
		OrderDate: s.MobileDateCreated.In(loc),
		Lines:     make([]centsLine, 0, len(s.Items)),
	}
	var b strings.Builder
	b.WriteString("Vendedor: ")
	b.WriteString(s.CreatedBy.Name)
	b.WriteString(" <")
	b.WriteString(s.CreatedBy.Username)
	b.WriteString(">")
	if s.SellerComment != nil && strings.TrimSpace(*s.SellerComment) != "" {
		b.WriteString(". ")
		b.WriteString(strings.TrimSpace(*s.SellerComment))
	}
	o.Comments = b.String()
	o.Warehouse = strings.TrimSpace(s.CreatedBy.Extras)
	if o.Warehouse == "" {
		o.Warehouse = c.Warehouse
	}
	for _, it := range s.Items {
		var vat, ieps int64 // hundredths of a percent
		if it.Tax != nil && it.Tax.Enabled {
			vat = scaled(it.Tax.Amount, 2)
		}
		if it.TaxOptional != nil && it.TaxOptional.Enabled {
			ieps = scaled(it.TaxOptional.Amount, 2)
		}
		o.VATRate = max(o.VATRate, vat)
		qty := scaled(it.Quantity, 3)
		total := scaled(it.Total, 2)
		// net = total ÷ qty ÷ ((1 + vat) × (1 + ieps)), in 10⁻¹⁰: cents × 10⁸ × 10³ (qty in
		// thousandths) × 10⁸ (the two factors in hundredths of a percent) ÷ (qty × factors).
		factors := uint64(10000+vat) * uint64(10000+ieps)
		price := mulDivRound(uint64(total)*100_000_000, 1000*100_000_000, uint64(qty)*factors)
		o.Lines = append(o.Lines, centsLine{Price: int64(price), VATExempt: vat == 0, IEPS: ieps, Qty: qty, Unit: it.Product.Unit.Code, Comments: *it.Comments})
	}
	if o.VATRate == 0 {
		o.VATRate = 1600
	}
	return o
}

func v2(t testing.TB) *mapping.Mapping {
	t.Helper()
	src, err := os.ReadFile("../../mappings/handy-bind/v2.yaml")
	require.NoError(t, err)
	m, err := mapping.Compile("mappings/handy-bind/v2.yaml", src)
	require.NoError(t, err)
	return m
}

// TestHandWrittenBaselineIsV2 checks that the baseline makes the same order as v2, field by
// field, so that the benchmarks compare like with like.
func TestHandWrittenBaselineIsV2(t *testing.T) {
	t.Parallel()
	s := tenLineSale()
	s.Items[3].TaxOptional = &handy.Tax{Amount: money.NewFromInt(8), Enabled: true}
	s.Items[5].Tax = &handy.Tax{Amount: money.Zero, Enabled: true}
	order, wh, err := mapSale(v2(t), &s)
	require.NoError(t, err)
	got := handWrittenOrder(&s, conn, mexicoCity)
	require.Equal(t, order.PriceListID, got.PriceListID)
	require.Equal(t, order.CurrencyID, got.CurrencyID)
	require.Equal(t, order.PurchaseOrder, got.PurchaseOrder)
	require.Equal(t, order.Comments, got.Comments)
	require.Equal(t, order.OrderDate.Format(time.RFC3339), got.OrderDate.Format(time.RFC3339))
	require.Equal(t, order.VATRate.String(), money.New(got.VATRate, -4).String())
	require.Equal(t, wh, got.Warehouse)
	require.Len(t, got.Lines, len(order.Products))
	for i, l := range order.Products {
		g := got.Lines[i]
		require.Equal(t, l.Price.String(), money.New(g.Price, -10).String(), "line %d price", i)
		require.Equal(t, l.VATExempt, g.VATExempt, "line %d", i)
		require.Equal(t, l.IEPS.String(), money.New(g.IEPS, -4).String(), "line %d IEPS", i)
		require.Equal(t, l.Qty.String(), money.New(g.Qty, -3).String(), "line %d qty", i)
		require.Equal(t, l.Unit, g.Unit)
		require.Equal(t, l.Comments, g.Comments)
	}
}

// BenchmarkMapTenLineSaleV2 maps one decoded 10-line sale with v2 (compiled once), and reports
// its time as a multiple of the hand-written baseline measured in the same run.
func BenchmarkMapTenLineSaleV2(b *testing.B) {
	m := v2(b)
	s := tenLineSale()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := mapSale(m, &s); err != nil {
			b.Fatal(err)
		}
	}
	reportRatio(b, func() { _ = handWrittenOrder(&s, conn, mexicoCity) })
}

// reportRatio times the baseline for as many rounds as the benchmark ran (outside its timer)
// and reports the benchmark's time per op as a multiple of the baseline's.
func reportRatio(b *testing.B, baseline func()) {
	b.StopTimer()
	engine := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	rounds := max(b.N, 1000)
	start := time.Now()
	for range rounds {
		baseline()
	}
	base := float64(time.Since(start).Nanoseconds()) / float64(rounds)
	b.ReportMetric(engine/base, "x_handwritten")
	b.ReportMetric(base, "handwritten_ns/op")
}

// BenchmarkMapTenLineSaleV2JSON is the same with Handy's JSON in and Bind's JSON out, against the
// baseline with the same decoding and encoding.
func BenchmarkMapTenLineSaleV2JSON(b *testing.B) {
	m := v2(b)
	raw, err := json.Marshal(tenLineSale())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		mapJSON(b, m, raw)
	}
	reportRatio(b, func() {
		s, err := handy.DecodeSalesOrder(raw)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := json.Marshal(handWrittenOrder(&s, conn, mexicoCity)); err != nil {
			b.Fatal(err)
		}
	})
}
