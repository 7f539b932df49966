package mapping

import (
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/handybind/handybind/internal/money"
)

// The tax functions as they were first written, on shopspring alone: the cached and normalized
// factors must give the very same decimals (require.Equal compares them deeply).
func shopFactor(rate decimal.Decimal) decimal.Decimal {
	return decimal.NewFromInt(1).Add(rate.DivRound(decimal.NewFromInt(100), 16))
}

func TestTaxFunctionsMatchTheirDefinition(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(5, 6))
	rates := []string{"0", "16", "8", "16.00", "0.5", "26.5", "160", "-100", "-50", "1e-17", "12345678901234567890.5"}
	prices := []string{"0", "940.9", "811.1206896552", "0.000000000000000001", "1e-30", "-124", "1844.67", "999999999.99",
		"123456789012345678901234567890.12"}
	for range 300 {
		v := new(big.Int).Rsh(new(big.Int).SetUint64(r.Uint64()), uint(r.IntN(64)))
		if r.IntN(3) == 0 {
			v.Neg(v)
		}
		prices = append(prices, decimal.NewFromBigInt(v, int32(r.IntN(24))-18).String())
	}
	for range 40 {
		rates = append(rates, decimal.New(r.Int64N(100000), int32(r.IntN(5))-3).String())
	}
	for _, ps := range prices {
		price := money.MustParse(ps)
		for _, vs := range rates {
			vat := money.MustParse(vs)
			fv := shopFactor(vat.Decimal)
			got, err := netOfTax(price, vat)
			if fv.IsZero() {
				require.Error(t, err)
			} else {
				require.NoError(t, err)
				require.Equal(t, price.Decimal.DivRound(fv, 16).Round(10), got.Decimal, "netOfTax(%s, %s)", ps, vs)
			}
			require.Equal(t, price.Decimal.Mul(fv).Round(10), withTax(price, vat).Decimal, "withTax(%s, %s)", ps, vs)
			for _, is := range rates[:6] {
				ieps := money.MustParse(is)
				f := fv.Mul(shopFactor(ieps.Decimal))
				got, err := netOfTaxes(price, vat, ieps)
				if f.IsZero() {
					require.Error(t, err)
					continue
				}
				require.NoError(t, err)
				require.Equal(t, price.Decimal.DivRound(f, 16).Round(10), got.Decimal, "netOfTaxes(%s, %s, %s)", ps, vs, is)
			}
		}
	}
}
