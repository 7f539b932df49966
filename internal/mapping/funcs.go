package mapping

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"

	"github.com/handybind/handybind/internal/money"
)

// Limits that keep a rule cheap and bounded.
const (
	maxRuleLength = 2000 // characters of one expression
	maxRuleNodes  = 300  // AST nodes of one expression
)

// allowedBuiltins are expr's builtins a rule may use: pure, deterministic, and linear in their
// input. Everything else is off: no clock (now, date), nothing that multiplies memory (repeat), and
// no loops (map, filter, count, all, …), which nested over a long input would run for hours.
var allowedBuiltins = []string{
	"len", "trim", "trimPrefix", "trimSuffix", "upper", "lower", "split",
	"hasPrefix", "hasSuffix", "indexOf", "string", "int", "first", "last",
}

// maxText bounds the text replace and join may build: with an empty pattern or a long
// separator, a few nested calls would otherwise ask for gigabytes.
const maxText = 1 << 20

// Function is a documented function of the rule language.
type Function struct {
	Name, Signature, Doc string
}

// Functions documents the functions a rule may call besides the allowed builtins.
var Functions = []Function{
	{"netOfTax", "netOfTax(price decimal, ratePercent decimal) decimal", "price ÷ (1 + rate/100), to 10 decimal places: a tax-inclusive price made net, precise enough that Bind's total (net × quantity × (1 + VAT), rounded once) gives the tax-inclusive total back"},
	{"withTax", "withTax(price decimal, ratePercent decimal) decimal", "price × (1 + rate/100), to 10 decimal places"},
	{"cents", "cents(x decimal) decimal", "x rounded half away from zero to 2 decimal places"},
	{"roundTo", "roundTo(x decimal, places int) decimal", "x rounded half away from zero to places (0–6)"},
	{"dec", "dec(x string|int) decimal", `an exact decimal: dec("0.16"), dec(0); folded at load time`},
	{"replace", "replace(s string, old string, new string) string", "s with every old replaced by new; old must not be empty; at most 1 MiB of text"},
	{"join", "join(parts []string, sep string) string", "the parts joined with sep; at most 1 MiB of text"},
	{"coalesce", "coalesce(a string, b string, ...) string", "the first argument that is not blank, trimmed; \"\" when all are"},
	{"blank", "blank(s string) bool", "whether s is empty or only spaces"},
	{"localTime", "localTime(t time, zone string) time", "t as wall-clock time in an IANA zone, e.g. connection.timeZone"},
	{"formatDate", "formatDate(t time, layout string, zone string) string", "t in zone, formatted with a Go layout such as \"2006-01-02 15:04\""},
}

var zones sync.Map // zone name → *time.Location

func zone(name string) (*time.Location, error) {
	if l, ok := zones.Load(name); ok {
		return l.(*time.Location), nil
	}
	l, err := time.LoadLocation(name)
	if err != nil || name == "" || name == "Local" {
		return nil, fmt.Errorf("%q is not an IANA time zone", name)
	}
	zones.Store(name, l)
	return l, nil
}

var (
	hundred = money.NewFromInt(100)
	one     = money.NewFromInt(1)
)

func factor(rate money.Decimal) money.Decimal { return one.Add(rate.Div(hundred)) }

