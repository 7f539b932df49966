package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/handybind/handybind/internal/mapping"
)

// errReported is returned after the problems were printed, so Main exits non-zero without
// printing them again.
var errReported = errors.New("problems reported above")

func newMappingCommand(stdout io.Writer) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "mapping",
		Short: "Check, test and try mapping files without a server",
	}
	cmd.PersistentFlags().BoolVar(&asJSON, "json", false, "print JSON for tools instead of text")

	load := func(path string) (*mapping.Mapping, []mapping.Problem, error) {
		src, err := os.ReadFile(path)
		if err != nil {
			return nil, nil, err
		}
		m, err := mapping.Compile(path, src)
		var le *mapping.LoadError
		if errors.As(err, &le) {
			return nil, le.Problems, nil
		}
		return m, nil, err
	}
	printJSON := func(v any) {
		b, _ := json.MarshalIndent(v, "", "  ")
		fmt.Fprintln(stdout, string(b))
	}
	printProblems := func(path string, probs []mapping.Problem) {
		for _, p := range probs {
			where := fmt.Sprintf("%s:%d", path, p.Line)
			if p.Column > 0 {
				where += fmt.Sprintf(":%d", p.Column)
			}
			rule := ""
			if p.Rule != "" {
				rule = " [" + p.Rule + "]"
			}
			fmt.Fprintf(stdout, "%s:%s %s\n", where, rule, p.Message)
		}
	}

	var noTests bool
	validate := &cobra.Command{
		Use:   "validate FILE",
		Short: "Compile a mapping file, run its own tests, and report every problem with its line",
		Long: "Compile a mapping file and run its own test cases, as the service does before it uses a version:\n" +
			"a file whose tests fail is not valid (the service would refuse it). --no-tests only compiles.",
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			m, probs, err := load(args[0])
			if err != nil {
				return err
			}
			var failed []mapping.TestResult
			if m != nil && !noTests {
				for _, r := range m.Test() {
					if !r.Passed {
						failed = append(failed, r)
						probs = append(probs, mapping.Problem{Line: r.Line, Message: "test " + r.Name + " fails: " + strings.Join(r.Failures, "; ")})
					}
				}
			}
			valid := m != nil && len(failed) == 0
			if asJSON {
				out := map[string]any{"valid": valid, "problems": probs}
				if m != nil {
					out["name"], out["version"], out["checksum"], out["untestedRules"] = m.Name, m.Version, m.Checksum, m.Untested()
				}
				printJSON(out)
			} else if valid {
				fmt.Fprintf(stdout, "%s: valid (%s %s)\n", args[0], m.Name, m.Version)
				for _, r := range m.Untested() {
					fmt.Fprintf(stdout, "  no test case checks %s\n", r)
				}
			} else {
				printProblems(args[0], probs)
			}
			if !valid {
				return errReported
			}
			return nil
		},
	}
	validate.Flags().BoolVar(&noTests, "no-tests", false, "only compile; do not run the file's test cases")

	test := &cobra.Command{
		Use:   "test FILE",
		Short: "Run a mapping file's own test cases",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			m, probs, err := load(args[0])
			if err != nil {
				return err
			}
			if m == nil {
				if asJSON {
					printJSON(map[string]any{"passed": false, "problems": probs})
				} else {
					printProblems(args[0], probs)
				}
				return errReported
			}
			results := m.Test()
			failed := 0
			for _, r := range results {
				if !r.Passed {
					failed++
				}
			}
			if asJSON {
				printJSON(map[string]any{"passed": failed == 0, "results": results, "untestedRules": m.Untested()})
			} else {
				for _, r := range results {
					mark := "ok  "
					if !r.Passed {
						mark = "FAIL"
					}
					fmt.Fprintf(stdout, "%s %s (line %d)\n", mark, r.Name, r.Line)
					for _, f := range r.Failures {
						fmt.Fprintf(stdout, "       %s\n", f)
					}
				}
				for _, u := range m.Untested() {
					fmt.Fprintf(stdout, "note: no test case checks %s\n", u)
				}
				fmt.Fprintf(stdout, "%d of %d test cases failed\n", failed, len(results))
			}
			if failed > 0 {
				return errReported
			}
			return nil
		},
	}

	var target, input string
	preview := &cobra.Command{
		Use:   "preview FILE --target order --input record.json",
		Short: "Show the Bind payload a mapping makes of one input record, field by field",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if _, ok := mapping.TargetByName(target); !ok {
				names := make([]string, len(mapping.Targets))
				for i, t := range mapping.Targets {
					names[i] = t.Name
				}
				return fmt.Errorf("--target %q is not one of %s", target, strings.Join(names, ", "))
			}
			m, probs, err := load(args[0])
			if err != nil {
				return err
			}
			if m == nil {
				printProblems(args[0], probs)
				return errReported
			}
			in, err := os.ReadFile(input)
			if err != nil {
				return fmt.Errorf("--input: %w", err)
			}
			payload, fields, err := m.Preview(target, in)
			if err != nil {
				return fmt.Errorf("%s: %w", input, err)
			}
			if asJSON {
				printJSON(map[string]any{"payload": json.RawMessage(payload), "fields": fields})
				return nil
			}
			fmt.Fprintf(stdout, "%s\n\n", payload)
			for _, f := range fields {
				fmt.Fprintf(stdout, "%-24s = %-40s ← %s (line %d)\n", f.Field, mapping.Format(f.Value), f.Rule, f.Line)
			}
			return nil
		},
	}
	preview.Flags().StringVar(&target, "target", "order", "product, client, order, order_line or warehouse")
	preview.Flags().StringVar(&input, "input", "", "JSON file with the input record (the target's environment)")
	_ = preview.MarkFlagRequired("input")

	cmd.AddCommand(validate, test, preview)
	return cmd
}
