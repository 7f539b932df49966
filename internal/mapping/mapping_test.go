package mapping_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/handybind/handybind/internal/handy"
	"github.com/handybind/handybind/internal/mapping"
	"github.com/handybind/handybind/internal/money"
)

const v1Path = "../../mappings/handy-bind/v1.yaml"

func v1Source(t testing.TB) []byte {
	t.Helper()
	src, err := os.ReadFile(v1Path)
	require.NoError(t, err)
	return src
}

func v1(t testing.TB) *mapping.Mapping {
	t.Helper()
	m, err := mapping.Compile("mappings/handy-bind/v1.yaml", v1Source(t))
	require.NoError(t, err)
	return m
}

var conn = mapping.Connection{
	PriceList: "Lista General", PriceListID: "pl-1", Currency: "MXN", CurrencyID: "cur-mxn",
	Warehouse: "Matriz", WarehouseID: "wh-1", LocationID: "loc-1", LedgerAccount: "105-01-001",
	TimeZone: "America/Mexico_City",
}

func TestV1PassesItsOwnTestsAndTestsEveryRule(t *testing.T) {
	t.Parallel()
	m := v1(t)
	require.Equal(t, "handy-bind", m.Name)
	require.Equal(t, "v1", m.Version)
	results := m.Test()
	require.NotEmpty(t, results)
	for _, r := range results {
		require.True(t, r.Passed, "%s: %v", r.Name, r.Failures)
	}
	require.Empty(t, m.Untested(), "every rule of v1 is checked by a test case")
}

func TestP2ProductTitleIsDescriptionAndCodeIsCode(t *testing.T) {
	t.Parallel()
	p, err := v1(t).Product(&mapping.ProductEnv{Product: mapping.ProductOf(handy.Product{Code: "E-001", Description: "Escoba de mijo", Price: money.MustParse("970")}), Connection: conn})
	require.NoError(t, err)
	require.Equal(t, "Escoba de mijo", p.Title)
	require.Equal(t, "E-001", p.Code)
	require.Equal(t, "cur-mxn", p.CurrencyID)
}

func TestP3ProductPriceIsAfterTaxes(t *testing.T) {
	t.Parallel()
	// 1750 before tax, IVA 8%: Handy shows 1890, and that is the price synced.
	hp := handy.Product{Code: "M-001", Description: "Mueble", BasePrice: money.MustParse("1750"), Price: money.MustParse("1890"),
		Tax: &handy.Tax{Name: "IVA", Amount: money.NewFromInt(8), Enabled: true}}
	p, err := v1(t).Product(&mapping.ProductEnv{Product: mapping.ProductOf(hp), Connection: conn})
	require.NoError(t, err)
	require.Equal(t, "1890", p.Price.String())
}

func clientOf(t *testing.T, c handy.Customer) (legal, commercial, rfc, priceList, account string) {
	t.Helper()
	out, err := v1(t).Client(&mapping.ClientEnv{Customer: mapping.CustomerOf(c), Connection: conn})
	require.NoError(t, err)
	return out.LegalName, out.CommercialName, out.RFC, out.PriceListID, out.AccountingNumber
}

func TestC3DescriptionIsRazonSocialAndNombreComercial(t *testing.T) {
	t.Parallel()
	legal, commercial, _, _, _ := clientOf(t, handy.Customer{Code: "9112069", Description: "Abarrotes Lupita"})
	require.Equal(t, "Abarrotes Lupita", legal)
	require.Equal(t, "Abarrotes Lupita", commercial)
}

func TestC4GenericRFCWhenMissing(t *testing.T) {
	t.Parallel()
	_, _, rfc, _, _ := clientOf(t, handy.Customer{Code: "A4", Description: "Sin RFC"})
	require.Equal(t, "XAXX010101000", rfc)
	_, _, rfc, _, _ = clientOf(t, handy.Customer{Code: "A5", Description: "Con RFC", RFC: " lula800101ab1"})
	require.Equal(t, "LULA800101AB1", rfc)
}

