package mapping

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm/runtime"

	"github.com/handybind/handybind/internal/money"
)

// allowedBuiltins are expr's builtins a rule may use: pure, deterministic, and linear in their
// input. Everything else is off: no clock (now, date), nothing that multiplies memory (repeat), and
// no loops (map, filter, count, all, …), which nested over a long input would run for hours. Those
// that build text or lists (upper, lower, split, string) and trim, whose cost grows with its second
// argument, run as the service's own bounded versions (see binder).
var allowedBuiltins = []string{
	"len", "trim", "trimPrefix", "trimSuffix", "upper", "lower", "split",
	"hasPrefix", "hasSuffix", "indexOf", "string", "int", "first", "last",
}

// Function is a documented function of the rule language.
type Function struct {
	Name, Signature, Doc string
}

// Functions documents the functions a rule may call besides the allowed builtins.
var Functions = []Function{
	{"netOfTax", "netOfTax(price decimal, ratePercent decimal) decimal", "price ÷ (1 + rate/100), to 10 decimal places: a tax-inclusive price made net, precise enough that Bind's total (net × quantity × (1 + VAT), rounded once) gives the tax-inclusive total back"},
	{"netOfTaxes", "netOfTaxes(price decimal, vatPercent decimal, iepsPercent decimal) decimal", "price ÷ ((1 + vat/100) × (1 + ieps/100)), to 10 decimal places: the net price of a line whose tax-inclusive price adds VAT and IEPS (as Handy's does), such that Bind, which charges IEPS on the net price and VAT on net + IEPS, gives the tax-inclusive total back"},
	{"withTax", "withTax(price decimal, ratePercent decimal) decimal", "price × (1 + rate/100), to 10 decimal places"},
	{"cents", "cents(x decimal) decimal", "x rounded half away from zero to 2 decimal places"},
	{"roundTo", "roundTo(x decimal, places int) decimal", "x rounded half away from zero to places (0–6)"},
	{"dec", "dec(x string|int) decimal", `an exact decimal: dec("0.16"), dec(0); folded at load time; at most 40 digits, with an exponent within ±18`},
	{"replace", "replace(s string, old string, new string) string", "s with every old replaced by new; old must not be empty; at most 1 MiB of text"},
	{"join", "join(parts []string, sep string) string", "the parts joined with sep; at most 1 MiB of text"},
	{"coalesce", "coalesce(a string, b string, ...) string", "the first argument that is not blank, trimmed; \"\" when all are"},
	{"blank", "blank(s string) bool", "whether s is empty or only spaces"},
	{"localTime", "localTime(t time, zone string) time", "t as wall-clock time in an IANA zone, e.g. connection.timeZone"},
	{"formatDate", "formatDate(t time, layout string, zone string) string", "t in zone, formatted with a Go layout such as \"2006-01-02 15:04\" (at most 256 bytes)"},
}

var zones sync.Map // zone name → *time.Location

func zone(name string) (*time.Location, error) {
	if l, ok := zones.Load(name); ok {
		return l.(*time.Location), nil
	}
	l, err := time.LoadLocation(name)
	if err != nil || name == "" || name == "Local" {
		return nil, fmt.Errorf("%q is not an IANA time zone", short(name))
	}
	zones.Store(name, l)
	return l, nil
}

var (
	hundred = money.NewFromInt(100)
	one     = money.NewFromInt(1)
)

func factor(rate money.Decimal) money.Decimal { return one.Add(rate.Div(hundred)) }

// The functions behind the documented ones, on typed values: the rules' functions wrap them for
// expr's VM, and rules run directly (see direct.go) call them as they are.

func netOfTax(price, rate money.Decimal) (money.Decimal, error) {
	f := factors.of(rate)
	if f.IsZero() {
		return money.Decimal{}, fmt.Errorf("netOfTax: a rate of -100%% leaves nothing to divide by")
	}
	return money.Of(price.Div(f).Round(10)), nil
}

