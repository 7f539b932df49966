package mapping_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/handybind/handybind/internal/bind"
	"github.com/handybind/handybind/internal/handy"
	"github.com/handybind/handybind/internal/mapping"
	"github.com/handybind/handybind/internal/money"
)

func tenLineSale() handy.SalesOrder {
	s := sampleSale()
	for i := range 10 {
		comment := fmt.Sprint("línea ", i)
		s.Items = append(s.Items, handy.SalesOrderItem{
			ID: int64(i), Quantity: money.NewFromInt(int64(i + 1)), Price: money.MustParse("940.9"), OriginalPrice: money.MustParse("970"),
			Total: money.MustParse("940.9").Mul(money.NewFromInt(int64(i + 1))), DiscountPercentage: money.NewFromInt(3),
			Product: handy.Product{Code: fmt.Sprint("P-", i), Description: "Producto", Unit: &handy.Unit{Code: "PZA"}},
			Tax:     &handy.Tax{Amount: money.NewFromInt(16), Enabled: true}, Comments: &comment,
		})
	}
	return s
}

// mapSale maps a decoded Handy sale to a Bind order the way the sync does: header, warehouse, and
// one mapped line per Handy line.
func mapSale(m *mapping.Mapping, s *handy.SalesOrder) (bind.NewOrder, string, error) {
	oe := mapping.OrderEnv{Sale: mapping.SaleOf(*s), Seller: mapping.SellerOf(s.CreatedBy), Customer: mapping.CustomerOf(s.Customer), Connection: conn}
	order, err := m.Order(&oe)
	if err != nil {
		return order, "", err
	}
	wh, err := m.Warehouse(&mapping.WarehouseEnv{Seller: oe.Seller, Connection: conn})
	if err != nil {
		return order, "", err
	}
	order.Products = make([]bind.NewOrderProduct, 0, len(s.Items))
	le := mapping.LineEnv{Sale: oe.Sale, Connection: conn}
	for i, it := range s.Items {
		le.Line = mapping.LineOf(i, it)
		l, err := m.OrderLine(&le)
		if err != nil {
			return order, "", err
		}
		order.Products = append(order.Products, l)
	}
	return order, wh, nil
}

// BenchmarkMapTenLineSale maps one decoded 10-line sale to a Bind order (compiled once).
func BenchmarkMapTenLineSale(b *testing.B) {
	m := v1(b)
	s := tenLineSale()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := mapSale(m, &s); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHandWrittenTenLineSale is the same mapping written in Go, for comparison.
func BenchmarkHandWrittenTenLineSale(b *testing.B) {
	s := tenLineSale()
	loc, _ := time.LoadLocation("America/Mexico_City")
	b.ReportAllocs()
	for b.Loop() {
		o := bind.NewOrder{
			PriceListID: conn.PriceListID, CurrencyID: conn.CurrencyID, PurchaseOrder: fmt.Sprint(s.ID),
			OrderDate: bind.Time{Time: s.MobileDateCreated.In(loc)}, VATRate: money.MustParse("0.16"),
			Comments: "Vendedor: " + s.CreatedBy.Name + " <" + s.CreatedBy.Username + ">",
		}
		for _, it := range s.Items {
			rate := money.NewFromInt(1).Add(it.Tax.Amount.Div(money.NewFromInt(100)))
			o.Products = append(o.Products, bind.NewOrderProduct{Price: money.Of(it.Price.Div(rate).Round(6)), Qty: it.Quantity, Unit: it.Product.Unit.Code})
		}
		_ = o
	}
}

// BenchmarkMapTenLineSaleEndToEnd includes decoding Handy's JSON and encoding Bind's.
func BenchmarkMapTenLineSaleEndToEnd(b *testing.B) {
	m := v1(b)
	raw, err := json.Marshal(tenLineSale())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		mapJSON(b, m, raw)
	}
}

// mapJSON decodes a Handy sale's JSON, maps it, and encodes the Bind order.
func mapJSON(b *testing.B, m *mapping.Mapping, raw []byte) {
	s, err := handy.DecodeSalesOrder(raw)
	if err != nil {
		b.Fatal(err)
	}
	order, _, err := mapSale(m, &s)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := json.Marshal(order); err != nil {
		b.Fatal(err)
	}
}