func TestC5PriceListAndLedgerAccountOfTheConnection(t *testing.T) {
	t.Parallel()
	_, _, _, pl, acct := clientOf(t, handy.Customer{Code: "A6", Description: "Nuevo"})
	require.Equal(t, "pl-1", pl)
	require.Equal(t, "105-01-001", acct)
}

func sampleSale() handy.SalesOrder {
	comment := "tocar el timbre"
	return handy.SalesOrder{
		ID: 29079294, DateCreated: handy.Time{Time: time.Date(2023, 2, 26, 7, 17, 40, 0, time.UTC)},
		MobileDateCreated: handy.Time{Time: time.Date(2023, 2, 26, 7, 14, 32, 0, time.UTC)},
		CreatedBy:         handy.User{ID: 74120, Name: "Beto Ventas", Username: "beto@example.com", Extras: "Almacén Norte"},
		Customer:          handy.Customer{Code: "9112069", Description: "Abarrotes Lupita"},
		SellerComment:     &comment,
		TotalSales:        money.MustParse("2822.7"),
	}
}

func TestS3PriceListAndCurrencyOfTheConnection(t *testing.T) {
	t.Parallel()
	s := sampleSale()
	o, err := v1(t).Order(&mapping.OrderEnv{Sale: mapping.SaleOf(s), Seller: mapping.SellerOf(s.CreatedBy), Customer: mapping.CustomerOf(s.Customer), Connection: conn})
	require.NoError(t, err)
	require.Equal(t, "pl-1", o.PriceListID)
	require.Equal(t, "cur-mxn", o.CurrencyID)
	require.Equal(t, "29079294", o.PurchaseOrder)
	require.Equal(t, "2023-02-26T01:14:32", o.OrderDate.Format("2006-01-02T15:04:05"), "wall-clock time in the connection's zone")
}

func TestS4SellerNameAndEmailInComments(t *testing.T) {
	t.Parallel()
	s := sampleSale()
	o, err := v1(t).Order(&mapping.OrderEnv{Sale: mapping.SaleOf(s), Seller: mapping.SellerOf(s.CreatedBy), Customer: mapping.CustomerOf(s.Customer), Connection: conn})
	require.NoError(t, err)
	require.Equal(t, "Vendedor: Beto Ventas <beto@example.com>. tocar el timbre", o.Comments)
}

func TestW1WarehouseFromSellerExtrasElseDefault(t *testing.T) {
	t.Parallel()
	m := v1(t)
	name, err := m.Warehouse(&mapping.WarehouseEnv{Seller: mapping.SellerOf(handy.User{Name: "Beto", Extras: " Almacén Norte "}), Connection: conn})
	require.NoError(t, err)
	require.Equal(t, "Almacén Norte", name)
	name, err = m.Warehouse(&mapping.WarehouseEnv{Seller: mapping.SellerOf(handy.User{Name: "Ana"}), Connection: conn})
	require.NoError(t, err)
	require.Equal(t, "Matriz", name)
}

func TestOrderLinesAreNetOfTheirTax(t *testing.T) {
	t.Parallel()
	m := v1(t)
	item := handy.SalesOrderItem{
		Product: handy.Product{Code: "M-002", Unit: &handy.Unit{Code: "PZA"}}, Quantity: money.NewFromInt(2), Price: money.MustParse("116"),
		Tax: &handy.Tax{Amount: money.NewFromInt(16), Enabled: true},
	}
	l, err := m.OrderLine(&mapping.LineEnv{Line: mapping.LineOf(0, item), Connection: conn})
	require.NoError(t, err)
	require.Equal(t, "100", l.Price.String(), "116.00 with 16% VAT is exactly 100.00 net")
	require.Equal(t, "2", l.Qty.String())
	// With the optional tax the line carries, both rates come off: 124 at 16% + 8% is 100.
	item.Price = money.MustParse("124")
	item.TaxOptional = &handy.Tax{Amount: money.NewFromInt(8), Enabled: true}
	l, err = m.OrderLine(&mapping.LineEnv{Line: mapping.LineOf(0, item), Connection: conn})
	require.NoError(t, err)
	require.Equal(t, "100", l.Price.String())
}