func netOfTaxes(price, vat, ieps money.Decimal) (money.Decimal, error) {
	f := factors.product(vat, ieps)
	if f.IsZero() {
		return money.Decimal{}, fmt.Errorf("netOfTaxes: a rate of -100%% leaves nothing to divide by")
	}
	return money.Of(price.Div(f).Round(10)), nil
}

func withTax(price, rate money.Decimal) money.Decimal {
	return money.Of(price.Mul(factors.of(rate)).Round(10))
}

func roundTo(x money.Decimal, places int) (money.Decimal, error) {
	if places < 0 || places > 6 {
		return money.Decimal{}, fmt.Errorf("roundTo: places must be 0 to 6, got %d", places)
	}
	return money.Of(x.Round(int32(places))), nil
}

func localTime(t time.Time, name string) (time.Time, error) {
	loc, err := zone(name)
	if err != nil {
		return time.Time{}, err
	}
	return t.In(loc), nil
}

// fn is a function rules may call: its name, the signatures the checker sees, and what it does.
// run gets the meter of the check the rule runs in (nil in a sync) and charges it what it builds
// before building it; whatever the meter, no text or list it builds is longer than maxText.
type fn struct {
	name  string
	types []any
	run   func(b *meter, p []any) (any, error)
}

// functions are the documented functions and the decimal operators: rules call them by name.
var functions = []fn{
	{"netOfTax", []any{new(func(money.Decimal, money.Decimal) money.Decimal)}, func(b *meter, p []any) (any, error) {
		d, err := netOfTax(p[0].(money.Decimal), p[1].(money.Decimal))
		if err != nil {
			return nil, err
		}
		return decimalResult(b, d)
	}},
	{"netOfTaxes", []any{new(func(money.Decimal, money.Decimal, money.Decimal) money.Decimal)}, func(b *meter, p []any) (any, error) {
		d, err := netOfTaxes(p[0].(money.Decimal), p[1].(money.Decimal), p[2].(money.Decimal))
		if err != nil {
			return nil, err
		}
		return decimalResult(b, d)
	}},
	{"withTax", []any{new(func(money.Decimal, money.Decimal) money.Decimal)}, func(b *meter, p []any) (any, error) {
		return decimalResult(b, withTax(p[0].(money.Decimal), p[1].(money.Decimal)))
	}},
	{"cents", []any{new(func(money.Decimal) money.Decimal)}, func(b *meter, p []any) (any, error) {
		return decimalResult(b, p[0].(money.Decimal).Cents())
	}},
	{"roundTo", []any{new(func(money.Decimal, int) money.Decimal)}, func(b *meter, p []any) (any, error) {
		d, err := roundTo(p[0].(money.Decimal), p[1].(int))
		if err != nil {
			return nil, err
		}
		return decimalResult(b, d)
	}},
	// One signature: the checker then checks the argument too.
	{"dec", []any{new(func(any) money.Decimal)}, func(b *meter, p []any) (any, error) {
		if err := b.spend(callCost); err != nil {
			return nil, err
		}
		switch v := p[0].(type) {
		case int:
			return money.NewFromInt(int64(v)), nil
		case string:
			return parseDecimal(v)
		}
		return nil, fmt.Errorf("dec: want a string or an int, got %T", p[0])
	}},
	{"coalesce", []any{new(func(string, ...string) string)}, func(b *meter, p []any) (any, error) {
		if err := b.spend(callCost); err != nil {
			return nil, err
		}
		for _, v := range p {
			if s := strings.TrimSpace(v.(string)); s != "" {
				return s, nil
			}
		}
		return "", nil
	}},
	{"replace", []any{new(func(string, string, string) string)}, func(b *meter, p []any) (any, error) {
		src, old, repl := p[0].(string), p[1].(string), p[2].(string)
		if old == "" {
			return nil, fmt.Errorf("replace: the text to look for is empty")
		}
		n := strings.Count(src, old)
		if err := textResult(b, "replace", len(src)+n*(len(repl)-len(old))); err != nil {
			return nil, err
		}
		return strings.ReplaceAll(src, old, repl), nil
	}},
	{"join", []any{new(func([]string, string) string)}, func(b *meter, p []any) (any, error) {
		parts, sep := p[0].([]string), p[1].(string)
		size := len(sep) * max(len(parts)-1, 0)
		for _, s := range parts {
			size += len(s)
		}
		if err := textResult(b, "join", size); err != nil {
			return nil, err
		}
		return strings.Join(parts, sep), nil
	}},
	{"blank", []any{new(func(string) bool)}, func(b *meter, p []any) (any, error) {
		return strings.TrimSpace(p[0].(string)) == "", b.spend(callCost)
	}},
	{"localTime", []any{new(func(time.Time, string) time.Time)}, func(b *meter, p []any) (any, error) {
		if err := b.spend(callCost); err != nil {
			return nil, err
		}
		t, err := localTime(p[0].(time.Time), p[1].(string))
		if err != nil {
			return nil, err
		}
		return t, nil
	}},
	{"formatDate", []any{new(func(time.Time, string, string) string)}, func(b *meter, p []any) (any, error) {
		layout := p[1].(string)
		if len(layout) > maxLayout {
			return nil, limitf("formatDate: the layout is %d bytes long; the limit is %d", len(layout), maxLayout)
		}
		if err := b.spend(callCost + 4*len(layout)); err != nil {
			return nil, err
		}
		loc, err := zone(p[2].(string))
		if err != nil {
			return nil, err
		}
		return p[0].(time.Time).In(loc).Format(layout), nil
	}},
}

