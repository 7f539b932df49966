package mapping_test

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/handybind/handybind/internal/mapping"
)

// Hostile mapping sources: what a caller of ValidateMapping, TestMapping or PreviewMapping may send
// to make the service build gigabytes or run for minutes. Unbounded, the worst of these allocated
// 10 GB in 12 s (text doubled through split and string in every test case), ran for 32 s (a
// regular expression), or never finished compiling (nested ranges: 2 GB for a rule of 375
// characters, twice that for every 18 more). Each must now be refused, or checked, within a fixed
// budget of memory and processor time.

const (
	// checkAllocLimit bounds what one check may allocate in all (TotalAlloc), garbage included.
	checkAllocLimit = 64 << 20
	// checkCPULimit bounds the processor time of one check. Processor time, not the time on the
	// clock: another process hogging a busy machine's cores stalls a check without making it
	// work more. Unbounded, these checks take from seconds to hours.
	checkCPULimit = time.Second
)

// stopped is the want of a check that must be stopped by its budget; on a machine so busy that a
// check gets less than a tenth of a core, the time limit may stop it first.
const stopped = "needed more than 16 MiB of memory and was stopped|took longer than 1s and was stopped"

// orderComments is where v1 writes the order's comments, replaced by a hostile rule.
const orderComments = "    Comments: >-\n      \"Vendedor: \" + seller.name + \" <\" + seller.email + \">\"\n      + (blank(sale.comment) ? \"\" : \". \" + trim(sale.comment))\n"

// withComments is v1 with the order's comments computed by expr, plus extra test cases.
func withComments(t testing.TB, expr, tests string) string {
	t.Helper()
	base := string(v1Source(t))
	require.Contains(t, base, orderComments, "v1 changed: no order comments rule")
	return strings.Replace(base, orderComments, "    Comments: |-\n      "+expr+"\n", 1) + tests
}

// withLineComments is v1 with the order lines' comments computed by expr.
func withLineComments(t testing.TB, expr string) string {
	t.Helper()
	base := string(v1Source(t))
	require.Contains(t, base, "    Comments: line.comments\n")
	return strings.Replace(base, "    Comments: line.comments\n", "    Comments: |-\n      "+expr+"\n", 1)
}

// bigTest is an order test case whose seller's name is name (YAML), anchored as &big so that later
// cases can point at it, and whose sale's total is total.
func bigTest(name string) string {
	return "\n  - name: big\n    target: order\n    input:\n      sale: {id: 1, totalSales: 99999999999999999999.999999999999999999}\n      connection: *conn\n      seller: {name: &big " + name + ", email: x}\n    expect: {PurchaseOrder: \"1\"}\n"
}

// moreTests are n order test cases whose seller's name is the big text.
func moreTests(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "  - {name: t%d, target: order, input: {sale: {id: 1}, connection: *conn, seller: {name: *big}}, expect: {PurchaseOrder: \"1\"}}\n", i)
	}
	return b.String()
}

// text is a double-quoted YAML text of about n bytes of unit.
func text(n int, unit string) string { return `"` + strings.Repeat(unit, n/len(unit)) + `"` }

// chain joins n copies of term with op.
func chain(term, op string, n int) string { return strings.Repeat(term+op, n-1) + term }

func nest(open, inner, close string, n int) string {
	return strings.Repeat(open, n) + inner + strings.Repeat(close, n)
}

// largestRules is v1 with every text rule as large as a rule may be.
func largestRules(t testing.TB) string {
	src := string(v1Source(t))
	var b strings.Builder
	b.WriteString(src[:strings.Index(src, "rules:")])
	b.WriteString("rules:\n")
	for _, target := range mapping.Targets {
		fmt.Fprintf(&b, "  %s:\n", target.Name)
		for _, f := range target.Fields {
			switch f.Kind {
			case mapping.KindString:
				fmt.Fprintf(&b, "    %s: |-\n      %s\n", f.Name, chain("upper(trim(connection.currency))", "+", 40))
			case mapping.KindDecimal:
				fmt.Fprintf(&b, "    %s: |-\n      %s\n", f.Name, chain(`cents(dec("1.5"))`, "+", 70))
			case mapping.KindInt:
				fmt.Fprintf(&b, "    %s: |-\n      %s\n", f.Name, chain(`len(connection.currency)`, "+", 70))
			case mapping.KindTime:
				fmt.Fprintf(&b, "    %s: localTime(sale.mobileDateCreated, connection.timeZone)\n", f.Name)
			}
		}
	}
	b.WriteString(src[strings.Index(src, "\ntests:"):])
	return b.String()
}

