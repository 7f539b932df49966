package mapping

import (
	"errors"
	"fmt"
	"reflect"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/checker"
	"github.com/expr-lang/expr/checker/nature"
	"github.com/expr-lang/expr/compiler"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"
)

// compileStrict is expr.Compile with the differences that matter here.
//
// When patchers run (the decimal operators, the sandbox), expr type-checks the tree once per patch
// pass and keeps the result types it set on call nodes; its final check then trusts those and skips
// the calls' arguments, so `cents(product.prize)` would load and fail only when run. Clearing every
// node's type before the final check makes it look at every node, so a misspelled name inside a
// call is a load error like any other.
//
// What a rule can build or spend is bounded: constructs that cannot be bounded are refused before
// anything looks at them (refuse), and once the rule is checked every call, text concatenation and
// range is replaced by a version that charges the running check (binder). The optimizer stays off:
// it rewrites `x in 1..2` by copying x into two comparisons, so nested ranges made trees, and
// compile time, grow exponentially with the length of a rule.
//
// It returns the program, what one run of it costs besides the calls it makes, and the rule
// compiled to closures when they cover it (see direct.go), for the environment struct env.
func compileStrict(input string, env reflect.Type, ops ...expr.Option) (*vm.Program, int, *compiled, error) {
	config := conf.CreateNew()
	for _, op := range ops {
		op(config)
	}
	for name := range config.Disabled {
		delete(config.Builtins, name)
	}
	config.Check()

	tree, err := parser.ParseWithConfig(input, config)
	if err != nil {
		return nil, 0, nil, err
	}
	if err := refuse(tree); err != nil {
		return nil, 0, nil, bindError(err, tree)
	}
	if _, err := new(checker.Checker).PatchAndCheck(tree, config); err != nil {
		return nil, 0, nil, bindError(err, tree)
	}
	ast.Walk(&tree.Node, resetTypes{})
	if _, err := new(checker.Checker).Check(tree, config); err != nil {
		return nil, 0, nil, bindError(err, tree)
	}
	ast.Walk(&tree.Node, &binder{})
	if _, err := new(checker.Checker).Check(tree, config); err != nil {
		return nil, 0, nil, fmt.Errorf("the rule could not be bounded: %w", bindError(err, tree))
	}
	var cost costOf
	ast.Walk(&tree.Node, &cost)
	prog, err := compiler.Compile(tree, config)
	if err != nil {
		return nil, 0, nil, err
	}
	c := closures{cache: &config.NtCache, env: config.Env, typ: env}
	if x, ok := c.compile(tree.Node); ok {
		return prog, int(cost), &x, nil
	}
	return prog, int(cost), nil, nil
}

type resetTypes struct{}

func (resetTypes) Visit(node *ast.Node) { (*node).SetNature(nature.Nature{}) }

func bindError(err error, tree *parser.Tree) error {
	var fe *file.Error
	if errors.As(err, &fe) && fe.Line == 0 {
		return fe.Bind(tree.Source)
	}
	return err
}

// refuse finds what a rule must not use, before the checker sees it: the checker compiles a
// constant pattern of `matches`, and a pattern of a couple thousand characters can compile to a
// program of millions of steps per letter of the text it is matched against.
func refuse(tree *parser.Tree) error {
	r := refuser{}
	ast.Walk(&tree.Node, &r)
	return r.err
}

type refuser struct{ err error }

func (r *refuser) Visit(node *ast.Node) {
	if b, ok := (*node).(*ast.BinaryNode); ok && b.Operator == "matches" && r.err == nil {
		r.err = &file.Error{Location: b.Location(), Message: "matches is not allowed in rules: a pattern can take minutes on a long text; use hasPrefix, hasSuffix, indexOf or contains"}
	}
}

// binder replaces, in a checked tree, every call of a function and builtin that builds text or
// lists with its bounded version, called with the environment first so it finds the check's meter
// (see meterOf); + on texts, or on values only known when the rule runs, with textAdd or valueAdd;
// and a..b with range. The tree is checked again afterwards.
type binder struct{}

var boundedBuiltins = func() map[string]bool {
	out := map[string]bool{}
	for _, f := range builtins {
		out[f.name] = true
	}
	return out
}()

var boundedFunctions = func() map[string]bool {
	out := map[string]bool{}
	decFns, _ := decimalOperators()
	for _, f := range append(functions, decFns...) {
		out[f.name] = true
	}
	return out
}()

func (binder) Visit(node *ast.Node) {
	var name string
	var args []ast.Node
	switch n := (*node).(type) {
	case *ast.CallNode:
		id, ok := n.Callee.(*ast.IdentifierNode)
		if !ok || !boundedFunctions[id.Value] {
			return
		}
		name, args = id.Value, n.Arguments
	case *ast.BuiltinNode:
		if !boundedBuiltins[n.Name] {
			return
		}
		name, args = n.Name, n.Arguments
	case *ast.BinaryNode:
		switch {
		case n.Operator == "..":
			name = numberRange
		case n.Operator == "+" && isText(n.Type()):
			name = textAdd
		case n.Operator == "+" && isUnknown(n.Type()):
			name = valueAdd
		default:
			return
		}
		args = []ast.Node{n.Left, n.Right}
	default:
		return
	}
	env := &ast.IdentifierNode{Value: "$env"}
	env.SetLocation((*node).Location())
	callee := &ast.IdentifierNode{Value: boundedName(name)}
	callee.SetLocation((*node).Location())
	call := &ast.CallNode{Callee: callee, Arguments: append([]ast.Node{env}, args...)}
	call.SetLocation((*node).Location())
	call.SetNature(*(*node).Nature()) // so a + around this one sees its type
	*node = call
}

func isText(t reflect.Type) bool    { return t != nil && t.Kind() == reflect.String }
func isUnknown(t reflect.Type) bool { return t == nil || t.Kind() == reflect.Interface }

// costOf adds up what one run of a checked rule costs besides its calls: every node is evaluated at
// most once (rules have no loops) and boxes a value of its type.
type costOf int

func (c *costOf) Visit(node *ast.Node) {
	size := 16
	if t := (*node).Type(); t != nil {
		size = max(size, int(t.Size()))
	}
	*c += costOf(nodeCost + size)
}
