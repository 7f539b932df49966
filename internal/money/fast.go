package money

import (
	"math"
	"math/big"
	"math/bits"
	"reflect"
	"unsafe"

	"github.com/shopspring/decimal"
)

// The arithmetic below gives the results of shopspring/decimal's, value, exponent and internal
// form alike, without building the big integers it builds on the way: amounts, rates and the
// prices derived from them have coefficients that fit 64 bits, and there the work is a few
// machine multiplications and divisions (through 128-bit intermediates) instead of a dozen
// allocations. Whatever does not fit, and every result that is zero (whose internal form depends
// on the path big.Int took), is left to shopspring, so results never differ.

// word is the decimal ±mag × 10^exp.
type word struct {
	mag uint64
	neg bool
	exp int32
}

// pow10 holds 10^0 … 10^19, the powers that fit 64 bits.
var pow10 = func() (t [20]uint64) {
	t[0] = 1
	for i := 1; i < len(t); i++ {
		t[i] = t[i-1] * 10
	}
	return t
}()

// wordOf reads d when its coefficient has at most 19 digits, so fits 64 bits.
func wordOf(d decimal.Decimal) (word, bool) {
	if d.NumDigits() > 19 {
		return word{}, false
	}
	// CoefficientInt64 is the low 64 bits of the magnitude, negated when d is negative.
	mag := uint64(d.CoefficientInt64())
	neg := d.Sign() < 0
	if neg {
		mag = -mag
	}
	return word{mag: mag, neg: neg, exp: d.Exponent()}, true
}

// scaleUp returns mag × 10^n when it fits 64 bits.
func scaleUp(mag uint64, n int64) (uint64, bool) {
	if n < 0 || n >= int64(len(pow10)) {
		return 0, false
	}
	hi, lo := bits.Mul64(mag, pow10[n])
	return lo, hi == 0
}

// add is a + b, with the exponent of the more precise; it refuses a zero result.
func add(a, b word) (word, bool) {
	e := min(a.exp, b.exp)
	am, ok1 := scaleUp(a.mag, int64(a.exp)-int64(e))
	bm, ok2 := scaleUp(b.mag, int64(b.exp)-int64(e))
	if !ok1 || !ok2 {
		return word{}, false
	}
	var r word
	switch {
	case a.neg == b.neg:
		s, carry := bits.Add64(am, bm, 0)
		if carry != 0 {
			return word{}, false
		}
		r = word{mag: s, neg: a.neg, exp: e}
	case am >= bm:
		r = word{mag: am - bm, neg: a.neg, exp: e}
	default:
		r = word{mag: bm - am, neg: b.neg, exp: e}
	}
	return r, r.mag != 0
}

// mul is a × b; it refuses a zero result and an exponent beyond int32, on which shopspring panics.
func mul(a, b word) (word, bool) {
	hi, lo := bits.Mul64(a.mag, b.mag)
	e := int64(a.exp) + int64(b.exp)
	if hi != 0 || lo == 0 || e > math.MaxInt32 || e < math.MinInt32 {
		return word{}, false
	}
	return word{mag: lo, neg: a.neg != b.neg, exp: int32(e)}, true
}

// divRound is shopspring's DivRound(a, b, prec): the quotient truncated to prec places, then
// rounded half away from zero on the remainder, with exponent -prec. A zero dividend gives the
// zero shopspring gives; other zero quotients are refused.
func divRound(a, b word, prec int32) (word, bool) {
	e := int64(a.exp) - int64(b.exp) + int64(prec)
	if b.mag == 0 || prec == math.MinInt32 || e > math.MaxInt32 || e < math.MinInt32 {
		return word{}, false
	}
	if a.mag == 0 {
		return word{exp: -prec}, true
	}
	// a × 10^e ÷ b when e ≥ 0, else a ÷ (b × 10^-e): a 128-bit dividend over a 64-bit divisor.
	var hi, lo, div uint64
	if e < 0 {
		var ok bool
		if div, ok = scaleUp(b.mag, -e); !ok {
			return word{}, false
		}
		lo = a.mag
	} else {
		div = b.mag
		switch {
		case e < int64(len(pow10)):
			hi, lo = bits.Mul64(a.mag, pow10[e])
		case e < 2*int64(len(pow10))-1:
			h1, l1 := bits.Mul64(a.mag, pow10[19])
			h2, l2 := bits.Mul64(l1, pow10[e-19])
			h3, l3 := bits.Mul64(h1, pow10[e-19])
			var carry uint64
			hi, carry = bits.Add64(h2, l3, 0)
			if h3 != 0 || carry != 0 {
				return word{}, false
			}
			lo = l2
		default:
			return word{}, false
		}
	}
	if hi >= div { // the quotient would not fit 64 bits
		return word{}, false
	}
	q, r := bits.Div64(hi, lo, div)
	if r >= div-r { // 2r ≥ divisor, without overflow
		if q == math.MaxUint64 {
			return word{}, false
		}
		q++
	}
	return word{mag: q, neg: a.neg != b.neg, exp: -prec}, q != 0
}

