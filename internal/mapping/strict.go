package mapping

import (
	"errors"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/checker"
	"github.com/expr-lang/expr/checker/nature"
	"github.com/expr-lang/expr/compiler"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/optimizer"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"
)

// compileStrict is expr.Compile with one difference that matters here. When patchers run (the
// decimal operators, the sandbox), expr type-checks the tree once per patch pass and keeps the
// result types it set on call nodes; its final check then trusts those and skips the calls'
// arguments, so `cents(product.prize)` would load and fail only when run. Clearing every node's
// type before the final check makes it look at every node, so a misspelled name inside a call is
// a load error like any other.
func compileStrict(input string, ops ...expr.Option) (*vm.Program, error) {
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
		return nil, err
	}
	if _, err := new(checker.Checker).PatchAndCheck(tree, config); err != nil {
		return nil, bindError(err, tree)
	}
	ast.Walk(&tree.Node, resetTypes{})
	if _, err := new(checker.Checker).Check(tree, config); err != nil {
		return nil, bindError(err, tree)
	}
	if config.Optimize {
		if err := optimizer.Optimize(&tree.Node, config); err != nil {
			return nil, bindError(err, tree)
		}
	}
	return compiler.Compile(tree, config)
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