// builtins are the service's versions of expr's builtins that build text or lists, or whose cost
// grows with more than their input: the same results, charged and bounded.
var builtins = []fn{
	{"upper", []any{new(func(string) string)}, func(b *meter, p []any) (any, error) {
		s, ok := p[0].(string)
		if !ok {
			return nil, fmt.Errorf("upper: want text, got %T", p[0])
		}
		return caseMapped(b, "upper", s, strings.ToUpper)
	}},
	{"lower", []any{new(func(string) string)}, func(b *meter, p []any) (any, error) {
		s, ok := p[0].(string)
		if !ok {
			return nil, fmt.Errorf("lower: want text, got %T", p[0])
		}
		return caseMapped(b, "lower", s, strings.ToLower)
	}},
	{"trim", []any{new(func(string) string), new(func(string, string) string)}, func(b *meter, p []any) (any, error) {
		if err := b.spend(callCost); err != nil {
			return nil, err
		}
		s, ok := p[0].(string)
		if !ok {
			return nil, fmt.Errorf("trim: want text, got %T", p[0])
		}
		if len(p) == 1 {
			return strings.TrimSpace(s), nil
		}
		cutset, ok := p[1].(string)
		if !ok {
			return nil, fmt.Errorf("trim: want text, got %T", p[1])
		}
		if len(cutset) > maxCutset {
			// Trimming looks up every letter of s in the cutset: the two lengths multiply.
			return nil, limitf("trim: the characters to trim are %d bytes long; the limit is %d", len(cutset), maxCutset)
		}
		return strings.Trim(s, cutset), nil
	}},
	{"split", []any{new(func(string, string) []string), new(func(string, string, int) []string)}, func(b *meter, p []any) (any, error) {
		s, ok1 := p[0].(string)
		sep, ok2 := p[1].(string)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("split: want text, got %T and %T", p[0], p[1])
		}
		limit := -1
		if len(p) == 3 {
			limit = runtime.ToInt(p[2])
		}
		parts := strings.Count(s, sep) + 1 // from above: with sep empty, Count is the letters plus one
		if limit >= 0 {
			parts = min(parts, limit)
		}
		if parts > maxText/stringCost {
			return nil, limitf("split: the list would have %d items; the limit is %d", parts, maxText/stringCost)
		}
		if err := b.spend(callCost + stringCost*parts); err != nil {
			return nil, err
		}
		return strings.SplitN(s, sep, limit), nil
	}},
	{"string", []any{new(func(any) string)}, func(b *meter, p []any) (any, error) {
		if s, ok := p[0].(string); ok {
			return s, b.spend(callCost)
		}
		size, values := textSize(p[0], maxText+1)
		if size > maxText {
			return nil, limitf("string would make a text of more than %s; the limit is %s", sizeText(maxText), sizeText(maxText))
		}
		// fmt writes into a buffer that grows a quarter at a time once large, then copies it: about
		// six times the text in all; and it boxes every value it prints.
		if err := b.spend(callCost + 6*size + stringCost*values); err != nil {
			return nil, err
		}
		return fmt.Sprintf("%v", p[0]), nil
	}},
	// + of texts, and of values whose type is only known when the rule runs.
	{textAdd, []any{new(func(any, any) string)}, func(b *meter, p []any) (any, error) {
		v, err := add(b, p[0], p[1])
		if err != nil {
			return nil, err
		}
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("+ gave %T where text was expected", v)
		}
		return s, nil
	}},
	{valueAdd, []any{new(func(any, any) any)}, func(b *meter, p []any) (any, error) { return add(b, p[0], p[1]) }},
	// a..b, the list of whole numbers from a to b.
	{numberRange, []any{new(func(int, int) []int)}, func(b *meter, p []any) (any, error) {
		from, to := p[0].(int), p[1].(int)
		size := 0
		if to >= from {
			if uint64(to)-uint64(from) >= maxText/8 { // to-from as an int may overflow
				return nil, limitf("the range %d..%d has more items than the limit of %d", from, to, maxText/8)
			}
			size = to - from + 1
		}
		if err := b.spend(callCost + 8*size); err != nil {
			return nil, err
		}
		return runtime.MakeRange(from, to), nil
	}},
}