// round is shopspring's Round(places) for d.exp ≠ -places: truncated to places+1 digits, plus
// or minus 5, truncated to places. It refuses a zero result.
func round(d word, places int32) (word, bool) {
	to := int64(-places) - 1
	if to < math.MinInt32 || to+1 > math.MaxInt32 {
		return word{}, false
	}
	mag := d.mag
	switch diff := to - int64(d.exp); {
	case diff > 0:
		if diff >= int64(len(pow10)) {
			return word{}, false
		}
		mag /= pow10[diff]
	case diff < 0:
		var ok bool
		if mag, ok = scaleUp(mag, -diff); !ok {
			return word{}, false
		}
	}
	if mag > math.MaxUint64-5 {
		return word{}, false
	}
	mag = (mag + 5) / 10
	return word{mag: mag, neg: d.neg, exp: int32(to + 1)}, mag != 0
}

// cmp compares a and b as numbers, when their exponents are within 19 of each other.
func cmp(a, b word) (int, bool) {
	sa, sb := a.sign(), b.sign()
	switch {
	case sa != sb:
		if sa > sb {
			return 1, true
		}
		return -1, true
	case sa == 0:
		return 0, true
	}
	// Same sign: compare the magnitudes at the smaller exponent, in 128 bits.
	e := min(a.exp, b.exp)
	da, db := int64(a.exp)-int64(e), int64(b.exp)-int64(e)
	if da >= int64(len(pow10)) || db >= int64(len(pow10)) {
		return 0, false
	}
	ah, al := bits.Mul64(a.mag, pow10[da])
	bh, bl := bits.Mul64(b.mag, pow10[db])
	c := 0
	switch {
	case ah != bh:
		c = compareUint(ah, bh)
	default:
		c = compareUint(al, bl)
	}
	if sa < 0 {
		c = -c
	}
	return c, true
}

func compareUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (w word) sign() int {
	switch {
	case w.mag == 0:
		return 0
	case w.neg:
		return -1
	}
	return 1
}

// A decimal.Decimal is a pointer to its coefficient and an exponent. Made through shopspring's
// constructors, a result costs two allocations (the big.Int, then its words); laid out directly,
// one, holding both. layout is checked against the library when the program starts, and when it
// does not match the constructors are used.
type layout struct {
	value *big.Int
	exp   int32
}

var directLayout = func() bool {
	t := reflect.TypeFor[decimal.Decimal]()
	return t.Size() == unsafe.Sizeof(layout{}) && t.NumField() == 2 &&
		t.Field(0).Type == reflect.TypeFor[*big.Int]() && t.Field(0).Offset == unsafe.Offsetof(layout{}.value) &&
		t.Field(1).Type == reflect.TypeFor[int32]() && t.Field(1).Offset == unsafe.Offsetof(layout{}.exp)
}()

// coefficient is a big.Int with room for one word.
type coefficient struct {
	i big.Int
	w [1]big.Word
}

// decimal builds w as shopspring would: a normalized big.Int (no words when zero) and the exponent.
func (w word) decimal() decimal.Decimal {
	if !directLayout || bits.UintSize != 64 {
		return decimalByConstructors(w)
	}
	c := new(coefficient)
	if w.mag != 0 {
		c.w[0] = big.Word(w.mag)
		c.i.SetBits(c.w[:])
		if w.neg {
			c.i.Neg(&c.i)
		}
	}
	l := layout{value: &c.i, exp: w.exp}
	return *(*decimal.Decimal)(unsafe.Pointer(&l))
}

func decimalByConstructors(w word) decimal.Decimal {
	if w.mag <= math.MaxInt64 {
		v := int64(w.mag)
		if w.neg {
			v = -v
		}
		return decimal.New(v, w.exp)
	}
	var i big.Int
	i.SetUint64(w.mag)
	if w.neg {
		i.Neg(&i)
	}
	return decimal.NewFromBigInt(&i, w.exp)
}