func TestMoneyInRulesIsExact(t *testing.T) {
	t.Parallel()
	src := strings.Replace(string(v1Source(t)), "    Cost: dec(0)\n", "    Cost: 'dec(\"0.1\") + dec(\"0.2\") == dec(\"0.3\") ? netOfTax(dec(\"116.00\"), dec(16)) : dec(-1)'\n", 1)
	m, err := mapping.Compile("v1.yaml", []byte(src))
	require.NoError(t, err)
	p, err := m.Product(&mapping.ProductEnv{Product: mapping.ProductOf(handy.Product{Code: "X", Description: "X"}), Connection: conn})
	require.NoError(t, err)
	require.Equal(t, "100", p.Cost.String(), "0.1 + 0.2 is 0.3, and 116.00 with 16% VAT is 100.00")
}

func TestPreviewExplainsEveryField(t *testing.T) {
	t.Parallel()
	in := `{"sale":{"id":7,"mobileDateCreated":"2026-03-02T18:00:00Z"},"seller":{"name":"Beto","email":"b@example.com"},
	        "customer":{"description":"Lupita"},"connection":{"priceListId":"pl-1","currencyId":"cur","timeZone":"America/Mexico_City"},
	        "lines":[{"index":0,"productCode":"E-001","quantity":2,"price":116,"taxRate":16,"unit":"PZA"}]}`
	payload, fields, err := v1(t).Preview("order", []byte(in))
	require.NoError(t, err)
	var body map[string]any
	require.NoError(t, json.Unmarshal(payload, &body))
	require.Equal(t, "7", body["PurchaseOrder"])
	require.Equal(t, "2026-03-02T12:00:00", body["OrderDate"])
	products := body["Products"].([]any)
	require.Equal(t, json.Number("100").String(), fmt.Sprint(products[0].(map[string]any)["Price"]))
	byField := map[string]mapping.Explained{}
	for _, f := range fields {
		byField[f.Field] = f
	}
	require.Equal(t, "connection.priceListId", byField["PriceListID"].Rule)
	require.Equal(t, "netOfTax(line.price, line.taxRate)", byField["Products[0].Price"].Rule)
	require.NotZero(t, byField["Comments"].Line)

	_, _, err = v1(t).Preview("order", []byte(`{"sale":{"idd":7}}`))
	require.ErrorContains(t, err, `unknown field "idd"`)

	// Bad input is told in an integrator's words, where it is, never with Go's types.
	for in, want := range map[string]string{
		"{\n  \"line\": {\"quantity\": 1,}\n}": "not valid JSON at line 2, column 27",
		`[1, 2]`:                               "expected an object, got array",
		`{"line": {"comments": 7}}`:            "line.comments at line 1, column 24: expected text, got number",
		`{"line": {"isReward": "yes"}}`:        "expected true or false",
		``:                                     "the input is empty",
	} {
		_, _, err = v1(t).Preview("order_line", []byte(in))
		require.ErrorContains(t, err, want, in)
		require.NotContains(t, err.Error(), "Go ", in)
		require.NotContains(t, err.Error(), "mapping.", in)
	}
}

