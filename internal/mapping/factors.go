package mapping

import (
	"sync"
	"sync/atomic"

	"github.com/handybind/handybind/internal/money"
)

// factors remembers 1 + rate/100 for the tax rates lines carry, and the product of a VAT and an
// IEPS factor: a company has a handful of rates, and each factor is two exact divisions and a sum
// that would otherwise be redone for every line.
var factors factorCache

// maxFactors bounds each table: rates come from Handy, so they are few, but not trusted to be.
const maxFactors = 256

type rateKey struct {
	coefficient int64
	exponent    int32
}

// keyOf is the key of a rate: its coefficient and exponent, so 16 and 16.00 are apart.
func keyOf(d money.Decimal) (rateKey, bool) {
	if d.NumDigits() > 18 {
		return rateKey{}, false
	}
	return rateKey{d.CoefficientInt64(), d.Exponent()}, true
}

type factorCache struct {
	mu       sync.Mutex // held by writers, which copy the table they change
	single   atomic.Pointer[map[rateKey]money.Decimal]
	products atomic.Pointer[map[[2]rateKey]money.Decimal]
}

// of returns factor(rate), the very decimal it computes.
func (c *factorCache) of(rate money.Decimal) money.Decimal {
	k, ok := keyOf(rate)
	if !ok {
		return factor(rate)
	}
	if t := c.single.Load(); t != nil {
		if f, ok := (*t)[k]; ok {
			return f
		}
	}
	f := factor(rate)
	store(&c.mu, &c.single, k, f)
	return f
}

// product returns factor(vat) × factor(ieps) with the trailing zeros of its coefficient dropped:
// the same number, made to divide by. A quotient depends on the values divided only, so it is
// the same, and the 16-place factors' product, 33 digits long, becomes one of a few digits that
// the fast division takes.
func (c *factorCache) product(vat, ieps money.Decimal) money.Decimal {
	kv, ok1 := keyOf(vat)
	ki, ok2 := keyOf(ieps)
	if !ok1 || !ok2 {
		return money.Of(c.of(vat).Mul(c.of(ieps)).Normalize())
	}
	k := [2]rateKey{kv, ki}
	if t := c.products.Load(); t != nil {
		if f, ok := (*t)[k]; ok {
			return f
		}
	}
	f := money.Of(c.of(vat).Mul(c.of(ieps)).Normalize())
	store(&c.mu, &c.products, k, f)
	return f
}

func store[K comparable](mu *sync.Mutex, table *atomic.Pointer[map[K]money.Decimal], k K, f money.Decimal) {
	mu.Lock()
	defer mu.Unlock()
	old := table.Load()
	if old != nil && len(*old) >= maxFactors {
		return
	}
	t := make(map[K]money.Decimal, 1+lenOf(old))
	if old != nil {
		for k, v := range *old {
			t[k] = v
		}
	}
	t[k] = f
	table.Store(&t)
}

func lenOf[K comparable](t *map[K]money.Decimal) int {
	if t == nil {
		return 0
	}
	return len(*t)
}
