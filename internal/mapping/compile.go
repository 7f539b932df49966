package mapping

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"unsafe"

	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
	"go.yaml.in/yaml/v3"
)

// Rule is one compiled rule: a target field and the program that computes it.
type Rule struct {
	Target       *Target
	Field        Field
	Source       string
	Line, Column int
	program      *vm.Program
	convert      func(any) (any, error) // from the expression's type to the field's
	cost         int                    // what one run costs besides the calls it makes, in bytes
	// direct runs the rule without the VM and sets the field, or reports false (see direct.go);
	// nil when the rule always runs on the VM.
	direct func(env unsafe.Pointer, out any) bool
}

// Name is "target.Field".
func (r *Rule) Name() string { return r.Target.Name + "." + r.Field.Name }

// Mapping is a compiled mapping file. Only compiled programs run; a Mapping is immutable and safe
// for concurrent use.
type Mapping struct {
	Name, Version, Description string
	// Checksum is the SHA-256 of the source, hex; runs record it with the version.
	Checksum string
	Source   []byte
	Path     string

	rules   map[string][]*Rule // by target, in field order of the target
	tests   []rawTest
	targets map[string]*Target
}

// Rules returns a target's compiled rules in the target's field order.
func (m *Mapping) Rules(target string) []*Rule { return m.rules[target] }

// LoadError is a mapping that did not load, with every problem found.
type LoadError struct {
	Path     string
	Problems []Problem
}

func (e *LoadError) Error() string {
	var b strings.Builder
	name := e.Path
	if name == "" {
		name = "mapping"
	}
	fmt.Fprintf(&b, "%s: %d problem(s)", name, len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  " + p.String())
	}
	return b.String()
}

// Compile parses and compiles a mapping source. It never panics on bad input; every problem is
// reported with its line and column. path is used in messages and for the file-name check.
func Compile(path string, src []byte) (m *Mapping, err error) {
	return compile(path, src, nil)
}

// CompileAs compiles a source published through the API as version of name: its name must be
// name, and its version line, which may be left out, must say version.
func CompileAs(src []byte, name, version string) (*Mapping, error) {
	return compile("", src, &identity{name: name, version: version})
}

// CompileDraft compiles a source as Compile does, except that its version line may be left out,
// as in a source about to be published (it is then version Draft), and that the file's name need
// not be its version: the file-name rule is the mappings folder's, not a published source's.
func CompileDraft(path string, src []byte) (*Mapping, error) {
	return compile(path, src, &identity{draft: true})
}

func compile(path string, src []byte, want *identity) (m *Mapping, err error) {
	defer func() {
		// The compiler of the rule language is third-party code: a panic on a strange input is a
		// load error, never a crash of the service.
		if r := recover(); r != nil {
			m, err = nil, &LoadError{Path: path, Problems: []Problem{{Line: 1, Message: fmt.Sprintf("the rule compiler failed: %v", r)}}}
		}
	}()
	p, probs := parse(src, want)
	if p == nil {
		return nil, &LoadError{Path: path, Problems: probs}
	}
	sum := sha256.Sum256(src)
	m = &Mapping{
		Name: p.name, Version: p.version, Description: strings.TrimSpace(p.description),
		Checksum: hex.EncodeToString(sum[:]), Source: src, Path: path,
		rules: map[string][]*Rule{}, tests: p.tests, targets: map[string]*Target{},
	}
	if base := baseName(path); want == nil && base != "" && p.version != "" && base != p.version {
		probs = append(probs, Problem{Line: 1, Message: fmt.Sprintf("the file %s holds version %s; name it %s.yaml", path, p.version, p.version)})
	}
	for _, raw := range p.rules {
		r, prob := compileRule(raw)
		if prob != nil {
			probs = append(probs, *prob)
			continue
		}
		m.rules[raw.target.Name] = append(m.rules[raw.target.Name], r)
		m.targets[raw.target.Name] = raw.target
	}
	for name, rs := range m.rules {
		t := m.targets[name]
		sort.SliceStable(rs, func(i, j int) bool { return fieldIndex(t, rs[i].Field.Name) < fieldIndex(t, rs[j].Field.Name) })
	}
	if len(probs) > 0 {
		sort.SliceStable(probs, func(i, j int) bool { return probs[i].Line < probs[j].Line })
		if len(probs) > maxProblems {
			probs = append(probs[:maxProblems], Problem{Line: probs[maxProblems].Line, Message: fmt.Sprintf("more problems follow; only the first %d are reported", maxProblems)})
		}
		return nil, &LoadError{Path: path, Problems: probs}
	}
	return m, nil
}

