package mapping

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/expr-lang/expr/vm"

	"github.com/handybind/handybind/internal/bind"
	"github.com/handybind/handybind/internal/money"
)

func decimalOfInt(v any) money.Decimal { return money.NewFromInt(reflect.ValueOf(v).Int()) }

// vms are reused between runs: a VM keeps its stack, so a run allocates little.
var vms = sync.Pool{New: func() any { return &vm.VM{} }}

// Explained is one output field with the rule that produced it.
type Explained struct {
	Field  string `json:"field"`
	Rule   string `json:"rule"`
	Line   int    `json:"line"`
	Value  any    `json:"value"`
	Target string `json:"target"`
}

// apply runs every rule of a target on env, writing the results into out. In a check (budget not
// nil), each run and each function it calls is charged to the check; once the check is stopped,
// apply returns why.
func (m *Mapping) apply(budget *meter, target string, env any, out any, explain *[]Explained) error {
	rules := m.rules[target]
	if rules == nil {
		return fmt.Errorf("mapping %s has no %s target", m.Version, target)
	}
	if budget != nil {
		defer budget.charge(env)()
	}
	// A sync runs the rules directly where it can; a check runs them on the VM, which charges it.
	var direct unsafe.Pointer
	if budget == nil && explain == nil {
		direct = envPointer(rules[0].Target, env)
	}
	var machine *vm.VM
	defer func() {
		if machine != nil {
			vms.Put(machine)
		}
	}()
	for _, r := range rules {
		if direct != nil && r.direct != nil && runDirect(m, r, direct, out) {
			continue
		}
		if err := budget.spend(r.cost); err != nil {
			return err
		}
		if machine == nil {
			machine = vms.Get().(*vm.VM)
		}
		v, err := machine.Run(r.program, env)
		if err != nil {
			if stopped := budget.err(); stopped != nil {
				return stopped
			}
			return fmt.Errorf("mapping %s line %d (%s): %w", m.Version, r.Line, r.Name(), err)
		}
		if v, err = r.convert(v); err != nil {
			return fmt.Errorf("mapping %s line %d (%s): %w", m.Version, r.Line, r.Name(), err)
		}
		r.Field.set(out, v)
		if explain != nil {
			*explain = append(*explain, Explained{Field: r.Field.Name, Rule: r.Source, Line: r.Line, Value: v, Target: target})
		}
	}
	return nil
}

// Product maps a Handy product to a Bind product.
func (m *Mapping) Product(env *ProductEnv) (ProductOut, error) {
	var out ProductOut
	return out, m.apply(nil, "product", env, &out, nil)
}

// Client maps a Handy customer to a Bind client.
func (m *Mapping) Client(env *ClientEnv) (bind.NewClient, error) {
	var out bind.NewClient
	return out, m.apply(nil, "client", env, &out, nil)
}

// Order maps a Handy sale's header to a Bind order, without lines or looked-up ids.
func (m *Mapping) Order(env *OrderEnv) (bind.NewOrder, error) {
	var out bind.NewOrder
	return out, m.apply(nil, "order", env, &out, nil)
}

// OrderLine maps one Handy line to a Bind order line, without the product id.
func (m *Mapping) OrderLine(env *LineEnv) (bind.NewOrderProduct, error) {
	var out bind.NewOrderProduct
	return out, m.apply(nil, "order_line", env, &out, nil)
}

// Warehouse names the Bind warehouse of a seller's orders.
func (m *Mapping) Warehouse(env *WarehouseEnv) (string, error) {
	var out WarehouseChoice
	err := m.apply(nil, "warehouse", env, &out, nil)
	return out.Name, err
}

// Preview maps one input record for a target and explains each field. input is the target's
// environment as JSON ({"product": {…}, "connection": {…}}); unknown keys are refused so a
// misspelled input is not silently empty. For "order", the input may also carry "lines", and the
// preview then includes the mapped lines. It runs within the limits of one check: see
// PreviewContext.
func (m *Mapping) Preview(target string, input []byte) (payload []byte, fields []Explained, err error) {
	return m.PreviewContext(context.Background(), target, input)
}