// previewLines is an order preview input with n lines whose comments are size bytes of unit.
func previewLines(n, size int, unit string) string {
	var b strings.Builder
	b.WriteString(`{"sale":{"id":1},"connection":{"timeZone":"America/Mexico_City"},"lines":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		comments, _ := json.Marshal(strings.Repeat(unit, size))
		fmt.Fprintf(&b, `{"index":%d,"comments":%s}`, i, comments)
	}
	b.WriteString("]}")
	return b.String()
}

type hostileCase struct {
	name string
	src  func(t testing.TB) string
	// target and input, when set, are previewed after the tests run.
	target, input string
	// want is in the check's outcome: the limit that refused or stopped it (one of several,
	// separated by |). Empty: the check completes (its test cases may fail).
	want string
}

var hostileCases = []hostileCase{
	// Text built by concatenation.
	{name: "concatenation past 1 MiB", want: "(order.Comments): + would make a text of 1.5 MiB; the limit is 1 MiB", src: func(t testing.TB) string {
		return withComments(t, chain("seller.name", "+", 75), bigTest(text(512<<10, "a")))
	}},
	{name: "concatenation in every test", want: stopped, src: func(t testing.TB) string {
		// ((a + a) + a) + … builds texts of 1, 2, 3, … times a: 11 MB a run.
		return withComments(t, chain("seller.name", "+", 75), bigTest(text(4<<10, "a"))+moreTests(900))
	}},
	{name: "concatenation of constants", src: func(t testing.TB) string {
		return withComments(t, chain(`"`+strings.Repeat("a", 10)+`"`, "+", 150), "")
	}},
	{name: "doubling through split and string", want: "split: the list would have", src: func(t testing.TB) string {
		// split(s, "") has an item per letter and string() of it writes "[a a a …]": twice the text.
		return withComments(t, nest("string(split(", "seller.name", `, ""))`, 16), bigTest(text(1<<10, "a")))
	}},
	{name: "doubling in every test", want: stopped, src: func(t testing.TB) string {
		return withComments(t, nest("string(split(", "seller.name", `, ""))`, 8), bigTest(text(1<<10, "a"))+moreTests(900))
	}},
	{name: "upper of lower in every test", want: stopped, src: func(t testing.TB) string {
		return withComments(t, nest("upper(lower(", "seller.name", "))", 30), bigTest(text(128<<10, "a"))+moreTests(20))
	}},
	{name: "text of a list of big texts", want: "string would make a text of more than 1 MiB; the limit is 1 MiB", src: func(t testing.TB) string {
		return withComments(t, "string(["+chain("seller.name", ",", 70)+"])", bigTest(text(256<<10, "a")))
	}},
	{name: "text of a long range", want: "the range 1..999999 has more items than the limit of 131072", src: func(t testing.TB) string {
		return withComments(t, "string(1..999999)", bigTest(`"x"`)+moreTests(50))
	}},
	{name: "ranges in every test", want: stopped, src: func(t testing.TB) string {
		return withComments(t, "string("+chain("len(1..131000)", "+", 20)+")", bigTest(`"x"`)+moreTests(50))
	}},
	{name: "letters of a long text", want: "split: the list would have", src: func(t testing.TB) string {
		return withComments(t, `string(len(split(seller.name, "")))`, bigTest(text(512<<10, "a"))+moreTests(5))
	}},
	// Aliases, test cases and what failures quote.
	{name: "aliased test inputs", want: "the test inputs are larger than 4 MiB in all", src: func(t testing.TB) string {
		return withComments(t, "seller.name", bigTest(text(256<<10, "a"))+moreTests(600))
	}},
	{name: "too many test cases", want: "the file has 1011 test cases; the limit is 1000", src: func(t testing.TB) string {
		return withComments(t, "seller.name", bigTest(`"x"`)+moreTests(1000))
	}},
	{name: "largest test section", want: stopped, src: func(t testing.TB) string {
		// As many cases as a file may have, as many keys as the source may have, inputs as large
		// as the tests' inputs may be in all.
		var b strings.Builder
		for i := range 880 {
			fmt.Fprintf(&b, "  - {name: t%d, target: order, input: {sale: {id: 1, comment: *big}, connection: *conn, seller: {id: 1, name: *big, username: a, email: b, extras: c}, "+
				"customer: {code: a, description: b, businessName: c, rfc: d, address: e, city: f, phone: g, email: h, zone: i}}, expect: {PurchaseOrder: \"1\", VATRate: 0.16}}\n", i)
		}
		return withComments(t, "seller.name + sale.comment", bigTest(text(1900, "a"))+b.String())
	}},
	{name: "failing tests quote big values", src: func(t testing.TB) string {
		var b strings.Builder
		for i := range 14 {
			fmt.Fprintf(&b, "  - {name: f%d, target: order, input: {sale: {id: 1}, connection: *conn, seller: {name: *big}}, expect: {Comments: x}}\n", i)
		}
		return withComments(t, "seller.name", bigTest(text(256<<10, "a"))+b.String())
	}},
	// Rules that would run long.
	{name: "trim with a long cutset", want: "trim: the characters to trim are", src: func(t testing.TB) string {
		return withComments(t, "trim(seller.name, seller.email)",
			"\n  - name: big\n    target: order\n    input:\n      sale: {id: 1}\n      connection: *conn\n      seller: {name: "+text(300<<10, "é")+", email: \""+strings.Repeat("ü", 100<<10)+"é\"}\n    expect: {PurchaseOrder: \"1\"}\n")
	}},
	{name: "regular expression", want: "matches is not allowed", src: func(t testing.TB) string {
		return withComments(t, `seller.name matches "(`+strings.Repeat(`[a-z]{1000}`, 20)+`)x" ? "a" : "b"`, bigTest(text(256<<10, "a")))
	}},
	{name: "nested ranges", src: func(t testing.TB) string {
		// expr's optimizer copied x in x in 1..2 into two comparisons: 2^30 nodes.
		return withComments(t, "string("+strings.Repeat("(", 30)+"sale.id"+strings.Repeat(" in 1..2 ? 1 : 0)", 30)+")", "")
	}},
	{name: "huge decimal constant", want: "dec() of a number with more than 40 digits", src: func(t testing.TB) string {
		return withComments(t, `string(cents(dec("1e9999")))`, "")
	}},
	{name: "long decimal text", want: "dec: the text is 307200 bytes long", src: func(t testing.TB) string {
		return withComments(t, `string(dec(seller.name) * dec(seller.name))`, bigTest(text(300<<10, "9")))
	}},
	{name: "growing decimal products", want: "the decimal result has more than 100 digits", src: func(t testing.TB) string {
		return withComments(t, "string("+chain("sale.totalSales", " * ", 60)+")", bigTest(`"x"`))
	}},
	// Nesting.
	{name: "deep parentheses", want: "the expression nests 990 levels of brackets deep; the limit is 64", src: func(t testing.TB) string {
		return withComments(t, nest("(", "seller.name", ")", 990), "")
	}},
	{name: "deep arrays", want: "the expression nests 81 levels of brackets deep; the limit is 64", src: func(t testing.TB) string {
		return withComments(t, "string("+nest("[", "seller.name", "]", 80)+")", "")
	}},
	{name: "deep maps", want: "the expression nests 81 levels of brackets deep; the limit is 64", src: func(t testing.TB) string {
		return withComments(t, "string("+nest("{a: ", "seller.name", "}", 80)+")", "")
	}},
	{name: "deep brackets", want: "the mapping source nests brackets more than 100 levels deep", src: func(t testing.TB) string {
		return withComments(t, "string("+nest("[", "seller.name", "]", 990)+")", "")
	}},
	{name: "nesting within the limit", src: func(t testing.TB) string {
		return withComments(t, "string("+nest("[", nest("(", "seller.name", ")", 31), "]", 31)+")", "")
	}},
	{name: "deep YAML", want: "nests brackets more than 100 levels deep", src: func(t testing.TB) string {
		return string(v1Source(t)) + "x: " + nest("[", "1", "]", 9000) + "\n"
	}},
	{name: "deep test input", want: "nests deeper than 32 levels", src: func(t testing.TB) string {
		return withComments(t, "seller.name", "\n  - name: deep\n    target: order\n    input: {seller: {name: x}, sale: "+nest("[", "1", "]", 90)+"}\n    expect: {}\n")
	}},
	// Size.
	{name: "wide YAML", want: "lines, keys and list items; the limit is 50000", src: func(t testing.TB) string {
		return "apiVersion: handybind.dev/mapping/v1\nx: [" + chain("1", ",", 500_000) + "]\n"
	}},
	{name: "many unknown keys", want: "only the first 100 are reported", src: func(t testing.TB) string {
		var b strings.Builder
		for i := range 5000 {
			fmt.Fprintf(&b, "k%d: 1\n", i)
		}
		return b.String()
	}},
	{name: "long unknown target", want: "unknown target", src: func(t testing.TB) string {
		return "rules:\n  ? " + strings.Repeat("x", 1<<20-100) + "\n  : {}\n"
	}},
	{name: "oversized source", want: "the mapping source is too large: 1097153 bytes (1.05 MiB); the limit is 1 MiB", src: func(t testing.TB) string {
		src := string(v1Source(t))
		return src + "#" + strings.Repeat("x", 1097152-len(src))
	}},
	{name: "largest rules everywhere", src: largestRules},
	{name: "long text constants", src: func(t testing.TB) string {
		return withComments(t, `"`+strings.Repeat("a", 1990)+`"`, bigTest(text(900<<10, "a")))
	}},
	// Previews.
	{name: "preview of many lines", target: "order", input: previewLines(5000, 10, "a"), want: "the preview input has 5000 lines; the limit is 1000", src: func(t testing.TB) string {
		return string(v1Source(t))
	}},
	{name: "preview of long lines", target: "order", input: previewLines(900, 1<<10, "a"), want: stopped, src: func(t testing.TB) string {
		return withLineComments(t, nest("upper(lower(", "line.comments", "))", 30))
	}},
	{name: "preview of texts that need escaping", target: "order", input: previewLines(20, 1<<10, "\x01"), src: func(t testing.TB) string {
		return withLineComments(t, chain("line.comments", "+", 5))
	}},
	{name: "preview of more texts that need escaping", target: "order", input: previewLines(150, 1<<10, "\x01"), want: stopped, src: func(t testing.TB) string {
		return withLineComments(t, chain("line.comments", "+", 5))
	}},
	{name: "large preview input", target: "order", input: previewLines(120, 8<<10, "a"), src: func(t testing.TB) string {
		return string(v1Source(t))
	}},
	{name: "oversized preview input", target: "order", input: previewLines(200, 8<<10, "a"), want: "the preview input is too large: 1643965 bytes (1.57 MiB); the limit is 1 MiB", src: func(t testing.TB) string {
		return string(v1Source(t))
	}},
}

// check does what ValidateMapping, TestMapping and PreviewMapping do with a source: compile it, list
// the untested rules, run its tests, and preview one input. It returns every message it got.
func check(src []byte, target, input string) string {
	m, err := mapping.Compile("", src)
	if err != nil {
		return err.Error()
	}
	var out strings.Builder
	out.WriteString(strings.Join(m.Untested(), ", "))
	results, err := m.TestContext(context.Background())
	for _, r := range results {
		out.WriteString("\n" + strings.Join(r.Failures, "\n"))
	}
	if err != nil {
		out.WriteString("\n" + err.Error())
	}
	if target != "" {
		if _, _, err := m.Preview(target, []byte(input)); err != nil {
			out.WriteString("\n" + err.Error())
		}
	}
	return out.String()
}

// TestHostileSourcesAreBounded checks each hostile source the way the API does, one at a time, and
// measures what it allocates (TotalAlloc counts garbage too, and does not depend on when the
// collector runs) and the processor time it takes.
func TestHostileSourcesAreBounded(t *testing.T) {
	// Not parallel: the other tests of the package would allocate during the measurements.
	for _, tc := range hostileCases {
		t.Run(tc.name, func(t *testing.T) {
			src := []byte(tc.src(t))
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			start, startCPU := time.Now(), cpuTime()
			outcome := check(src, tc.target, tc.input)
			elapsed, cpu := time.Since(start), cpuTime()-startCPU
			runtime.ReadMemStats(&after)
			alloc := after.TotalAlloc - before.TotalAlloc
			t.Logf("%d bytes of source: %v (%v of processor time), %.1f MB allocated", len(src), elapsed.Round(time.Millisecond), cpu.Round(time.Millisecond), float64(alloc)/1e6)
			require.Less(t, alloc, uint64(checkAllocLimit), "allocated %.1f MB", float64(alloc)/1e6)
			require.Less(t, cpu, checkCPULimit)
			if tc.want == "" {
				require.NotContains(t, outcome, "limit", "a check that should complete hit a limit")
			} else {
				found := false
				for _, want := range strings.Split(tc.want, "|") {
					found = found || strings.Contains(outcome, want)
				}
				require.True(t, found, "%q is not in:\n%s", tc.want, clipped(outcome))
			}
			require.Less(t, len(outcome), 64<<10, "messages quote whole values")
		})
	}
}

func clipped(s string) string {
	if len(s) > 2000 {
		return s[:2000] + "…"
	}
	return s
}

// TestChecksEndWithTheirContext: a caller that goes away stops the check.
func TestChecksEndWithTheirContext(t *testing.T) {
	t.Parallel()
	m := v1(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := m.TestContext(ctx)
	require.ErrorIs(t, err, context.Canceled)
	require.False(t, mapping.IsLimit(err))
	_, _, err = m.PreviewContext(ctx, "warehouse", []byte(`{"seller":{"extras":"x"}}`))
	require.ErrorIs(t, err, context.Canceled)
}

// TestBoundedFunctionsKeepTheirMeaning: the bounded versions of +, ranges, the builtins and the
// functions give what expr's own do.
func TestBoundedFunctionsKeepTheirMeaning(t *testing.T) {
	t.Parallel()
	base := string(v1Source(t))
	const rule = "    Description: product.details\n"
	require.Contains(t, base, rule)
	input := []byte(`{"product":{"code":"E-001","description":"Escoba, de mijo","details":"  x  ","price":970,"taxRate":16},"connection":{"currency":"MXN"}}`)
	for expr, want := range map[string]string{
		`product.code + "-" + product.description`:                                                         "E-001-Escoba, de mijo",
		`upper(product.description) + lower("ÁB")`:                                                         "ESCOBA, DE MIJOáb",
		`trim(product.details) + trim("xxaxx", "x")`:                                                       "xa",
		`string(split(product.description, ", "))`:                                                         "[Escoba de mijo]",
		`string(split("a,b,c", ",", 2))`:                                                                   "[a b,c]",
		`string(len(split(product.code, "")))`:                                                             "5",
		`string(1..3) + string(len(1..0))`:                                                                 "[1 2 3]0",
		`product.taxRate > dec(10) && 3 in 1..5 ? "yes" : "no"`:                                            "yes",
		`string(product.price * dec("1.5") - dec(1))`:                                                      "1454",
		`string(cents(netOfTax(product.price, product.taxRate)))`:                                          "836.21",
		`string(1 + 2) + string(2.5 + 1) + string(sale)`:                                                   "",
		`string([product.code, 1][0] + "!") + string([1, "a"][0] + 2)`:                                     "E-001!3",
		`first(split(product.description, ",")) + "?"`:                                                     "Escoba?",
		`replace(product.code, "-", "") + join(split("a b", " "), "+")`:                                    "E001a+b",
		`coalesce("", " ", product.details)`:                                                               "x",
		`formatDate(localTime(product.price > dec(0) ? date("2026-01-01") : now(), "UTC"), "2006", "UTC")`: "",
		`product | get("code")`:                                                                            "",
	} {
		src := strings.Replace(base, rule, "    Description: |-\n      "+expr+"\n", 1)
		m, err := mapping.Compile("v1.yaml", []byte(src))
		if want == "" {
			require.Error(t, err, expr) // refused as before: unknown names, no clock
			require.NotContains(t, err.Error(), "could not be bounded", expr)
			continue
		}
		require.NoError(t, err, expr)
		_, fields, err := m.Preview("product", input)
		require.NoError(t, err, expr)
		got := map[string]any{}
		for _, f := range fields {
			got[f.Field] = f.Value
		}
		require.Equal(t, want, got["Description"], expr)
	}
}