// brokenCases mutates v1 into files that must each fail to load at the right line, with a clear
// message, without panicking.
func TestBrokenMappingsFailWithLineAndMessage(t *testing.T) {
	t.Parallel()
	base := string(v1Source(t))
	lineOf := func(needle string) int {
		i := strings.Index(base, needle)
		require.GreaterOrEqual(t, i, 0, needle)
		return strings.Count(base[:i], "\n") + 1
	}
	replace := func(old, new string) string {
		require.Contains(t, base, old)
		return strings.Replace(base, old, new, 1)
	}
	cases := []struct {
		name, src string
		line      int
		want      string
		slack     int // YAML's parser may name the line before the one at fault
	}{
		{"unknown field with suggestion", replace("LegalName: customer.description", "LegalName: customer.descripton"), lineOf("LegalName: customer.description"), "did you mean customer.description?", 0},
		{"unknown root", replace("Title: product.description", "Title: producto.description"), lineOf("Title: product.description"), "unknown field producto.description", 0},
		{"unknown field inside a call", replace("Price: netOfTax(line.price, line.taxRate)", "Price: netOfTax(line.prize, line.taxRate)"), lineOf("Price: netOfTax"), "did you mean line.price?", 0},
		{"wrong argument type", replace("Price: netOfTax(line.price, line.taxRate)", "Price: netOfTax(line.unit, line.taxRate)"), lineOf("Price: netOfTax"), "cannot use string as argument", 0},
		{"wrong type", replace("Title: product.description", "Title: product.price"), lineOf("Title: product.description"), "gives a decimal, but the field needs text", 0},
		{"float is refused for money", replace("Cost: dec(0)", "Cost: 1.5"), lineOf("Cost: dec(0)"), "not exact", 0},
		{"float literal in dec", replace("Cost: dec(0)", "Cost: dec(1.5)"), lineOf("Cost: dec(0)"), `write it as text: dec("1.5")`, 0},
		{"syntax error", replace("Qty: line.quantity", "Qty: line.quantity +"), lineOf("Qty: line.quantity"), "unexpected", 0},
		{"missing required field", replace("    Code: product.code                    # P2\n", ""), lineOf("  product:"), "product needs a rule for Code", 0},
		{"missing target", replace("  warehouse:\n    Name: coalesce(seller.extras, connection.warehouse)  # W1\n", ""), lineOf("rules:"), `target "warehouse" is missing`, 0},
		{"unknown target", replace("  warehouse:", "  warehous:"), lineOf("  warehouse:"), "did you mean warehouse?", 0},
		{"unknown target field", replace("    Unit: line.unit", "    Units: line.unit"), lineOf("    Unit: line.unit"), `order_line has no field "Units" (did you mean Unit?)`, 0},
		{"duplicate rule", replace("    Qty: line.quantity", "    Qty: line.quantity\n    Qty: line.quantity"), lineOf("    Qty: line.quantity") + 1, "has a rule already", 0},
		{"forbidden function", replace("Cost: dec(0)", `Cost: dec(len(repeat("x", 1000000000)))`), lineOf("Cost: dec(0)"), "repeat is not a function rules may call", 0},
		{"no loops", replace("Cost: dec(0)", `Cost: dec(count(split(product.code, ""), count(split(product.code, ""), true) > 0))`), lineOf("Cost: dec(0)"), "count is not a function rules may call", 0},
		{"no let", replace("Cost: dec(0)", `Cost: "let a = product.code; dec(len(a))"`), lineOf("Cost: dec(0)"), "let is not allowed", 0},
		{"replace with nothing to look for", replace("Unit: line.unit", `Unit: replace(line.unit, "", "x")`), 0, "", 0},
		{"no clock", replace("OrderDate: localTime(sale.mobileDateCreated, connection.timeZone)", "OrderDate: now()"), lineOf("OrderDate: localTime"), "now is not a function", 0},
		{"method call", replace("Cost: dec(0)", "Cost: product.price.Pow(product.price)"), lineOf("Cost: dec(0)"), "calling methods", 0},
		{"huge expression", replace("Cost: dec(0)", "Cost: dec(0)"+strings.Repeat(" + dec(1)", 400)), lineOf("Cost: dec(0)"), "limit", 0},
		{"bad apiVersion", replace("apiVersion: handybind.dev/mapping/v1", "apiVersion: handybind.dev/mapping/v9"), lineOf("apiVersion:"), "not supported", 0},
		{"bad version", replace("version: v1", "version: 1.0"), lineOf("version: v1"), "must look like v1", 0},
		{"version does not match the file name", replace("version: v1", "version: v2"), 1, "name it v2.yaml", 0},
		{"not YAML", replace("rules:", "rules: ["), lineOf("rules:"), "not valid YAML", 1},
		{"unknown top-level key", replace("description: |", "descripton: |"), lineOf("description: |"), "did you mean description?", 0},
		{"test expects an unknown field", replace("      Title: Escoba de mijo", "      Titel: Escoba de mijo"), lineOf("      Title: Escoba de mijo"), "not a field", 0},
		{"test input does not fit", replace(`product: {code: "M-001"`, `product: {kode: "M-001"`), 0, "", 0},
		{"duplicate key", replace("name: handy-bind", "name: handy-bind\nname: other"), lineOf("name: handy-bind") + 1, "appears twice", 0},
		{"empty rule", replace("Cost: dec(0)", "Cost:"), lineOf("Cost: dec(0)"), "must be one expression", 0},
		{"unknown variable in a ternary", replace("Name: coalesce(seller.extras, connection.warehouse)", `Name: "seller.extra != '' ? seller.extra : connection.warehouse"`), lineOf("    Name: coalesce(seller"), "did you mean seller.extras?", 0},
	}
	require.GreaterOrEqual(t, len(cases), 20)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := mapping.Compile("mappings/handy-bind/v1.yaml", []byte(tc.src))
			if tc.want == "" {
				// Loads, but its test case cannot run: it is refused by its tests.
				require.NoError(t, err)
				failed := false
				for _, r := range m.Test() {
					failed = failed || !r.Passed
				}
				require.True(t, failed)
				return
			}
			var le *mapping.LoadError
			require.True(t, errors.As(err, &le), "want a load error, got %v", err)
			found := false
			for _, p := range le.Problems {
				if strings.Contains(p.Message, tc.want) {
					found = true
					require.InDelta(t, tc.line, p.Line, float64(tc.slack), "problem %q", p)
				}
			}
			require.True(t, found, "no problem says %q in:\n%v", tc.want, le)
		})
	}
}

