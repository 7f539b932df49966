package money

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"
)

// The fast paths must give shopspring's results exactly: the same value, exponent and internal
// form (require.Equal compares decimals with reflect.DeepEqual, big.Int words and all).

// samples are decimals around every boundary the fast paths test: zero in both its forms,
// halves, the edges of 64 bits and of 19 digits, coefficients of two words, and exponents from
// far below to above zero.
func samples(r *rand.Rand, n int) []decimal.Decimal {
	coefficients := []string{
		"0", "1", "5", "9", "10", "15", "25", "45", "50", "99", "100", "125", "9409", "28227", "116", "108",
		"1600000000000000", "11600000000000000", "12528000000000000000000000000000",
		"9223372036854775807", "9223372036854775808", "9223372036854775809",
		"9999999999999999999", "10000000000000000000", "18446744073709551615", "18446744073709551616",
		"99999999999999999999999999999999999999",
	}
	var out []decimal.Decimal
	for _, c := range coefficients {
		v, ok := new(big.Int).SetString(c, 10)
		if !ok {
			panic(c)
		}
		for _, e := range []int32{-40, -20, -19, -18, -17, -16, -11, -10, -3, -2, -1, 0, 1, 2, 19, 20} {
			out = append(out, decimal.NewFromBigInt(v, e), decimal.NewFromBigInt(new(big.Int).Neg(v), e))
		}
	}
	out = append(out, decimal.Decimal{}, decimal.New(0, -2), decimal.RequireFromString("0.00"))
	for range n {
		var v big.Int
		switch r.IntN(4) {
		case 0:
			v.SetInt64(r.Int64N(1000) - 500)
		case 1:
			v.SetInt64(r.Int64() >> r.IntN(63))
		case 2:
			v.SetUint64(r.Uint64())
		default:
			v.Lsh(big.NewInt(r.Int64()), uint(r.IntN(70)))
		}
		if r.IntN(2) == 0 {
			v.Neg(&v)
		}
		out = append(out, decimal.NewFromBigInt(&v, int32(r.IntN(44))-36))
	}
	return out
}

func pairs(t *testing.T, f func(a, b decimal.Decimal)) {
	t.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	xs := samples(r, 100)
	for _, a := range xs {
		for _, b := range xs {
			f(a, b)
		}
	}
	for range 50_000 {
		f(xs[r.IntN(len(xs))], xs[r.IntN(len(xs))])
	}
}

// same runs want (shopspring) and got (the fast path) and requires the same result or the same
// panic.
func same[T any](t *testing.T, what string, want, got func() T) {
	t.Helper()
	w, wantPanic := try(want)
	g, gotPanic := try(got)
	require.Equal(t, wantPanic, gotPanic, what)
	require.Equal(t, w, g, what)
}

func try[T any](f func() T) (v T, panicked any) {
	defer func() { panicked = recover() }()
	return f(), nil
}

func TestAddSubMulMatchShopspring(t *testing.T) {
	t.Parallel()
	pairs(t, func(a, b decimal.Decimal) {
		what := a.String() + " and " + b.String()
		same(t, "add "+what, func() decimal.Decimal { return a.Add(b) }, func() decimal.Decimal { return Of(a).Add(Of(b)).Decimal })
		same(t, "sub "+what, func() decimal.Decimal { return a.Sub(b) }, func() decimal.Decimal { return Of(a).Sub(Of(b)).Decimal })
		same(t, "mul "+what, func() decimal.Decimal { return a.Mul(b) }, func() decimal.Decimal { return Of(a).Mul(Of(b)).Decimal })
		same(t, "cmp "+what, func() int { return a.Cmp(b) }, func() int { return Of(a).Cmp(b) })
		same(t, "equal "+what, func() bool { return a.Equal(b) }, func() bool { return Of(a).Equal(Of(b)) })
	})
}

func TestDivMatchesShopspring(t *testing.T) {
	t.Parallel()
	pairs(t, func(a, b decimal.Decimal) {
		same(t, "div "+a.String()+" by "+b.String(),
			func() decimal.Decimal { return a.DivRound(b, 16) }, func() decimal.Decimal { return Of(a).Div(Of(b)).Decimal })
	})
}