// options are the compiler options every rule gets: the environment type, the function library,
// decimal operators, and the sandbox.
func options(env any) []expr.Option {
	opts := []expr.Option{
		expr.Env(env),
		expr.DisableAllBuiltins(),
		expr.MaxNodes(maxRuleNodes),
		expr.Patch(&sandbox{}),
		expr.Function("netOfTax", func(p ...any) (any, error) {
			return money.Of(p[0].(money.Decimal).Div(factor(p[1].(money.Decimal))).Round(10)), nil
		}, new(func(money.Decimal, money.Decimal) money.Decimal)),
		expr.Function("withTax", func(p ...any) (any, error) {
			return money.Of(p[0].(money.Decimal).Mul(factor(p[1].(money.Decimal))).Round(10)), nil
		}, new(func(money.Decimal, money.Decimal) money.Decimal)),
		expr.Function("cents", func(p ...any) (any, error) { return p[0].(money.Decimal).Cents(), nil },
			new(func(money.Decimal) money.Decimal)),
		expr.Function("roundTo", func(p ...any) (any, error) {
			places := p[1].(int)
			if places < 0 || places > 6 {
				return nil, fmt.Errorf("roundTo: places must be 0 to 6, got %d", places)
			}
			return money.Of(p[0].(money.Decimal).Round(int32(places))), nil
		}, new(func(money.Decimal, int) money.Decimal)),
		expr.Function("dec", func(p ...any) (any, error) {
			switch v := p[0].(type) {
			case int:
				return money.NewFromInt(int64(v)), nil
			case string:
				return money.Parse(v)
			}
			return nil, fmt.Errorf("dec: want a string or an int, got %T", p[0])
		}, new(func(any) money.Decimal)), // one signature: the checker then checks the argument too
		expr.Function("coalesce", func(p ...any) (any, error) {
			for _, v := range p {
				if s := strings.TrimSpace(v.(string)); s != "" {
					return s, nil
				}
			}
			return "", nil
		}, new(func(string, ...string) string)),
		expr.Function("replace", func(p ...any) (any, error) {
			src, old, repl := p[0].(string), p[1].(string), p[2].(string)
			if old == "" {
				return nil, fmt.Errorf("replace: the text to look for is empty")
			}
			if n := strings.Count(src, old); len(src)+n*(len(repl)-len(old)) > maxText {
				return nil, fmt.Errorf("replace: the result would be longer than %d bytes", maxText)
			}
			return strings.ReplaceAll(src, old, repl), nil
		}, new(func(string, string, string) string)),
		expr.Function("join", func(p ...any) (any, error) {
			parts, sep := p[0].([]string), p[1].(string)
			size := len(sep) * max(len(parts)-1, 0)
			for _, s := range parts {
				size += len(s)
			}
			if size > maxText {
				return nil, fmt.Errorf("join: the result would be longer than %d bytes", maxText)
			}
			return strings.Join(parts, sep), nil
		}, new(func([]string, string) string)),
		expr.Function("blank", func(p ...any) (any, error) { return strings.TrimSpace(p[0].(string)) == "", nil },
			new(func(string) bool)),
		expr.Function("localTime", func(p ...any) (any, error) {
			loc, err := zone(p[1].(string))
			if err != nil {
				return nil, err
			}
			return p[0].(time.Time).In(loc), nil
		}, new(func(time.Time, string) time.Time)),
		expr.Function("formatDate", func(p ...any) (any, error) {
			loc, err := zone(p[2].(string))
			if err != nil {
				return nil, err
			}
			return p[0].(time.Time).In(loc).Format(p[1].(string)), nil
		}, new(func(time.Time, string, string) string)),
	}
	for _, b := range allowedBuiltins {
		opts = append(opts, expr.EnableBuiltin(b))
	}
	// Arithmetic and comparison on exact decimals.
	for op, fn := range map[string]func(a, b money.Decimal) any{
		"+": func(a, b money.Decimal) any { return a.Add(b) },
		"-": func(a, b money.Decimal) any { return a.Sub(b) },
		"*": func(a, b money.Decimal) any { return a.Mul(b) },
		"/": func(a, b money.Decimal) any { return a.Div(b) },
	} {
		name := "dec" + map[string]string{"+": "Add", "-": "Sub", "*": "Mul", "/": "Div"}[op]
		opts = append(opts,
			expr.Function(name, func(p ...any) (any, error) {
				if op == "/" && p[1].(money.Decimal).IsZero() {
					return nil, fmt.Errorf("division by zero")
				}
				return fn(p[0].(money.Decimal), p[1].(money.Decimal)), nil
			}, new(func(money.Decimal, money.Decimal) money.Decimal)),
			expr.Operator(op, name))
	}
	for op, want := range map[string][]int{"<": {-1}, "<=": {-1, 0}, ">": {1}, ">=": {1, 0}, "==": {0}} {
		name := "dec" + map[string]string{"<": "Lt", "<=": "Le", ">": "Gt", ">=": "Ge", "==": "Eq"}[op]
		opts = append(opts,
			expr.Function(name, func(p ...any) (any, error) {
				return slices.Contains(want, p[0].(money.Decimal).Cmp(p[1].(money.Decimal).Decimal)), nil
			}, new(func(money.Decimal, money.Decimal) bool)),
			expr.Operator(op, name))
	}
	return opts
}

// floatRefused names the error node put where dec() is given a float literal.
const floatRefused = "writeDecimalsAsTextInDec"

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
			if err == nil {
				folded := &ast.ConstantNode{Value: d}
				folded.SetLocation(call.Location())
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
