package mapping

import (
	"fmt"
	"log/slog"
	"reflect"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/checker"
	"github.com/expr-lang/expr/checker/nature"

	"github.com/handybind/handybind/internal/money"
)

// Rules that a sync runs are also compiled to Go closures over typed values, from the same
// checked tree the VM's program comes from. expr's VM keeps every value in an interface: each
// field it reads, decimal it computes and text it builds is boxed on the heap, and each call goes
// through a slice of arguments; a ten-line sale made hundreds of such allocations. The closures
// read the environment's fields in place and pass decimals, texts and times as they are.
//
// The closures are an optimization, never a second semantics. They cover the expressions the
// mapping files use: fields, constants, the documented functions, decimal arithmetic and
// comparisons, text concatenation, conditionals, and, or, not, == and != (on texts, whole numbers
// and booleans). A rule with anything else runs on the VM only. They compute the same values with
// the same functions, and whenever the VM would fail (a division by zero, a limit, an unknown
// time zone) or anything unexpected happens, they give up and the rule runs on the VM, which
// gives the result or the error it always gave. Checks (tests, previews) always use the VM,
// which charges their meter.

// vkind is the Go type of a value a closure computes.
type vkind int

const (
	kindNone vkind = iota
	kindDec
	kindStr
	kindBool
	kindInt // int or int64, held as int64
	kindTime
)

// compiled is an expression compiled to a closure of its kind; ok false means "run the VM".
type compiled struct {
	kind vkind
	typ  reflect.Type
	dec  func(env unsafe.Pointer) (money.Decimal, bool)
	str  func(env unsafe.Pointer) (string, bool)
	bool func(env unsafe.Pointer) (bool, bool)
	int  func(env unsafe.Pointer) (int64, bool)
	time func(env unsafe.Pointer) (time.Time, bool)
}

var (
	stringType = reflect.TypeFor[string]()
	boolType   = reflect.TypeFor[bool]()
	intType    = reflect.TypeFor[int]()
	int64Type  = reflect.TypeFor[int64]()
)

func vkindOf(t reflect.Type) vkind {
	switch t {
	case decimalType:
		return kindDec
	case stringType:
		return kindStr
	case boolType:
		return kindBool
	case intType, int64Type:
		return kindInt
	case timeType:
		return kindTime
	}
	return kindNone
}

// closures compiles checked trees of one environment type.
type closures struct {
	cache *nature.Cache
	env   nature.Nature
	typ   reflect.Type // the environment struct
}

// compile returns the closure of n, or false when n has something the closures do not cover.
func (c *closures) compile(n ast.Node) (compiled, bool) {
	switch n := n.(type) {
	case *ast.ConstantNode:
		return constant(n.Value)
	case *ast.IntegerNode:
		if n.Type() != intType {
			return compiled{}, false
		}
		return constant(n.Value)
	case *ast.StringNode:
		return constant(n.Value)
	case *ast.BoolNode:
		return constant(n.Value)
	case *ast.IdentifierNode, *ast.MemberNode:
		return c.field(n)
	case *ast.ConditionalNode:
		return c.conditional(n)
	case *ast.UnaryNode:
		if n.Operator != "!" && n.Operator != "not" {
			return compiled{}, false
		}
		x, ok := c.compileKind(n.Node, kindBool)
		if !ok {
			return compiled{}, false
		}
		return boolOf(func(p unsafe.Pointer) (bool, bool) {
			v, ok := x.bool(p)
			return !v, ok
		}), true
	case *ast.BinaryNode:
		return c.binary(n)
	case *ast.CallNode:
		return c.call(n)
	}
	return compiled{}, false
}

func (c *closures) compileKind(n ast.Node, k vkind) (compiled, bool) {
	x, ok := c.compile(n)
	return x, ok && x.kind == k
}

