package bindsim

import "github.com/handybind/handybind/internal/money"

// The simulator's own order arithmetic, taken from the reference and nothing else (never from
// the sync's code, which it is there to check): in 100 real orders,
//
//	Total = (ProductSubtotal + ServiceSubtotal − Discount) × (1 + VATRate)
//
// with line prices net of VAT. Whether Bind rounds the subtotal to cents before it applies VAT is
// not published, so both are offered (see Rounding).

// Rounding says when Bind rounds an order's amounts to cents.
type Rounding int

const (
	// RoundOnce computes the total from the exact line amounts and rounds it once, at the end;
	// the subtotals are shown rounded and VAT is what makes them add up to the total.
	RoundOnce Rounding = iota
	// RoundSubtotalFirst rounds the subtotals to cents, computes VAT on them and rounds it, and
	// adds the two.
	RoundSubtotalFirst
)

// String names the rounding, for test names.
func (r Rounding) String() string {
	if r == RoundSubtotalFirst {
		return "RoundSubtotalFirst"
	}
	return "RoundOnce"
}

// amountLine is one order line as the arithmetic sees it. Only its net amount counts today, under
// the order's VAT rate; per-line rates, IEPS and VAT exemption would be fields here, with the
// lines summed per rate in orderAmountsOf.
type amountLine struct {
	price, qty money.Decimal
}

func (l amountLine) net() money.Decimal { return l.price.Mul(l.qty) }

// orderAmounts are the amounts an order shows, each in cents.
type orderAmounts struct {
	productSubtotal, serviceSubtotal, discount, vat, total money.Decimal
}

// orderAmountsOf computes an order's amounts from its product and service lines, its discount (an
// amount) and its VAT rate.
func orderAmountsOf(products, services []amountLine, discount, vatRate money.Decimal, r Rounding) orderAmounts {
	exactProducts, exactServices := money.Zero, money.Zero
	for _, l := range products {
		exactProducts = exactProducts.Add(l.net())
	}
	for _, l := range services {
		exactServices = exactServices.Add(l.net())
	}
	a := orderAmounts{
		productSubtotal: exactProducts.Cents(),
		serviceSubtotal: exactServices.Cents(),
		discount:        discount.Cents(),
	}
	shownBase := a.productSubtotal.Add(a.serviceSubtotal).Sub(a.discount)
	switch r {
	case RoundSubtotalFirst:
		a.vat = shownBase.Mul(vatRate).Cents()
		a.total = shownBase.Add(a.vat)
	default:
		exactBase := exactProducts.Add(exactServices).Sub(a.discount)
		a.total = exactBase.Mul(money.NewFromInt(1).Add(vatRate)).Cents()
		a.vat = a.total.Sub(shownBase)
	}
	return a
}