func TestRoundMatchesShopspring(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(3, 4))
	for _, d := range samples(r, 5000) {
		for _, places := range []int32{-3, -1, 0, 1, 2, 6, 10, 16, 18, 19, 20, 40} {
			same(t, "round "+d.String(), func() decimal.Decimal { return d.Round(places) }, func() decimal.Decimal { return Of(d).Round(places) })
		}
		same(t, "cents "+d.String(), func() decimal.Decimal { return d.Round(2) }, func() decimal.Decimal { return Of(d).Cents().Decimal })
	}
	// Halves round away from zero, on either side.
	for _, c := range []struct{ in, want string }{
		{"0.125", "0.13"}, {"-0.125", "-0.13"}, {"0.135", "0.14"}, {"0.1249999", "0.12"}, {"-0.005", "-0.01"}, {"2.675", "2.68"},
	} {
		require.Equal(t, c.want, MustParse(c.in).Cents().String(), c.in)
	}
}

func TestResultsAreMadeLikeShopspringsWhateverTheLayout(t *testing.T) {
	// Not parallel: it turns the direct layout off for a moment.
	saved := directLayout
	t.Cleanup(func() { directLayout = saved })
	require.True(t, directLayout, "shopspring's Decimal is no longer a *big.Int and an int32: results are built by its constructors")
	for _, on := range []bool{true, false} {
		directLayout = on
		for _, w := range []word{
			{mag: 1}, {mag: 1, neg: true, exp: -2}, {mag: math.MaxInt64, exp: 3}, {mag: math.MaxInt64 + 1, neg: true},
			{mag: math.MaxUint64, exp: -16}, {exp: -16},
		} {
			v := new(big.Int).SetUint64(w.mag)
			if w.neg {
				v.Neg(v)
			}
			want := decimal.NewFromBigInt(v, w.exp)
			if w.mag == 0 {
				want = decimal.New(0, w.exp)
			}
			require.Equal(t, want, w.decimal())
		}
	}
}

func TestArithmeticAllocatesOnlyItsResult(t *testing.T) {
	a, b := MustParse("2822.7"), MustParse("3")
	require.Equal(t, 1.0, testing.AllocsPerRun(100, func() { _ = a.Div(b) }))
	require.Equal(t, 1.0, testing.AllocsPerRun(100, func() { _ = a.Mul(b).Add(b).Sub(a) })/3)
	require.Equal(t, 0.0, testing.AllocsPerRun(100, func() { _ = a.Cmp(b.Decimal) }))
}

// FuzzArithmetic checks the fast paths against shopspring on arbitrary operands.
func FuzzArithmetic(f *testing.F) {
	f.Add(int64(28227), int8(-1), uint64(0), int64(3), int8(0), int8(16))
	f.Add(int64(-125), int8(-3), uint64(1), int64(-1), int8(-20), int8(2))
	f.Add(int64(math.MaxInt64), int8(5), uint64(0), int64(7), int8(-19), int8(0))
	f.Fuzz(func(t *testing.T, ac int64, ae int8, ahigh uint64, bc int64, be int8, places int8) {
		av := new(big.Int).Lsh(new(big.Int).SetUint64(ahigh), 64)
		av.Add(av, big.NewInt(ac))
		a, b := decimal.NewFromBigInt(av, int32(ae)), decimal.New(bc, int32(be))
		for _, x := range [][2]decimal.Decimal{{a, b}, {b, a}} {
			x, y := x[0], x[1]
			same(t, "add", func() decimal.Decimal { return x.Add(y) }, func() decimal.Decimal { return Of(x).Add(Of(y)).Decimal })
			same(t, "sub", func() decimal.Decimal { return x.Sub(y) }, func() decimal.Decimal { return Of(x).Sub(Of(y)).Decimal })
			same(t, "mul", func() decimal.Decimal { return x.Mul(y) }, func() decimal.Decimal { return Of(x).Mul(Of(y)).Decimal })
			same(t, "div", func() decimal.Decimal { return x.DivRound(y, 16) }, func() decimal.Decimal { return Of(x).Div(Of(y)).Decimal })
			same(t, "cmp", func() int { return x.Cmp(y) }, func() int { return Of(x).Cmp(y) })
			same(t, "round", func() decimal.Decimal { return x.Round(int32(places)) }, func() decimal.Decimal { return Of(x).Round(int32(places)) })
		}
	})
}
