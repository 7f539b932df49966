package bindsim

import "github.com/handybind/handybind/internal/money"

// The simulator's own order arithmetic, taken from the reference and nothing else (never from
// the sync's code, which it is there to check): in 100 real orders,
//
//	Total = (ProductSubtotal + ServiceSubtotal − Discount) × (1 + VATRate)
//
// with line prices net of VAT. Lines may differ from that one rate in two ways, as Mexican law has
// it: a VAT-exempt line (VATExempt) bears no VAT, and a line with IEPS (a rate, 0.08 for 8%) bears
// it on its net amount, and VAT on the net amount plus the IEPS:
//
//	IEPS = Σ net × IEPS          VAT = (Σ over lines not exempt of net × (1 + IEPS) − Discount) × VATRate
//	Total = ProductSubtotal + ServiceSubtotal − Discount + IEPS + VAT
//
// which is the formula above when no line is exempt and none has IEPS. Whether Bind rounds the
// subtotal to cents before it applies VAT is not published, so both are offered (see Rounding).

// Rounding says when Bind rounds an order's amounts to cents.
type Rounding int

const (
	// RoundOnce computes the total from the exact line amounts and rounds it once, at the end;
	// the subtotals and IEPS are shown rounded and VAT is what makes them add up to the total.
	RoundOnce Rounding = iota
	// RoundSubtotalFirst rounds the subtotals and IEPS to cents, computes VAT on the rounded base
	// and rounds it, and adds them up.
	RoundSubtotalFirst
)

// String names the rounding, for test names.
func (r Rounding) String() string {
	if r == RoundSubtotalFirst {
		return "RoundSubtotalFirst"
	}
	return "RoundOnce"
}

// amountLine is one order line as the arithmetic sees it.
type amountLine struct {
	price, qty money.Decimal
	ieps       money.Decimal // rate: 0.08 for 8%
	exempt     bool          // VATExempt
}

func (l amountLine) net() money.Decimal        { return l.price.Mul(l.qty) }
func (l amountLine) iepsAmount() money.Decimal { return l.net().Mul(l.ieps) }

// orderAmounts are the amounts an order shows, each in cents.
type orderAmounts struct {
	productSubtotal, serviceSubtotal, discount, ieps, vat, total money.Decimal
}

// orderAmountsOf computes an order's amounts from its product and service lines, its discount (an
// amount, taken off the VAT base) and its VAT rate.
func orderAmountsOf(products, services []amountLine, discount, vatRate money.Decimal, r Rounding) orderAmounts {
	exactIEPS, exactTaxed := money.Zero, money.Zero
	sum := func(lines []amountLine) money.Decimal {
		net := money.Zero
		for _, l := range lines {
			net = net.Add(l.net())
			exactIEPS = exactIEPS.Add(l.iepsAmount())
			if !l.exempt {
				exactTaxed = exactTaxed.Add(l.net()).Add(l.iepsAmount())
			}
		}
		return net
	}
	exactProducts, exactServices := sum(products), sum(services)
	a := orderAmounts{
		productSubtotal: exactProducts.Cents(),
		serviceSubtotal: exactServices.Cents(),
		discount:        discount.Cents(),
		ieps:            exactIEPS.Cents(),
	}
	shown := a.productSubtotal.Add(a.serviceSubtotal).Sub(a.discount).Add(a.ieps)
	switch r {
	case RoundSubtotalFirst:
		a.vat = exactTaxed.Cents().Sub(a.discount).Mul(vatRate).Cents()
		a.total = shown.Add(a.vat)
	default:
		exact := exactProducts.Add(exactServices).Sub(a.discount).Add(exactIEPS).
			Add(exactTaxed.Sub(a.discount).Mul(vatRate))
		a.total = exact.Cents()
		a.vat = a.total.Sub(shown)
	}
	return a
}