// PreviewContext is Preview within the limits of one check, ending early when ctx ends: the input is
// at most 1 MiB with at most 1000 lines, and the rules may build at most 16 MiB in at most a
// second. A limit hit is a *LimitError.
func (m *Mapping) PreviewContext(ctx context.Context, target string, input []byte) (payload []byte, fields []Explained, err error) {
	t, ok := TargetByName(target)
	if !ok {
		return nil, nil, fmt.Errorf("%q is not a target", short(target))
	}
	if len(input) > maxInputJSON {
		return nil, nil, limitf("the preview input is too large: %d bytes (%s); the limit is %s", len(input), sizeText(len(input)), sizeText(maxInputJSON))
	}
	budget, cancel := newMeter(ctx)
	defer cancel()
	// The order's lines are read apart: the input is copied once more, then decoded.
	if err := budget.spend((decodeCost + 2) * len(input)); err != nil {
		return nil, nil, err
	}
	var lines []Line
	if target == "order" {
		var extra struct {
			Lines []Line `json:"lines"`
		}
		var probe map[string]json.RawMessage
		if err := json.Unmarshal(input, &probe); err != nil {
			return nil, nil, fmt.Errorf("input: %w", err)
		}
		if raw, ok := probe["lines"]; ok {
			if err := decodeStrict(raw, &extra.Lines); err != nil {
				return nil, nil, fmt.Errorf("input.lines: %w", err)
			}
			lines = extra.Lines
			if len(lines) > maxPreviewLines {
				return nil, nil, limitf("the preview input has %d lines; the limit is %d", len(lines), maxPreviewLines)
			}
			delete(probe, "lines")
			input, _ = json.Marshal(probe)
		}
	}
	env := reflect.New(t.Env)
	if err := decodeStrict(input, env.Interface()); err != nil {
		return nil, nil, fmt.Errorf("input: %w", err)
	}
	out := t.newOut()
	if err := m.apply(budget, target, env.Interface(), out, &fields); err != nil {
		return nil, nil, err
	}
	if target == "order" {
		order := out.(*bind.NewOrder)
		oe := env.Interface().(*OrderEnv)
		for _, l := range lines {
			le := &LineEnv{Line: l, Sale: oe.Sale, Connection: oe.Connection}
			var ol bind.NewOrderProduct
			var lf []Explained
			if err := m.apply(budget, "order_line", le, &ol, &lf); err != nil {
				return nil, nil, err
			}
			for i := range lf {
				lf[i].Field = fmt.Sprintf("Products[%d].%s", l.Index, lf[i].Field)
			}
			fields = append(fields, lf...)
			order.Products = append(order.Products, ol)
		}
	}
	// The payload and the explanations write every value as JSON, and the API copies them again:
	// charge that before writing it.
	for _, f := range fields {
		size := fieldCost
		if s, ok := f.Value.(string); ok {
			size += 4 * jsonSize(s)
		}
		if err := budget.spend(size); err != nil {
			return nil, nil, err
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // "<beto@example.com>" stays readable; this is not HTML
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return nil, nil, err
	}
	return bytes.TrimSpace(buf.Bytes()), fields, nil
}

func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return plainJSONError(b, dec.Decode(v))
}

// plainJSONError says what is wrong with an input in an integrator's words: where (line and
// column), and which kind of value a field wants (a number, text, true or false, a date, a list),
// never a Go type.
func plainJSONError(b []byte, err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &syntax):
		line, col := jsonPosition(b, syntax.Offset)
		return fmt.Errorf("not valid JSON at line %d, column %d: %s", line, col, strings.TrimPrefix(syntax.Error(), "invalid character "))
	case errors.As(err, &typ):
		line, col := jsonPosition(b, typ.Offset)
		field := typ.Field
		if field == "" {
			field = "the input"
		}
		return fmt.Errorf("%s at line %d, column %d: expected %s, got %s", field, line, col, valueKind(typ.Type), typ.Value)
	case errors.Is(err, io.EOF):
		return errors.New("the input is empty; give a JSON object")
	}
	msg := err.Error()
	if after, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		return fmt.Errorf("unknown field %s", after)
	}
	// Decimal and time values say what they want themselves; strip Go's plumbing from the rest.
	return errors.New(strings.TrimPrefix(msg, "json: "))
}