// Names of the functions that stand for operators.
const (
	textAdd     = "textAdd"
	valueAdd    = "valueAdd"
	numberRange = "range"
)

func add(b *meter, x, y any) (any, error) {
	xs, ok1 := x.(string)
	ys, ok2 := y.(string)
	if !ok1 || !ok2 {
		if err := b.spend(callCost); err != nil {
			return nil, err
		}
		return runtime.Add(x, y), nil
	}
	if err := textResult(b, "+", len(xs)+len(ys)); err != nil {
		return nil, err
	}
	return xs + ys, nil
}

// textResult charges a text of size bytes about to be built, and refuses one longer than maxText.
func textResult(b *meter, what string, size int) error {
	if size > maxText {
		return limitf("%s would make a text of %s; the limit is %s", what, sizeText(size), sizeText(maxText))
	}
	return b.spend(callCost + size)
}

// caseMapped is upper or lower: a letter may take more bytes in the other case, so the result is
// checked too.
func caseMapped(b *meter, what, s string, mapping func(string) string) (any, error) {
	if err := textResult(b, what, len(s)); err != nil {
		return nil, err
	}
	out := mapping(s)
	if len(out) > maxText {
		return nil, limitf("%s would make a text of %s; the limit is %s", what, sizeText(len(out)), sizeText(maxText))
	}
	return out, b.spend(max(len(out)-len(s), 0))
}

// parseDecimal reads a decimal from text, refusing texts and numbers too long to be amounts:
// parsing and multiplying megabytes of digits takes seconds.
func parseDecimal(s string) (money.Decimal, error) {
	if len(s) > maxDecText {
		return money.Decimal{}, limitf("dec: the text is %d bytes long; a decimal has at most %d", len(s), maxDecText)
	}
	d, err := money.Parse(s)
	if err != nil {
		return d, err
	}
	if !decimalInRange(d) {
		return money.Decimal{}, fmt.Errorf("dec: %q is out of range: at most %d digits, with an exponent within ±%d", s, maxDecDigits, maxDecExponent)
	}
	return d, nil
}

func decimalInRange(d money.Decimal) bool {
	return d.Exponent() >= -maxDecExponent && d.Exponent() <= maxDecExponent && d.NumDigits() <= maxDecDigits
}