func constant(v any) (compiled, bool) {
	switch v := v.(type) {
	case money.Decimal:
		return compiled{kind: kindDec, typ: decimalType, dec: func(unsafe.Pointer) (money.Decimal, bool) { return v, true }}, true
	case string:
		return compiled{kind: kindStr, typ: stringType, str: func(unsafe.Pointer) (string, bool) { return v, true }}, true
	case bool:
		return boolOf(func(unsafe.Pointer) (bool, bool) { return v, true }), true
	case int:
		return compiled{kind: kindInt, typ: intType, int: func(unsafe.Pointer) (int64, bool) { return int64(v), true }}, true
	}
	return compiled{}, false
}

func boolOf(f func(unsafe.Pointer) (bool, bool)) compiled {
	return compiled{kind: kindBool, typ: boolType, bool: f}
}

func decOf(f func(unsafe.Pointer) (money.Decimal, bool)) compiled {
	return compiled{kind: kindDec, typ: decimalType, dec: f}
}

func strOf(f func(unsafe.Pointer) (string, bool)) compiled {
	return compiled{kind: kindStr, typ: stringType, str: f}
}

// field reads a field of the environment (line.price) where it lies: its offset in the
// environment struct is found, through the same field indexes expr uses, when the rule loads.
func (c *closures) field(n ast.Node) (compiled, bool) {
	off, t, ok := c.offset(n)
	if !ok {
		return compiled{}, false
	}
	switch t {
	case decimalType:
		return decOf(func(p unsafe.Pointer) (money.Decimal, bool) { return *(*money.Decimal)(unsafe.Add(p, off)), true }), true
	case stringType:
		return strOf(func(p unsafe.Pointer) (string, bool) { return *(*string)(unsafe.Add(p, off)), true }), true
	case boolType:
		return boolOf(func(p unsafe.Pointer) (bool, bool) { return *(*bool)(unsafe.Add(p, off)), true }), true
	case intType:
		return compiled{kind: kindInt, typ: t, int: func(p unsafe.Pointer) (int64, bool) { return int64(*(*int)(unsafe.Add(p, off))), true }}, true
	case int64Type:
		return compiled{kind: kindInt, typ: t, int: func(p unsafe.Pointer) (int64, bool) { return *(*int64)(unsafe.Add(p, off)), true }}, true
	case timeType:
		return compiled{kind: kindTime, typ: t, time: func(p unsafe.Pointer) (time.Time, bool) { return *(*time.Time)(unsafe.Add(p, off)), true }}, true
	}
	return compiled{}, false
}

// offset finds where a field path lies in the environment; only struct fields held by value.
func (c *closures) offset(n ast.Node) (uintptr, reflect.Type, bool) {
	var base uintptr
	t := c.typ
	switch n := n.(type) {
	case *ast.IdentifierNode:
	case *ast.MemberNode:
		if n.Optional {
			return 0, nil, false
		}
		if _, ok := n.Property.(*ast.StringNode); !ok {
			return 0, nil, false
		}
		var ok bool
		if base, t, ok = c.offset(n.Node); !ok {
			return 0, nil, false
		}
	default:
		return 0, nil, false
	}
	ok, index, _ := checker.FieldIndex(c.cache, c.env, n)
	if !ok || len(index) == 0 {
		return 0, nil, false
	}
	for _, i := range index {
		if t.Kind() != reflect.Struct || i >= t.NumField() {
			return 0, nil, false
		}
		f := t.Field(i)
		base += f.Offset
		t = f.Type
	}
	if n.Type() != t {
		return 0, nil, false
	}
	return base, t, true
}