func TestRegistryHotLoadsGoodChangesAndRefusesBrokenOnes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "handy-bind"), 0o755))
	v1File := filepath.Join(dir, "handy-bind", "v1.yaml")
	require.NoError(t, os.WriteFile(v1File, v1Source(t), 0o644))
	reg, err := mapping.NewRegistry(dir, nil)
	require.NoError(t, err)
	first, ok := reg.Get("handy-bind", "v1")
	require.True(t, ok)

	ctx, cancel := contextWithCancel(t)
	defer cancel()
	go func() { _ = reg.Watch(ctx) }()
	time.Sleep(100 * time.Millisecond) // let the watcher start

	// A valid new version goes live within seconds.
	v2 := strings.Replace(string(v1Source(t)), "version: v1", "version: v2", 1)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "handy-bind", "v2.yaml"), []byte(v2), 0o644))
	require.Eventually(t, func() bool { _, ok := reg.Get("handy-bind", "v2"); return ok }, 5*time.Second, 20*time.Millisecond)
	latest, _ := reg.Latest("handy-bind")
	require.Equal(t, "v2", latest.Version)

	// A broken change is refused and reported; the old v1 keeps serving.
	broken := strings.Replace(string(v1Source(t)), "Title: product.description", "Title: product.descripton", 1)
	require.NoError(t, os.WriteFile(v1File, []byte(broken), 0o644))
	require.Eventually(t, func() bool {
		for _, f := range reg.Files() {
			if f.Path == v1File && len(f.Problems) > 0 {
				return true
			}
		}
		return false
	}, 5*time.Second, 20*time.Millisecond)
	still, ok := reg.Get("handy-bind", "v1")
	require.True(t, ok)
	require.Equal(t, first.Checksum, still.Checksum)

	// A change whose own tests fail is refused too.
	failing := strings.Replace(string(v1Source(t)), "Code: product.code ", "Code: upper(product.description) ", 1)
	require.NoError(t, os.WriteFile(v1File, []byte(failing), 0o644))
	require.Eventually(t, func() bool {
		for _, f := range reg.Files() {
			if f.Path == v1File && len(f.Failures) > 0 {
				return true
			}
		}
		return false
	}, 5*time.Second, 20*time.Millisecond)
	still, _ = reg.Get("handy-bind", "v1")
	require.Equal(t, first.Checksum, still.Checksum)

	// Fixed again: the new content is live.
	fixed := strings.Replace(string(v1Source(t)), "Cost: dec(0)", "Cost: dec(1)", 1)
	fixed = strings.Replace(fixed, "      Cost: 0\n", "      Cost: 1\n", 1)
	require.NoError(t, os.WriteFile(v1File, []byte(fixed), 0o644))
	require.Eventually(t, func() bool { m, _ := reg.Get("handy-bind", "v1"); return m.Checksum != first.Checksum }, 5*time.Second, 20*time.Millisecond)
}