// decimalResult charges a decimal a rule computed and refuses one with more digits than an amount
// ever has, so that a chain of products cannot grow numbers without bound.
func decimalResult(b *meter, d money.Decimal) (any, error) {
	if err := b.spend(callCost); err != nil {
		return nil, err
	}
	if !decimalFits(d) {
		return nil, limitf("the decimal result has more than %d digits; round it with cents or roundTo", maxResultDigits)
	}
	return d, nil
}

// decimalFits reports whether a computed decimal is within the bounds of a result. A number of at
// most 100 digits is below 2^333; only longer ones need their bits counted.
func decimalFits(d money.Decimal) bool {
	if e := d.Exponent(); e < -maxResultDigits || e > maxResultDigits {
		return false
	}
	return d.NumDigits() <= maxResultDigits || d.Coefficient().BitLen() <= maxResultBits
}

// decimalOperators are the functions behind + - * / and the comparisons on decimals.
func decimalOperators() (fns []fn, ops map[string]string) {
	ops = map[string]string{}
	for op, f := range map[string]func(a, b money.Decimal) money.Decimal{
		"+": func(a, b money.Decimal) money.Decimal { return a.Add(b) },
		"-": func(a, b money.Decimal) money.Decimal { return a.Sub(b) },
		"*": func(a, b money.Decimal) money.Decimal { return a.Mul(b) },
		"/": func(a, b money.Decimal) money.Decimal { return a.Div(b) },
	} {
		name := "dec" + map[string]string{"+": "Add", "-": "Sub", "*": "Mul", "/": "Div"}[op]
		ops[op] = name
		fns = append(fns, fn{name, []any{new(func(money.Decimal, money.Decimal) money.Decimal)}, func(b *meter, p []any) (any, error) {
			if op == "/" && p[1].(money.Decimal).IsZero() {
				return nil, fmt.Errorf("division by zero")
			}
			return decimalResult(b, f(p[0].(money.Decimal), p[1].(money.Decimal)))
		}})
	}
	for op, want := range map[string][]int{"<": {-1}, "<=": {-1, 0}, ">": {1}, ">=": {1, 0}, "==": {0}} {
		name := "dec" + map[string]string{"<": "Lt", "<=": "Le", ">": "Gt", ">=": "Ge", "==": "Eq"}[op]
		ops[op] = name
		fns = append(fns, fn{name, []any{new(func(money.Decimal, money.Decimal) bool)}, func(b *meter, p []any) (any, error) {
			return slices.Contains(want, p[0].(money.Decimal).Cmp(p[1].(money.Decimal).Decimal)), b.spend(callCost)
		}})
	}
	slices.SortFunc(fns, func(a, b fn) int { return strings.Compare(a.name, b.name) })
	return fns, ops
}

// boundedName is the name a function is compiled under once bound: the same function, called
// with the environment first so that it finds the check's meter. No rule can write the name.
func boundedName(name string) string { return "bounded " + name }

// withEnv returns signatures with a first argument of any type, for the environment.
func withEnv(types []any) []any {
	out := make([]any, len(types))
	for i, t := range types {
		ft := reflect.TypeOf(t).Elem()
		in := []reflect.Type{reflect.TypeFor[any]()}
		for j := range ft.NumIn() {
			in = append(in, ft.In(j))
		}
		outs := make([]reflect.Type, ft.NumOut())
		for j := range outs {
			outs[j] = ft.Out(j)
		}
		out[i] = reflect.New(reflect.FuncOf(in, outs, ft.IsVariadic())).Interface()
	}
	return out
}

