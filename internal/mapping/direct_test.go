package mapping

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"

	"github.com/handybind/handybind/internal/money"
)

// sameOnBothPaths maps env for target directly (as a sync does) and on the VM only (as a check
// does, here by asking for explanations), and requires the same output, or the same error.
func sameOnBothPaths(t *testing.T, m *Mapping, target string, env any) {
	t.Helper()
	tg, _ := TargetByName(target)
	direct, vm := tg.newOut(), tg.newOut()
	errDirect := m.apply(nil, target, env, direct, nil)
	var fields []Explained
	errVM := m.apply(nil, target, env, vm, &fields)
	if errVM != nil {
		require.EqualError(t, errDirect, errVM.Error())
		return
	}
	require.NoError(t, errDirect)
	require.Equal(t, vm, direct)
}

func compileFile(t *testing.T, path string) *Mapping {
	t.Helper()
	src, err := os.ReadFile(path)
	require.NoError(t, err)
	m, err := Compile(path, src)
	require.NoError(t, err)
	return m
}

func TestDirectRulesMatchTheVM(t *testing.T) {
	t.Parallel()
	paths, err := filepath.Glob("../../mappings/handy-bind/*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, paths)
	for _, path := range paths {
		m := compileFile(t, path)
		// Every rule of the shipped files runs directly.
		for _, tg := range Targets {
			for _, r := range m.rules[tg.Name] {
				require.NotNil(t, r.direct, "%s: %s = %s runs on the VM only", path, r.Name(), r.Source)
			}
		}
		// The files' own test inputs.
		for _, tc := range m.tests {
			env := reflect.New(tc.target.Env)
			require.NoError(t, json.Unmarshal(tc.input, env.Interface()))
			sameOnBothPaths(t, m, tc.target.Name, env.Interface())
		}
		// Random lines and headers, with the values that make rules fail or leave the fast
		// arithmetic: zero and negative quantities, -100% rates, huge and tiny amounts, an
		// unknown time zone.
		r := rand.New(rand.NewPCG(7, 8))
		amounts := []string{"0", "1", "-1", "940.9", "2822.7", "0.001", "1844.67", "99999999999.99", "1e-18", "123456789012345678901234567890", "-0.005"}
		rates := []string{"0", "16", "8", "-100", "26.5", "0.0000000000000001"}
		pick := func(xs []string) money.Decimal { return money.MustParse(xs[r.IntN(len(xs))]) }
		zones := []string{"America/Mexico_City", "UTC", "Nowhere/Else", ""}
		texts := []string{"", "  ", " Almacén Norte ", "ñandú", "x"}
		for range 3000 {
			conn := Connection{Warehouse: texts[r.IntN(len(texts))], TimeZone: zones[r.IntN(len(zones))], PriceListID: "pl", CurrencyID: "mxn"}
			sale := Sale{ID: r.Int64N(1 << 40), MobileDateCreated: time.Unix(r.Int64N(1<<31), 0).UTC(), VATRate: pick(rates), Comment: texts[r.IntN(len(texts))]}
			line := Line{
				Index: r.IntN(20), Quantity: pick(amounts), Price: pick(amounts), Total: pick(amounts),
				VATRate: pick(rates), IEPSRate: pick(rates), Unit: "PZA", Comments: texts[r.IntN(len(texts))],
			}
			seller := Seller{Name: texts[r.IntN(len(texts))], Email: "beto@example.com", Extras: texts[r.IntN(len(texts))]}
			customer := Customer{Description: "Abarrotes", RFC: texts[r.IntN(len(texts))], Email: texts[r.IntN(len(texts))]}
			product := Product{Code: "P", Price: pick(amounts), VATRate: pick(rates), IEPSRate: pick(rates)}
			sameOnBothPaths(t, m, "order_line", &LineEnv{Line: line, Sale: sale, Connection: conn})
			sameOnBothPaths(t, m, "order", &OrderEnv{Sale: sale, Seller: seller, Customer: customer, Connection: conn})
			sameOnBothPaths(t, m, "warehouse", &WarehouseEnv{Seller: seller, Connection: conn})
			sameOnBothPaths(t, m, "client", &ClientEnv{Customer: customer, Connection: conn})
			sameOnBothPaths(t, m, "product", &ProductEnv{Product: product, Connection: conn})
		}
	}
}

// TestDirectRulesCoverTheLanguage runs rules of every construct the closures compile, and some
// they leave to the VM, both ways.
func TestDirectRulesCoverTheLanguage(t *testing.T) {
	t.Parallel()
	rules := map[string][]string{
		"order_line": {
			`Price: "line.quantity >= dec(2) && !(line.vatRate != line.vatRate) ? roundTo(line.price * line.quantity - line.total, 2) : withTax(line.price, line.vatRate)"`,
			`Qty: "line.isReward || line.isReturn ? dec(0) : cents(line.quantity)"`,
			`Comments: "line.unit == 'PZA' ? upper(line.comments) + string(line.index) + string(line.isReward) : lower(trim(line.comments, 'x'))"`,
			`Unit: "formatDate(sale.mobileDateCreated, '2006-01-02', connection.timeZone) + replace(line.unit, 'P', 'Q')"`,
			`VATExempt: "line.index == 3 or line.productCode != 'P-1' and line.vatRate <= dec(0)"`,
			`IEPS: "line.index"`,
		},
		"order": {
			`VATRate: "netOfTax(sale.totalSales, sale.vatRate) - sale.totalTax / sale.totalBeforeTax"`,
			`Comments: "join(split(sale.comment, ' '), '-') + (sale.id > 5 ? 'big' : 'small')"`,
			`PurchaseOrder: "sale.lineCount < 3 ? 'few' : string(sale.lineCount)"`,
			`PriceListID: connection.priceListId`,
			`CurrencyID: "coalesce(connection.currencyId, connection.currency, 'MXN')"`,
			`OrderDate: localTime(sale.mobileDateCreated, connection.timeZone)`,
		},
		"product": {
			`Title: product.description`, `Code: product.code`, `Price: product.price`, `Cost: dec(0)`, `CurrencyId: connection.currencyId`,
		},
		"client": {
			`LegalName: customer.description`, `CommercialName: customer.description`, `RFC: customer.rfc`, `CreditDays: 0`,
			`CreditAmount: customer.id`, `PriceListID: connection.priceListId`, `AccountingNumber: connection.ledgerAccount`,
		},
		"warehouse": {`Name: connection.warehouse`},
	}
	src := "apiVersion: handybind.dev/mapping/v1\nname: handy-bind\nversion: v9\nrules:\n"
	for target, rs := range rules {
		src += "  " + target + ":\n"
		for _, r := range rs {
			src += "    " + r + "\n"
		}
	}
	m, err := Compile("v9.yaml", []byte(src))
	require.NoError(t, err)
	r := rand.New(rand.NewPCG(9, 10))
	amounts := []string{"0", "1", "-1", "940.9", "0.125", "-0.125", "1e-18", "123456789012345678901234567890"}
	pick := func() money.Decimal { return money.MustParse(amounts[r.IntN(len(amounts))]) }
	for range 3000 {
		conn := Connection{TimeZone: []string{"UTC", "Nowhere/Else"}[r.IntN(2)]}
		sale := Sale{ID: r.Int64N(10), LineCount: r.IntN(5), Comment: "a b  c", TotalSales: pick(), TotalTax: pick(), TotalBeforeTax: pick(), VATRate: pick()}
		line := Line{Index: r.IntN(5), ProductCode: []string{"P-1", "P-2"}[r.IntN(2)], Quantity: pick(), Price: pick(), Total: pick(), VATRate: pick(),
			Unit: []string{"PZA", "KG"}[r.IntN(2)], Comments: "xAbcx", IsReward: r.IntN(2) == 0, IsReturn: r.IntN(2) == 0}
		sameOnBothPaths(t, m, "order_line", &LineEnv{Line: line, Sale: sale, Connection: conn})
		sameOnBothPaths(t, m, "order", &OrderEnv{Sale: sale, Connection: conn})
	}
}

// A decimal constant is a decimal wherever it stands: arithmetic with dec(…) inside a function's
// arguments loads (it was once refused as "mismatched types money.Decimal and money.Decimal"),
// and computes the same on both paths.
func TestDecimalConstantsInsideCalls(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../mappings/handy-bind/v2.yaml")
	require.NoError(t, err)
	src, _, _ := strings.Cut(string(raw), "\ntests:") // its tests expect v2's own rules
	src = strings.Replace(src, "version: v2", "version: v9", 1)
	src = regexp.MustCompile(`(?m)^    Qty: .*$`).ReplaceAllString(src, `    Qty: "line.isReward ? dec(0) : cents(line.quantity - dec(1))"`)
	src = regexp.MustCompile(`(?ms)^    Price: >-\n.*?\n    VATExempt:`).ReplaceAllString(src,
		"    Price: \"roundTo(netOfTax(line.price * dec('1.5'), line.vatRate), 2)\"\n    VATExempt:")
	m, err := Compile("v9.yaml", []byte(src))
	require.NoError(t, err)
	env := &LineEnv{Line: Line{Quantity: money.MustParse("3.456"), Price: money.MustParse("116"), VATRate: money.MustParse("16")}}
	line, err := m.OrderLine(env)
	require.NoError(t, err)
	require.Equal(t, "2.46", line.Qty.String())
	require.Equal(t, "150", line.Price.String())
	sameOnBothPaths(t, m, "order_line", env)
}

// TestDirectFallbacksAreCounted: a closure that gives up or panics leaves the rule to the VM,
// whose result the sync gets, and each such run is counted for the operator's metric; a panic is
// logged, once per rule, with where the rule is.
func TestDirectFallbacksAreCounted(t *testing.T) {
	// Not parallel: the counters and the default logger are the process's.
	var logged bytes.Buffer
	kept := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logged, nil)))
	t.Cleanup(func() { slog.SetDefault(kept) })
	m := compileFile(t, "../../mappings/handy-bind/v2.yaml")
	env := &WarehouseEnv{Seller: Seller{Name: "Beto", Extras: " Almacén Norte "}, Connection: Connection{Warehouse: "General"}}
	tg, _ := TargetByName("warehouse")
	want := tg.newOut()
	require.NoError(t, m.apply(nil, "warehouse", env, want, nil))

	rules := m.rules["warehouse"]
	require.NotEmpty(t, rules)
	closure := rules[0].direct
	t.Cleanup(func() { rules[0].direct = closure })
	for _, tc := range []struct {
		name    string
		closure func(unsafe.Pointer, any) bool
		gaveUp  uint64
		panics  uint64
	}{
		{"gives up", func(unsafe.Pointer, any) bool { return false }, 1, 0},
		{"panics", func(unsafe.Pointer, any) bool { panic("a closure compiler fault") }, 0, 1},
		{"panics again", func(unsafe.Pointer, any) bool { panic("a closure compiler fault") }, 0, 1},
		{"runs", closure, 0, 0},
	} {
		rules[0].direct = tc.closure
		gaveUp, panicked := DirectFallbacks()
		got := tg.newOut()
		require.NoError(t, m.apply(nil, "warehouse", env, got, nil), tc.name)
		require.Equal(t, want, got, "%s: the sync gets the VM's result", tc.name)
		gaveUp2, panicked2 := DirectFallbacks()
		require.Equal(t, tc.gaveUp, gaveUp2-gaveUp, tc.name)
		require.Equal(t, tc.panics, panicked2-panicked, tc.name)
	}
	require.Equal(t, 1, strings.Count(logged.String(), "a closure compiler fault"), "logged once: %s", logged.String())
	require.Contains(t, logged.String(), "version=v2")
	require.Contains(t, logged.String(), "rule="+rules[0].Name())
}
