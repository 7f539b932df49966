package bindsim

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/handybind/handybind/internal/money"
)

func TestOrderAmounts(t *testing.T) {
	t.Parallel()
	d := money.MustParse
	line := func(price, qty string) amountLine { return amountLine{price: d(price), qty: d(qty)} }
	exempt := func(l amountLine) amountLine { l.exempt = true; return l }
	ieps := func(rate string, l amountLine) amountLine { l.ieps = d(rate); return l }
	// A net price precise to 10 places, from a tax-inclusive 116.04.
	precise := money.Of(d("116.04").Div(d("1.16")).Round(10)).String()

	type want struct{ products, services, discount, ieps, vat, total string }
	for _, tc := range []struct {
		name               string
		products, services []amountLine
		discount, vatRate  string
		once, first        want
	}{
		{
			name:     "the reference's example: 4140 → VAT 662.40 → 4802.40",
			products: []amountLine{line("1035", "4")}, vatRate: "0.16",
			once:  want{"4140", "0", "0", "0", "662.4", "4802.4"},
			first: want{"4140", "0", "0", "0", "662.4", "4802.4"},
		},
		{
			name:     "the two roundings differ by a cent",
			products: []amountLine{line(precise, "1")}, vatRate: "0.16",
			once:  want{"100.03", "0", "0", "0", "16.01", "116.04"},
			first: want{"100.03", "0", "0", "0", "16", "116.03"},
		},
		{
			name:     "discount and services are in the base",
			products: []amountLine{line("86.21", "3")}, services: []amountLine{line("50.005", "1")},
			discount: "10.004", vatRate: "0.16",
			// Exact base 258.63 + 50.005 − 10.00 = 298.635 → 346.4166 → 346.42 once; shown base
			// 258.63 + 50.01 − 10.00 = 298.64 → VAT 47.7824 → 47.78 → 346.42 when rounded first.
			once:  want{"258.63", "50.01", "10", "0", "47.78", "346.42"},
			first: want{"258.63", "50.01", "10", "0", "47.78", "346.42"},
		},
		{
			name:     "an exempt line bears no VAT",
			products: []amountLine{exempt(line("100", "1")), line("100", "1")}, vatRate: "0.16",
			once:  want{"200", "0", "0", "0", "16", "216"},
			first: want{"200", "0", "0", "0", "16", "216"},
		},
		{
			name:     "IEPS is inside the VAT base: (100 + 8) × 0.16",
			products: []amountLine{ieps("0.08", line("100", "1"))}, vatRate: "0.16",
			once:  want{"100", "0", "0", "8", "17.28", "125.28"},
			first: want{"100", "0", "0", "8", "17.28", "125.28"},
		},
		{
			name:     "an exempt line with IEPS bears the IEPS only",
			products: []amountLine{exempt(ieps("0.08", line("100", "1")))}, vatRate: "0.16",
			once:  want{"100", "0", "0", "8", "0", "108"},
			first: want{"100", "0", "0", "8", "0", "108"},
		},
		{
			// Handy's 124 = 100 × (1 + 16% + 8%); net 124 ÷ (1.08 × 1.16) = 98.9782886335 gives
			// IEPS 7.9182630907, VAT 17.1034482759 and 124.0000000000488 in all.
			name:     "a tax-inclusive price made net of both taxes comes back whole",
			products: []amountLine{ieps("0.08", line("98.9782886335", "1"))}, vatRate: "0.16",
			once:  want{"98.98", "0", "0", "7.92", "17.1", "124"},
			first: want{"98.98", "0", "0", "7.92", "17.1", "124"},
		},
		{
			name:     "no VAT",
			products: []amountLine{line("0.333", "3")}, vatRate: "0",
			once:  want{"1", "0", "0", "0", "0", "1"},
			first: want{"1", "0", "0", "0", "0", "1"},
		},
	} {
		for _, r := range []Rounding{RoundOnce, RoundSubtotalFirst} {
			t.Run(tc.name+"/"+r.String(), func(t *testing.T) {
				t.Parallel()
				discount := d("0")
				if tc.discount != "" {
					discount = d(tc.discount)
				}
				a := orderAmountsOf(tc.products, tc.services, discount, d(tc.vatRate), r)
				w := tc.once
				if r == RoundSubtotalFirst {
					w = tc.first
				}
				got := want{a.productSubtotal.String(), a.serviceSubtotal.String(), a.discount.String(), a.ieps.String(), a.vat.String(), a.total.String()}
				require.Equal(t, w, got)
				require.True(t, a.productSubtotal.Add(a.serviceSubtotal).Sub(a.discount).Add(a.ieps).Add(a.vat).Equal(a.total),
					"the amounts shown always add up")
			})
		}
	}
}