func (c *closures) conditional(n *ast.ConditionalNode) (compiled, bool) {
	cond, ok1 := c.compileKind(n.Cond, kindBool)
	k := vkindOf(n.Type())
	yes, ok2 := c.compileKind(n.Exp1, k)
	no, ok3 := c.compileKind(n.Exp2, k)
	if !ok1 || !ok2 || !ok3 || k == kindNone || yes.typ != no.typ {
		return compiled{}, false
	}
	pick := func(p unsafe.Pointer) (compiled, bool) {
		v, ok := cond.bool(p)
		if v {
			return yes, ok
		}
		return no, ok
	}
	out := compiled{kind: k, typ: yes.typ}
	switch k {
	case kindDec:
		out.dec = func(p unsafe.Pointer) (money.Decimal, bool) {
			if x, ok := pick(p); ok {
				return x.dec(p)
			}
			return money.Decimal{}, false
		}
	case kindStr:
		out.str = func(p unsafe.Pointer) (string, bool) {
			if x, ok := pick(p); ok {
				return x.str(p)
			}
			return "", false
		}
	case kindBool:
		out.bool = func(p unsafe.Pointer) (bool, bool) {
			if x, ok := pick(p); ok {
				return x.bool(p)
			}
			return false, false
		}
	case kindInt:
		out.int = func(p unsafe.Pointer) (int64, bool) {
			if x, ok := pick(p); ok {
				return x.int(p)
			}
			return 0, false
		}
	case kindTime:
		out.time = func(p unsafe.Pointer) (time.Time, bool) {
			if x, ok := pick(p); ok {
				return x.time(p)
			}
			return time.Time{}, false
		}
	}
	return out, true
}

func (c *closures) binary(n *ast.BinaryNode) (compiled, bool) {
	l, ok1 := c.compile(n.Left)
	r, ok2 := c.compile(n.Right)
	if !ok1 || !ok2 {
		return compiled{}, false
	}
	switch n.Operator {
	case "&&", "and", "||", "or":
		if l.kind != kindBool || r.kind != kindBool {
			return compiled{}, false
		}
		// The right side runs only when the left does not decide, as on the VM.
		decides := n.Operator == "||" || n.Operator == "or"
		return boolOf(func(p unsafe.Pointer) (bool, bool) {
			v, ok := l.bool(p)
			if !ok || v == decides {
				return v, ok
			}
			return r.bool(p)
		}), true
	case "==", "!=":
		if l.typ != r.typ || (l.kind != kindStr && l.kind != kindBool && l.kind != kindInt) {
			return compiled{}, false
		}
		want := n.Operator == "=="
		switch l.kind {
		case kindStr:
			return boolOf(func(p unsafe.Pointer) (bool, bool) {
				a, ok1 := l.str(p)
				b, ok2 := r.str(p)
				return (a == b) == want, ok1 && ok2
			}), true
		case kindBool:
			return boolOf(func(p unsafe.Pointer) (bool, bool) {
				a, ok1 := l.bool(p)
				b, ok2 := r.bool(p)
				return (a == b) == want, ok1 && ok2
			}), true
		default:
			return boolOf(func(p unsafe.Pointer) (bool, bool) {
				a, ok1 := l.int(p)
				b, ok2 := r.int(p)
				return (a == b) == want, ok1 && ok2
			}), true
		}
	}
	return compiled{}, false
}

