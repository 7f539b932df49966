// Package money carries prices, tax rates and quantities as exact decimals.
//
// Binary floating point cannot hold 0.1 or 116.00/1.16 exactly, and a sync that must make Bind's
// order total equal Handy's to the cent cannot afford drift. Inside the service every amount is a
// Decimal (shopspring/decimal); only at the JSON edge does it become a JSON number, written from
// and read into its exact decimal text, never through float64.
package money

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/shopspring/decimal"
)

// Decimal is an exact decimal number that marshals as a JSON number.
type Decimal struct{ decimal.Decimal }

// Zero is 0.
var Zero = Decimal{}

// New returns value × 10^exp, e.g. New(11600, -2) is 116.00.
func New(value int64, exp int32) Decimal { return Decimal{decimal.New(value, exp)} }

// NewFromInt returns an integer amount.
func NewFromInt(v int64) Decimal { return Decimal{decimal.NewFromInt(v)} }

// Parse reads a decimal from text such as "116.00" or "1e-2".
func Parse(s string) (Decimal, error) {
	d, err := decimal.NewFromString(s)
	if err != nil {
		return Decimal{}, fmt.Errorf("%q is not a decimal number", s)
	}
	return Decimal{d}, nil
}

// MustParse is Parse for constants in code and tests; it panics on bad input.
func MustParse(s string) Decimal {
	d, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return d
}

// Of wraps a shopspring decimal.
func Of(d decimal.Decimal) Decimal { return Decimal{d} }

// Add returns d + o.
func (d Decimal) Add(o Decimal) Decimal {
	if a, ok := wordOf(d.Decimal); ok {
		if b, ok := wordOf(o.Decimal); ok {
			if a.mag == 0 && a.exp == 0 && b.mag != 0 && b.exp <= 0 {
				// Zero plus b is b, digit for digit: tax rates are summed from zero.
				return o
			}
			if r, ok := add(a, b); ok {
				return Decimal{r.decimal()}
			}
		}
	}
	return Decimal{d.Decimal.Add(o.Decimal)}
}

// Sub returns d − o.
func (d Decimal) Sub(o Decimal) Decimal {
	if a, ok := wordOf(d.Decimal); ok {
		if b, ok := wordOf(o.Decimal); ok {
			b.neg = !b.neg
			if r, ok := add(a, b); ok {
				return Decimal{r.decimal()}
			}
		}
	}
	return Decimal{d.Decimal.Sub(o.Decimal)}
}

// Mul returns d × o, exactly.
func (d Decimal) Mul(o Decimal) Decimal {
	if a, ok := wordOf(d.Decimal); ok {
		if b, ok := wordOf(o.Decimal); ok {
			if r, ok := mul(a, b); ok {
				return Decimal{r.decimal()}
			}
		}
	}
	return Decimal{d.Decimal.Mul(o.Decimal)}
}

// DivisionPlaces is the number of decimal places of Div's quotient.
const DivisionPlaces = 16

// Div returns d ÷ o to 16 decimal places; round the result to cents where an amount is wanted.
func (d Decimal) Div(o Decimal) Decimal {
	if a, ok := wordOf(d.Decimal); ok {
		if b, ok := wordOf(o.Decimal); ok {
			if r, ok := divRound(a, b, DivisionPlaces); ok {
				return Decimal{r.decimal()}
			}
		}
	}
	return Decimal{d.Decimal.DivRound(o.Decimal, DivisionPlaces)}
}

// Round is shopspring's Round (half away from zero to places), the same value and form, computed
// without big integers when the coefficient fits 64 bits.
func (d Decimal) Round(places int32) decimal.Decimal {
	if d.Exponent() == -places {
		return d.Decimal
	}
	if a, ok := wordOf(d.Decimal); ok {
		if r, ok := round(a, places); ok {
			return r.decimal()
		}
	}
	return d.Decimal.Round(places)
}

// Cents rounds half away from zero to two decimal places, as invoices do.
func (d Decimal) Cents() Decimal { return Decimal{d.Round(2)} }

// Cmp is shopspring's Cmp: -1, 0 or +1 as d is less than, equal to or greater than o.
func (d Decimal) Cmp(o decimal.Decimal) int {
	if a, ok := wordOf(d.Decimal); ok {
		if b, ok := wordOf(o); ok {
			if c, ok := cmp(a, b); ok {
				return c
			}
		}
	}
	return d.Decimal.Cmp(o)
}

// Equal reports whether d and o are the same number (1.0 equals 1.00).
func (d Decimal) Equal(o Decimal) bool { return d.Cmp(o.Decimal) == 0 }

// Amounts read from outside are bounded: a value like 1e1000000000 is a few bytes of JSON but
// rounding it would build a billion-digit integer.
const (
	maxExponent = 18
	maxDigits   = 40
)

func inRange(v decimal.Decimal) bool {
	return v.Exponent() >= -maxExponent && v.Exponent() <= maxExponent && len(v.Coefficient().String()) <= maxDigits
}

// MarshalJSON writes the number's exact decimal text as a JSON number.
func (d Decimal) MarshalJSON() ([]byte, error) { return []byte(d.Decimal.String()), nil }

// UnmarshalJSON reads a JSON number from its text without passing through float64. A quoted
// number is accepted too, since some APIs send amounts as strings; null leaves zero.
func (d *Decimal) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		*d = Decimal{}
		return nil
	}
	if len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' {
		b = b[1 : len(b)-1]
	}
	v, err := decimal.NewFromString(string(b))
	if err != nil || !inRange(v) {
		// An UnmarshalTypeError lets encoding/json name the field that held the bad value.
		return &json.UnmarshalTypeError{Value: "number " + string(b), Type: reflect.TypeFor[Decimal]()}
	}
	d.Decimal = v
	return nil
}
