package handy_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/handybind/handybind/internal/handy"
	"github.com/handybind/handybind/internal/handy/handysim"
	"github.com/handybind/handybind/internal/money"
)

// FuzzDecodeSalesOrder feeds the order decoder arbitrary bytes: it must never panic, and whatever
// it accepts must pass the order's own checks. CI runs it for a short fixed time.
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
	})
}
