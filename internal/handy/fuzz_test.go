package handy_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/handybind/handybind/internal/handy"
	"github.com/handybind/handybind/internal/handy/handysim"
	"github.com/handybind/handybind/internal/money"
)

// FuzzDecodeSalesOrder feeds the order decoder arbitrary bytes: it must never panic, whatever it
// accepts must pass the order's own checks, and decoding must lose nothing the sync uses: the
// order, written back out and decoded again, is the same order (amounts to the last digit, times
// to the instant). CI runs it for a short fixed time.
func FuzzDecodeSalesOrder(f *testing.F) {
	s := handysim.New(nil)
	seller := s.AddUser(handy.User{Name: "V", Enabled: true, Extras: "Almacén"})
	s.AddCustomer(handy.Customer{Code: "C", Description: "Cliente"})
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s.AddProduct("P", "Producto", money.MustParse("100"), handysim.IVA(16), at)
	o, err := s.CreateSale(handysim.Sale{Customer: "C", Seller: seller.ID, At: at, Lines: []handysim.Line{{Product: "P", Quantity: money.MustParse("1.5"), DiscountPercent: money.NewFromInt(5)}}})
	if err != nil {
		f.Fatal(err)
	}
	edited, err := s.EditSale(o.ID, handysim.Sale{Customer: "C", Seller: seller.ID, At: at.Add(time.Minute), Lines: []handysim.Line{{Product: "P", Quantity: money.NewFromInt(2)}}})
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []any{o, edited} {
		b, err := json.Marshal(seed)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"id":1,"dateCreated":"2026-01-01T00:00:00Z","customer":{"code":"C"},"items":[{"product":{"code":"P"},"quantity":1e400,"discount":"30"}]}`))
	f.Add([]byte(`{"id":1,"editedFrom":{"editedFrom":{"id":"x"}}}`))
	f.Add([]byte(`null`))

	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := handy.DecodeSalesOrder(b)
		if err != nil {
			return
		}
		if cerr := o.Check(); cerr != nil {
			t.Fatalf("decoder accepted an order that fails its checks: %v", cerr)
		}
		for _, it := range o.Items {
			_ = it.Price.Mul(it.Quantity).Cents()
		}
		again, err := json.Marshal(o)
		if err != nil {
			t.Fatalf("an accepted order cannot be written back: %v", err)
		}
		o2, err := handy.DecodeSalesOrder(again)
		if err != nil {
			t.Fatalf("an accepted order, written back, is refused: %v\n%s", err, again)
		}
		if !o2.TotalSales.Equal(o.TotalSales) || len(o2.Items) != len(o.Items) || !o2.DateCreated.Equal(o.DateCreated.Time) || o2.ID != o.ID {
			t.Fatalf("decoding lost something: %+v became %+v", o, o2)
		}
		for i := range o.Items {
			if !o2.Items[i].Price.Equal(o.Items[i].Price) || !o2.Items[i].Quantity.Equal(o.Items[i].Quantity) {
				t.Fatalf("line %d changed in a round trip: %+v became %+v", i, o.Items[i], o2.Items[i])
			}
		}
	})
}