// TestAliasBombIsRefusedQuickly: a few lines of YAML aliases can stand for gigabytes; the loader
// refuses them instead of expanding them.
func TestAliasBombIsRefusedQuickly(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("apiVersion: handybind.dev/mapping/v1\nname: handy-bind\nversion: v1\nrules: {}\ntests:\n  - name: x\n    target: warehouse\n    expect: {Name: x}\n    input:\n")
	b.WriteString(`      a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]` + "\n")
	prev := "a"
	for _, name := range []string{"b", "c", "d", "e", "f", "g", "h", "i"} {
		fmt.Fprintf(&b, "      %s: &%s [*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s]\n", name, name, prev, prev, prev, prev, prev, prev, prev, prev, prev)
		prev = name
	}
	start := time.Now()
	_, err := mapping.Compile("v1.yaml", []byte(b.String()))
	require.ErrorContains(t, err, "once its aliases are expanded")
	require.Less(t, time.Since(start), 5*time.Second, "refused long before expanding it")
}

// TestCompileAsGivesTheVersion: a source published through the API gets its number from the
// server; a version line, if any, must say that number, and the name must be the family's.
func TestCompileAsGivesTheVersion(t *testing.T) {
	t.Parallel()
	src := v1Source(t)
	without := regexp.MustCompile(`(?m)^version: v1\n`).ReplaceAll(src, nil)
	require.NotEqual(t, src, without)

	m, err := mapping.CompileAs(without, "handy-bind", "v7")
	require.NoError(t, err)
	require.Equal(t, "v7", m.Version)
	require.Equal(t, "handy-bind", m.Name)
	for _, r := range m.Test() {
		require.True(t, r.Passed, r.Name)
	}

	_, err = mapping.CompileAs(src, "handy-bind", "v7")
	var le *mapping.LoadError
	require.ErrorAs(t, err, &le)
	require.Len(t, le.Problems, 1)
	require.Contains(t, le.Problems[0].Message, `version "v1": this source would be v7`)
	require.Equal(t, 6, le.Problems[0].Line, "the problem points at the version line")

	m, err = mapping.CompileAs(regexp.MustCompile(`(?m)^version: v1$`).ReplaceAll(src, []byte("version: v7")), "handy-bind", "v7")
	require.NoError(t, err)
	require.Equal(t, "v7", m.Version)

	// Checked before publishing (validate, test, preview), the same source is a draft, whatever
	// its file is called; a file of the mappings folder still needs both.
	m, err = mapping.CompileDraft("comments.yaml", without)
	require.NoError(t, err)
	require.Equal(t, mapping.Draft, m.Version)
	_, err = mapping.Compile("comments.yaml", without)
	require.Error(t, err)

	_, err = mapping.CompileAs(without, "other-mapping", "v1")
	require.ErrorAs(t, err, &le)
	require.Contains(t, le.Problems[0].Message, `the source is named "handy-bind" but is published as a version of other-mapping`)
}