// call compiles a call of a bounded function (see binder): the environment first, then the
// arguments, each evaluated in order before the function runs, as on the VM.
func (c *closures) call(n *ast.CallNode) (compiled, bool) {
	id, ok := n.Callee.(*ast.IdentifierNode)
	if !ok || !strings.HasPrefix(id.Value, boundedName("")) || len(n.Arguments) == 0 {
		return compiled{}, false
	}
	if env, ok := n.Arguments[0].(*ast.IdentifierNode); !ok || env.Value != "$env" {
		return compiled{}, false
	}
	name := strings.TrimPrefix(id.Value, boundedName(""))
	if name == textAdd {
		return c.concat(n)
	}
	args := make([]compiled, len(n.Arguments)-1)
	kinds := make([]vkind, len(args))
	for i, a := range n.Arguments[1:] {
		if args[i], ok = c.compile(a); !ok {
			return compiled{}, false
		}
		kinds[i] = args[i].kind
	}
	is := func(want ...vkind) bool { return slices.Equal(kinds, want) }
	switch {
	case strings.HasPrefix(name, "dec") && is(kindDec, kindDec):
		return decimalCall(name, args[0], args[1])
	case name == "netOfTax" && is(kindDec, kindDec):
		return decimalsCall(args, func(v []money.Decimal) (money.Decimal, error) { return netOfTax(v[0], v[1]) }), true
	case name == "netOfTaxes" && is(kindDec, kindDec, kindDec):
		return decimalsCall(args, func(v []money.Decimal) (money.Decimal, error) { return netOfTaxes(v[0], v[1], v[2]) }), true
	case name == "withTax" && is(kindDec, kindDec):
		return decimalsCall(args, func(v []money.Decimal) (money.Decimal, error) { return withTax(v[0], v[1]), nil }), true
	case name == "cents" && is(kindDec):
		a := args[0].dec
		return decOf(func(p unsafe.Pointer) (money.Decimal, bool) {
			x, ok := a(p)
			if !ok {
				return money.Decimal{}, false
			}
			d := x.Cents()
			return d, decimalFits(d)
		}), true
	case name == "roundTo" && is(kindDec, kindInt) && args[1].typ == intType:
		a, b := args[0].dec, args[1].int
		return decOf(func(p unsafe.Pointer) (money.Decimal, bool) {
			x, ok1 := a(p)
			places, ok2 := b(p)
			if !ok1 || !ok2 {
				return money.Decimal{}, false
			}
			d, err := roundTo(x, int(places))
			return d, err == nil && decimalFits(d)
		}), true
	case name == "blank" && is(kindStr):
		a := args[0].str
		return boolOf(func(p unsafe.Pointer) (bool, bool) {
			s, ok := a(p)
			return strings.TrimSpace(s) == "", ok
		}), true
	case name == "coalesce" && len(args) > 0 && allKind(kinds, kindStr):
		return strOf(func(p unsafe.Pointer) (string, bool) {
			out, found := "", false
			for _, a := range args {
				s, ok := a.str(p)
				if !ok {
					return "", false
				}
				if s = strings.TrimSpace(s); s != "" && !found {
					out, found = s, true
				}
			}
			return out, true
		}), true
	case name == "trim" && (is(kindStr) || is(kindStr, kindStr)):
		return strOf(func(p unsafe.Pointer) (string, bool) {
			s, ok := args[0].str(p)
			if !ok {
				return "", false
			}
			if len(args) == 1 {
				return strings.TrimSpace(s), true
			}
			cutset, ok := args[1].str(p)
			if !ok || len(cutset) > maxCutset {
				return "", false
			}
			return strings.Trim(s, cutset), true
		}), true
	case (name == "upper" || name == "lower") && is(kindStr):
		a, mapping := args[0].str, strings.ToUpper
		if name == "lower" {
			mapping = strings.ToLower
		}
		return strOf(func(p unsafe.Pointer) (string, bool) {
			s, ok := a(p)
			if !ok || len(s) > maxText {
				return "", false
			}
			out := mapping(s)
			return out, len(out) <= maxText
		}), true
	case name == "string" && len(args) == 1:
		switch a := args[0]; a.kind {
		case kindStr:
			return strOf(a.str), true
		case kindInt:
			return strOf(func(p unsafe.Pointer) (string, bool) {
				v, ok := a.int(p)
				return strconv.FormatInt(v, 10), ok
			}), true
		case kindBool:
			return strOf(func(p unsafe.Pointer) (string, bool) {
				v, ok := a.bool(p)
				return strconv.FormatBool(v), ok
			}), true
		}
	case name == "localTime" && is(kindTime, kindStr):
		a, b := args[0].time, args[1].str
		return compiled{kind: kindTime, typ: timeType, time: func(p unsafe.Pointer) (time.Time, bool) {
			t, ok1 := a(p)
			z, ok2 := b(p)
			if !ok1 || !ok2 {
				return time.Time{}, false
			}
			t, err := localTime(t, z)
			return t, err == nil
		}}, true
	case name == "formatDate" && is(kindTime, kindStr, kindStr):
		a, b, e := args[0].time, args[1].str, args[2].str
		return strOf(func(p unsafe.Pointer) (string, bool) {
			t, ok1 := a(p)
			layout, ok2 := b(p)
			z, ok3 := e(p)
			if !ok1 || !ok2 || !ok3 || len(layout) > maxLayout {
				return "", false
			}
			loc, err := zone(z)
			if err != nil {
				return "", false
			}
			return t.In(loc).Format(layout), true
		}), true
	}
	return compiled{}, false
}