func baseName(path string) string {
	if path == "" {
		return ""
	}
	i := strings.LastIndexAny(path, `/\`)
	base := path[i+1:]
	for _, ext := range []string{".yaml", ".yml"} {
		if strings.HasSuffix(base, ext) {
			return strings.TrimSuffix(base, ext)
		}
	}
	return ""
}

func fieldIndex(t *Target, name string) int {
	for i, f := range t.Fields {
		if f.Name == name {
			return i
		}
	}
	return len(t.Fields)
}

var (
	unknownName   = regexp.MustCompile(`unknown name (\w+)`)
	noField       = regexp.MustCompile(`type [\w.]+ has no field (\w+)`)
	unknownFunc   = regexp.MustCompile(`unknown func(?:tion)? (\w+)`)
	methodRefused = "methodCallsAreNotAllowed"
)

// compileRule compiles one rule against its target's environment and checks its result type.
func compileRule(raw rawRule) (*Rule, *Problem) {
	r := &Rule{Target: raw.target, Field: raw.field, Source: raw.source, Line: raw.node.Line, Column: raw.node.Column}
	fail := func(line, col int, format string, args ...any) (*Rule, *Problem) {
		return nil, &Problem{Line: line, Column: col, Rule: r.Name(), Message: fmt.Sprintf(format, args...)}
	}
	if len(raw.source) > maxRuleLength {
		return fail(r.Line, r.Column, "the expression is %d characters long; the limit is %d", len(raw.source), maxRuleLength)
	}
	if d := ruleDepth(raw.source); d > maxRuleDepth {
		return fail(r.Line, r.Column, "the expression nests %d levels of brackets deep; the limit is %d", d, maxRuleDepth)
	}
	env := reflect.New(raw.target.Env).Elem().Interface()
	prog, cost, direct, err := compileStrict(raw.source, raw.target.Env, options(env)...)
	if err != nil {
		line, col := r.Line, r.Column
		msg := err.Error()
		var fe *file.Error
		if errors.As(err, &fe) {
			line, col = position(raw.node, fe.Line, fe.Column)
			msg = fe.Message
		}
		return fail(line, col, "%s", explain(msg, raw))
	}
	conv, err := converter(prog.Node().Type(), raw.field.Kind)
	if err != nil {
		return fail(r.Line, r.Column, "%v", err)
	}
	r.program, r.convert, r.cost = prog, conv, runCost+cost
	if direct != nil {
		r.direct = directRule(*direct, raw.field)
	}
	return r, nil
}

// position maps a line and column inside an expression to the file.
func position(n *yaml.Node, line, col int) (int, int) {
	switch {
	case n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0:
		// The block's text starts on the next line, indented by the node's column.
		return n.Line + line, n.Column + col + 1
	case n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0:
		return n.Line + line - 1, n.Column + col + 1
	}
	return n.Line + line - 1, n.Column + col
}

// explain rewrites the compiler's message for people: what was wrong and what to write instead.
func explain(msg string, raw rawRule) string {
	switch {
	case strings.Contains(msg, "unknown name let"):
		return "let is not allowed in rules: write the expression out (declarations can multiply text without bound)"
	case strings.Contains(msg, decimalRefused):
		return fmt.Sprintf("dec() of a number with more than %d digits, or an exponent beyond ±%d, is refused: no amount has one", maxDecDigits, maxDecExponent)
	case strings.Contains(msg, floatRefused):
		return `dec() of a number with a fraction is not exact; write it as text: dec("1.5")`
	case strings.Contains(msg, methodRefused):
		return "calling methods of values is not allowed; use the documented functions (" + functionNames() + ")"
	case unknownFunc.MatchString(msg) || calledName(msg, raw.source) != "":
		name := calledName(msg, raw.source)
		if m := unknownFunc.FindStringSubmatch(msg); m != nil {
			name = m[1]
		}
		return fmt.Sprintf("%s is not a function rules may call%s; allowed: %s", name, suggest(name, append(slices.Clone(allowedBuiltins), functionList()...)), functionNames())
	case noField.MatchString(msg) || unknownName.MatchString(msg):
		path := attemptedPath(msg, raw.source)
		hint := suggest(path, envPaths(raw.target))
		return fmt.Sprintf("unknown field %s%s", path, hint)
	}
	return msg
}

// calledName returns the unknown name of the message when the source calls it as a function.
func calledName(msg, source string) string {
	m := unknownName.FindStringSubmatch(msg)
	if m == nil {
		return ""
	}
	if regexp.MustCompile(`(^|[^A-Za-z0-9_.])` + regexp.QuoteMeta(m[1]) + `\s*\(`).MatchString(source) {
		return m[1]
	}
	return ""
}

func functionList() []string {
	names := make([]string, len(Functions))
	for i, f := range Functions {
		names[i] = f.Name
	}
	return names
}

func functionNames() string {
	return strings.Join(append(functionList(), allowedBuiltins...), ", ")
}

var pathChars = regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_.]*`)

// attemptedPath finds the dotted name in the source that holds the unknown part.
func attemptedPath(msg, source string) string {
	bad := ""
	if m := noField.FindStringSubmatch(msg); m != nil {
		bad = m[1]
	} else if m := unknownName.FindStringSubmatch(msg); m != nil {
		bad = m[1]
	}
	for _, p := range pathChars.FindAllString(source, -1) {
		for _, seg := range strings.Split(p, ".") {
			if seg == bad {
				return p
			}
		}
	}
	return bad
}

// envPaths lists every dotted name a target's rules can read, e.g. "customer.description",
// with the names of the views themselves ("customer").
func envPaths(t *Target) []string {
	out := append([]string(nil), t.envRoots...)
	for _, p := range envPathsTyped(t) {
		out = append(out, p.path)
	}
	return out
}

// converter checks that an expression's static type fits a field and returns how to convert a
// value. An expression whose type cannot be known is refused, so that a wrong type is a load
// error, never a failure in the middle of a sync.
func converter(got reflect.Type, want Kind) (func(any) (any, error), error) {
	wantType := kindTypes[want]
	if got == nil || got.Kind() == reflect.Interface {
		return nil, fmt.Errorf("the type of this expression cannot be known when the file loads; the field needs %s", describe(want))
	}
	switch {
	case got == wantType:
		return func(v any) (any, error) { return v, nil }, nil
	case want == KindDecimal && isInt(got):
		return func(v any) (any, error) { return decimalOfInt(v), nil }, nil
	case want == KindInt && isInt(got):
		return func(v any) (any, error) { return int(reflect.ValueOf(v).Int()), nil }, nil
	}
	return nil, fmt.Errorf("the expression gives %s, but the field needs %s", typeName(got), describe(want))
}

func isInt(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return true
	}
	return false
}

func describe(k Kind) string {
	switch k {
	case KindDecimal:
		return "a decimal (use dec(\"1.5\") for constants)"
	case KindTime:
		return "a time"
	case KindInt:
		return "a whole number"
	case KindBool:
		return "true or false (a comparison, such as line.vatRate == dec(0))"
	}
	return "text"
}

func typeName(t reflect.Type) string {
	switch {
	case t == kindTypes[KindDecimal]:
		return "a decimal"
	case t == kindTypes[KindTime]:
		return "a time"
	case t.Kind() == reflect.String:
		return "text"
	case t.Kind() == reflect.Bool:
		return "true/false"
	case isInt(t):
		return "a whole number"
	case t.Kind() == reflect.Float64:
		return "a binary floating-point number (not exact; use dec())"
	}
	return t.String()
}