// options are the compiler options every rule gets: the environment type, the function library,
// decimal operators, and the sandbox.
func options(env any) []expr.Option {
	opts := []expr.Option{
		expr.Env(env),
		expr.DisableAllBuiltins(),
		expr.MaxNodes(maxRuleNodes),
		expr.Patch(&sandbox{}),
	}
	decFns, decOps := decimalOperators()
	for _, f := range slices.Concat(functions, decFns) {
		// Checked under its own name, run in its bounded version.
		opts = append(opts, expr.Function(f.name, func(p ...any) (any, error) { return f.run(nil, p) }, f.types...))
	}
	for _, f := range slices.Concat(functions, decFns, builtins) {
		opts = append(opts, expr.Function(boundedName(f.name), func(p ...any) (any, error) { return f.run(meterOf(p[0]), p[1:]) }, withEnv(f.types)...))
	}
	for _, b := range allowedBuiltins {
		opts = append(opts, expr.EnableBuiltin(b))
	}
	// Arithmetic and comparison on exact decimals.
	for _, op := range []string{"+", "-", "*", "/", "<", "<=", ">", ">=", "=="} {
		opts = append(opts, expr.Operator(op, decOps[op]))
	}
	return opts
}

// floatRefused and decimalRefused name the error nodes put where dec() is given a float literal,
// or a number no amount has.
const (
	floatRefused   = "writeDecimalsAsTextInDec"
	decimalRefused = "decimalOutOfRange"
)

// sandbox refuses what the language allows but rules must not do: calling methods of values
// (money.Decimal has dozens, some unbounded such as Pow). It also folds dec() of a literal into a
// constant at load time, so rules like VATRate: dec("0.16") cost nothing per run.
type sandbox struct{ err error }

func (s *sandbox) Visit(node *ast.Node) {
	// let doubles a text per declaration: a short rule could ask for gigabytes.
	if _, ok := (*node).(*ast.VariableDeclaratorNode); ok {
		call := &ast.CallNode{Callee: &ast.IdentifierNode{Value: "let"}}
		call.SetLocation((*node).Location())
		*node = call
		return
	}
	// Loops (map, filter, count, …) are parsed as builtin nodes whatever the configuration says;
	// turned back into plain calls they meet the checker as the unknown functions they are here.
	if b, ok := (*node).(*ast.BuiltinNode); ok && !slices.Contains(allowedBuiltins, b.Name) {
		call := &ast.CallNode{Callee: &ast.IdentifierNode{Value: b.Name}}
		call.SetLocation(b.Location())
		*node = call
		return
	}
	if call, ok := (*node).(*ast.CallNode); ok {
		if id, isIdent := call.Callee.(*ast.IdentifierNode); isIdent && id.Value == "dec" && len(call.Arguments) == 1 {
			var d money.Decimal
			var err error
			switch lit := call.Arguments[0].(type) {
			case *ast.StringNode:
				d, err = money.Parse(lit.Value)
			case *ast.IntegerNode:
				d = money.NewFromInt(int64(lit.Value))
			case *ast.FloatNode:
				// A float literal has already lost exactness; make the rule fail to load.
				*node = &ast.CallNode{Callee: &ast.IdentifierNode{Value: floatRefused}}
				(*node).SetLocation(call.Location())
				return
			default:
				return
			}
			if err == nil && !decimalInRange(d) {
				// Arithmetic on a huge constant (1e9999 rounded to cents) could build a number of
				// thousands of digits: make the rule fail to load.
				*node = &ast.CallNode{Callee: &ast.IdentifierNode{Value: decimalRefused}}
				(*node).SetLocation(call.Location())
				return
			}
			if err == nil {
				folded := &ast.ConstantNode{Value: d}
				folded.SetLocation(call.Location())
				// Typed at once: inside a call's arguments the checker does not look again, and
				// the decimal operators would not see an untyped operand as a decimal.
				folded.SetType(reflect.TypeOf(d))
				*node = folded
			}
			return
		}
		if _, isMember := call.Callee.(*ast.MemberNode); isMember && s.err == nil {
			s.err = fmt.Errorf("calling methods is not allowed; use the documented functions")
			// Make the compile fail at this node with the message above.
			*node = &ast.CallNode{Callee: &ast.IdentifierNode{Value: "methodCallsAreNotAllowed"}}
			(*node).SetLocation(call.Location())
		}
	}
}