func allKind(kinds []vkind, k vkind) bool {
	for _, x := range kinds {
		if x != k {
			return false
		}
	}
	return true
}

// decimalCall is + - * / and the comparisons on decimals.
func decimalCall(name string, a, b compiled) (compiled, bool) {
	x, y := a.dec, b.dec
	operands := func(p unsafe.Pointer) (money.Decimal, money.Decimal, bool) {
		l, ok1 := x(p)
		r, ok2 := y(p)
		return l, r, ok1 && ok2
	}
	arithmetic := map[string]func(a, b money.Decimal) money.Decimal{
		"decAdd": money.Decimal.Add, "decSub": money.Decimal.Sub, "decMul": money.Decimal.Mul, "decDiv": money.Decimal.Div,
	}
	if f, ok := arithmetic[name]; ok {
		div := name == "decDiv"
		return decOf(func(p unsafe.Pointer) (money.Decimal, bool) {
			l, r, ok := operands(p)
			if !ok || div && r.IsZero() {
				return money.Decimal{}, false
			}
			d := f(l, r)
			return d, decimalFits(d)
		}), true
	}
	want, ok := map[string][2]int{"decLt": {-1, -1}, "decLe": {-1, 0}, "decGt": {1, 1}, "decGe": {1, 0}, "decEq": {0, 0}}[name]
	if !ok {
		return compiled{}, false
	}
	return boolOf(func(p unsafe.Pointer) (bool, bool) {
		l, r, ok := operands(p)
		c := l.Cmp(r.Decimal)
		return c == want[0] || c == want[1], ok
	}), true
}

// concat is a chain of + on texts, built at once: the parts are evaluated in the VM's order, and a
// text no longer than the limit has no part or partial sum longer than it either.
func (c *closures) concat(n *ast.CallNode) (compiled, bool) {
	var parts []compiled
	var collect func(n ast.Node) bool
	collect = func(n ast.Node) bool {
		if call, ok := n.(*ast.CallNode); ok {
			if id, ok := call.Callee.(*ast.IdentifierNode); ok && id.Value == boundedName(textAdd) && len(call.Arguments) == 3 {
				return collect(call.Arguments[1]) && collect(call.Arguments[2])
			}
		}
		x, ok := c.compileKind(n, kindStr)
		parts = append(parts, x)
		return ok
	}
	if len(n.Arguments) != 3 || !collect(n.Arguments[1]) || !collect(n.Arguments[2]) {
		return compiled{}, false
	}
	return strOf(func(p unsafe.Pointer) (string, bool) {
		var buf [8]string
		texts := buf[:0]
		size := 0
		for _, x := range parts {
			s, ok := x.str(p)
			if !ok {
				return "", false
			}
			texts = append(texts, s)
			size += len(s)
		}
		if size > maxText {
			return "", false
		}
		var b strings.Builder
		b.Grow(size)
		for _, s := range texts {
			b.WriteString(s)
		}
		return b.String(), true
	}), true
}