func jsonPosition(b []byte, offset int64) (line, col int) {
	line, col = 1, 1
	for i := 0; i < int(offset) && i < len(b); i++ {
		if b[i] == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return line, col
}

// valueKind names what a Go type holds, as JSON writes it.
func valueKind(t reflect.Type) string {
	switch {
	case t == reflect.TypeFor[money.Decimal]():
		return "a number"
	case t == reflect.TypeFor[time.Time]():
		return "a date and time, such as \"2026-11-26T07:14:32Z\""
	}
	switch t.Kind() {
	case reflect.String:
		return "text"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int32, reflect.Int64, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return "another kind of value"
}

// TestResult is the outcome of one test case of a mapping file.
type TestResult struct {
	Name     string   `json:"name"`
	Target   string   `json:"target"`
	Line     int      `json:"line"`
	Passed   bool     `json:"passed"`
	Failures []string `json:"failures,omitempty"`
}

// Test runs the file's own test cases. A mapping whose tests fail is never used. When a limit
// stops the tests (see TestContext), the last result is a failure that says which.
func (m *Mapping) Test() []TestResult {
	out, err := m.TestContext(context.Background())
	if err != nil {
		out = append(out, TestResult{Name: "limits", Line: 1, Failures: []string{err.Error()}})
	}
	return out
}

// TestContext runs the file's own test cases within the limits of one check, ending early when ctx
// ends: the rules may build at most 16 MiB in at most a second for all the cases. When a limit stops
// the cases, it returns the results so far and a *LimitError.
func (m *Mapping) TestContext(ctx context.Context) ([]TestResult, error) {
	budget, cancel := newMeter(ctx)
	defer cancel()
	var out []TestResult
	for _, tc := range m.tests {
		// Decoding copies the input into a buffer it grows by doubling, then into the values.
		if err := budget.spend(testCost + decodeCost*len(tc.input)); err != nil {
			return out, err
		}
		res := TestResult{Name: tc.name, Target: tc.target.Name, Line: tc.line, Passed: true}
		fail := func(format string, args ...any) {
			res.Passed = false
			res.Failures = append(res.Failures, clip(fmt.Sprintf(format, args...), maxFailure))
		}
		env := reflect.New(tc.target.Env)
		if err := decodeStrict(tc.input, env.Interface()); err != nil {
			fail("line %d: input does not fit %s's environment: %v", tc.line, tc.target.Name, err)
			out = append(out, res)
			continue
		}
		obj := tc.target.newOut()
		var fields []Explained
		if err := m.apply(budget, tc.target.Name, env.Interface(), obj, &fields); err != nil {
			if stopped := budget.err(); stopped != nil {
				return out, stopped
			}
			fail("%v", err)
			out = append(out, res)
			continue
		}
		// A sync runs the rules as closures where it can (direct.go): what it computes must be
		// what this check computed, or the version must not be used.
		if synced := tc.target.newOut(); m.apply(nil, tc.target.Name, env.Interface(), synced, nil) != nil || !reflect.DeepEqual(synced, obj) {
			fail("line %d: the rules give another result when run as a sync runs them; this is a defect in handybind, please report it with this file", tc.line)
		}
		got := map[string]any{}
		for _, f := range fields {
			got[f.Field] = f.Value
		}
		for _, e := range tc.expect {
			v, ok := got[e.field]
			if !ok {
				fail("line %d: %s has no rule for %s", e.line, tc.target.Name, e.field)
				continue
			}
			if !sameValue(v, e.value) {
				fail("line %d: %s = %s, expected %s", e.line, e.field, clip(Format(v), maxShownValue), clip(e.value, maxShownValue))
			}
		}
		out = append(out, res)
	}
	return out, nil
}

// Lengths of what a failed test case quotes: a value, and the whole message.
const (
	maxShownValue = 200
	maxFailure    = 4096
)

// Untested lists the rules that no test case checks, as "target.Field".
func (m *Mapping) Untested() []string {
	checked := map[string]bool{}
	for _, tc := range m.tests {
		for _, e := range tc.expect {
			checked[tc.target.Name+"."+e.field] = true
		}
	}
	var out []string
	for _, t := range Targets {
		for _, r := range m.rules[t.Name] {
			if !checked[r.Name()] {
				out = append(out, r.Name())
			}
		}
	}
	sort.Strings(out)
	return out
}

// Format writes a rule's value as text: decimals exactly, times as Bind sends them.
func Format(v any) string {
	switch x := v.(type) {
	case money.Decimal:
		return x.String()
	case time.Time:
		return x.Format("2006-01-02T15:04:05")
	case string:
		return x
	}
	return fmt.Sprint(v)
}

func sameValue(v any, want string) bool {
	switch x := v.(type) {
	case money.Decimal:
		d, err := money.Parse(strings.TrimSpace(want))
		return err == nil && d.Equal(x)
	}
	return Format(v) == want
}