// decimalsCall calls f on the values of decimal arguments (two or three); it gives up, so that
// the VM runs the rule, where an argument does, f fails, or the result is out of range.
func decimalsCall(args []compiled, f func([]money.Decimal) (money.Decimal, error)) compiled {
	get := make([]func(unsafe.Pointer) (money.Decimal, bool), len(args))
	for i, a := range args {
		get[i] = a.dec
	}
	return decOf(func(p unsafe.Pointer) (money.Decimal, bool) {
		var buf [3]money.Decimal
		v := buf[:len(get)]
		for i, g := range get {
			var ok bool
			if v[i], ok = g(p); !ok {
				return money.Decimal{}, false
			}
		}
		d, err := f(v)
		return d, err == nil && decimalFits(d)
	})
}

// directRule is a rule's closure with the field's setter: it sets the field and reports true, or
// sets nothing and reports false so that the rule runs on the VM. It is nil when the expression or
// the field's type is not covered.
func directRule(x compiled, f Field) func(env unsafe.Pointer, out any) bool {
	switch to := f.to.(type) {
	case func(any, string):
		if x.kind == kindStr {
			return setter(x.str, to)
		}
	case func(any, money.Decimal):
		switch x.kind {
		case kindDec:
			return setter(x.dec, to)
		case kindInt:
			return setter(convert(x.int, money.NewFromInt), to)
		}
	case func(any, int):
		if x.kind == kindInt {
			return setter(convert(x.int, func(v int64) int { return int(v) }), to)
		}
	case func(any, bool):
		if x.kind == kindBool {
			return setter(x.bool, to)
		}
	case func(any, time.Time):
		if x.kind == kindTime {
			return setter(x.time, to)
		}
	}
	return nil
}

// setter sets a field to what get gives, when it gives something.
func setter[T any](get func(unsafe.Pointer) (T, bool), to func(any, T)) func(unsafe.Pointer, any) bool {
	return func(p unsafe.Pointer, out any) bool {
		v, ok := get(p)
		if ok {
			to(out, v)
		}
		return ok
	}
}

// convert is get with its value converted.
func convert[A, B any](get func(unsafe.Pointer) (A, bool), conv func(A) B) func(unsafe.Pointer) (B, bool) {
	return func(p unsafe.Pointer) (B, bool) {
		v, ok := get(p)
		if !ok {
			var zero B
			return zero, false
		}
		return conv(v), true
	}
}

// How often a sync ran a rule on the VM although the rule has a closure: the closure gave up (a
// value it does not cover, or an error, which the VM then reports in its words), or it panicked,
// which is a fault of the closure compiler that the VM's result hides from the sync but not from
// the operator (DirectFallbacks, a metric).
var directGaveUp, directPanicked atomic.Uint64

// DirectFallbacks returns, for this process, how many rule runs fell back from a closure to the VM
// because the closure gave up, and because it panicked.
func DirectFallbacks() (gaveUp, panicked uint64) {
	return directGaveUp.Load(), directPanicked.Load()
}

// reportedPanics holds the rules whose closure panicked and was logged, so that each is logged
// once, not on every record.
var reportedPanics sync.Map

// runDirect runs a rule's closure on env, reporting false (so that the VM runs the rule) if it
// gives up or panics.
func runDirect(m *Mapping, r *Rule, env unsafe.Pointer, out any) (done bool) {
	defer func() {
		if v := recover(); v != nil {
			directPanicked.Add(1)
			if _, seen := reportedPanics.LoadOrStore(r, true); !seen {
				slog.Default().Warn("a mapping rule's compiled form failed; the expression VM ran it instead (logged once per rule)",
					"mapping", m.Name, "version", m.Version, "line", r.Line, "rule", r.Name(), "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			}
			done = false
		}
	}()
	if !r.direct(env, out) {
		directGaveUp.Add(1)
		return false
	}
	return true
}

// envPointer is the struct a rule environment points to, when it is the target's.
func envPointer(t *Target, env any) unsafe.Pointer {
	v := reflect.ValueOf(env)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Type().Elem() != t.Env {
		return nil
	}
	return v.UnsafePointer()
}
