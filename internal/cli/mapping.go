package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/handybind/handybind/gen/handybind/v1"
	"github.com/handybind/handybind/internal/mapping"
)

// errReported is returned after the problems were printed, so Main exits non-zero without
// printing them again.
var errReported = errors.New("problems reported above")

func newMappingCommand(stdout io.Writer) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "mapping",
		Short: "Check, test and try mapping files; publish them and compare versions through the API",
	}
	cmd.PersistentFlags().BoolVar(&asJSON, "json", false, "print JSON for tools instead of text")

	load := func(path string) (*mapping.Mapping, []mapping.Problem, error) {
		src, err := os.ReadFile(path)
		if err != nil {
			return nil, nil, err
		}
		m, err := mapping.CompileDraft(path, src)
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

	cmd.AddCommand(validate, test, preview, newMappingPushCommand(stdout, &asJSON), newMappingDiffCommand(stdout, &asJSON))
	return cmd
}

// newMappingPushCommand publishes a file through a running service's API.
func newMappingPushCommand(stdout io.Writer, asJSON *bool) *cobra.Command {
	var api apiFlags
	var family string
	push := &cobra.Command{
		Use:   "push FILE --mapping handy-bind",
		Short: "Publish a mapping file as the next version, through the API (key in " + EnvPrefix + "API_KEY)",
		Long: "Publish a mapping file as the next version of a mapping through a running service. The service\n" +
			"compiles it and runs its tests first; when either fails nothing is stored and the problems are\n" +
			"printed at their lines. The version line may be left out: the service gives the next number.\n" +
			"A partner's or integrator's key publishes for its tenant; a platform key publishes a global version.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			src, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			conn, err := api.dial()
			if err != nil {
				return err
			}
			defer conn.Close()
			m, err := pb.NewMappingServiceClient(conn).CreateMappingVersion(cmd.Context(), &pb.CreateMappingVersionRequest{Mapping: family, Source: string(src)})
			if err != nil {
				st := status.Convert(err)
				var lines []string
				for _, d := range st.Details() {
					if br, ok := d.(*errdetails.BadRequest); ok {
						for _, v := range br.GetFieldViolations() {
							// "line 12, column 5: …" becomes FILE:12:5: …, as compilers print it.
							lines = append(lines, problemLine(args[0], v.GetDescription()))
						}
					}
				}
				if len(lines) == 0 || st.Code() != codes.InvalidArgument {
					return apiError(err)
				}
				if *asJSON {
					b, _ := json.MarshalIndent(map[string]any{"published": false, "problems": lines}, "", "  ")
					fmt.Fprintln(stdout, string(b))
				} else {
					fmt.Fprintln(stdout, strings.Join(lines, "\n"))
					fmt.Fprintf(stdout, "%s was not published\n", args[0])
				}
				return errReported
			}
			if *asJSON {
				m.Source = "" // the file the caller just sent
				return printProto(stdout, m)
			}
			scope := "tenant " + m.GetTenant()
			if m.GetTenant() == "" {
				scope = "global"
			}
			fmt.Fprintf(stdout, "published %s %s (%s), checksum %s\n", m.GetName(), m.GetVersion(), scope, m.GetChecksum()[:12])
			return nil
		},
	}
	api.register(push)
	push.Flags().StringVar(&family, "mapping", "handy-bind", "the mapping the file is a version of")
	return push
}

var problemPosition = regexp.MustCompile(`^line (\d+)(?:, column (\d+))?(?: \(([^)]*)\))?: `)

// problemLine writes a problem the service found in a pushed file as FILE:LINE[:COL]: message.
func problemLine(path, desc string) string {
	m := problemPosition.FindStringSubmatch(desc)
	if m == nil {
		return path + ": " + desc
	}
	where := path + ":" + m[1]
	if m[2] != "" {
		where += ":" + m[2]
	}
	if m[3] != "" {
		where += ": [" + m[3] + "]"
	}
	return where + ": " + desc[len(m[0]):]
}

// exitRefusals is mapping diff's exit status when the candidate would refuse sales the pinned
// version sends; 1 stays for a diff that could not be made (no service, a bad key, no version).
const exitRefusals = 2

// newRefusals fails a dry run in which the candidate would refuse sales that the pinned version
// sends, so that a script switching versions stops there. Changed fields are what a new version is
// for, and a sale both refuse is no worse for the switch: neither fails it.
func newRefusals(res *pb.CompareMappingResponse) error {
	var ids []string
	for _, sc := range res.GetSales() {
		if sc.GetCandidateRefusal() != "" && sc.GetPinnedRefusal() == "" {
			ids = append(ids, sc.GetHandySaleId())
		}
	}
	if len(ids) == 0 {
		return nil
	}
	return exitCode{exitRefusals, fmt.Errorf("%s would refuse %d sale(s) that %s sends: %s", res.GetCandidateVersion(), len(ids), res.GetPinnedVersion(), strings.Join(ids, ", "))}
}

// newMappingDiffCommand prints a dry run of a candidate version on a connection's recent sales.
func newMappingDiffCommand(stdout io.Writer, asJSON *bool) *cobra.Command {
	var api apiFlags
	var connectionID, version string
	var sample int32
	diff := &cobra.Command{
		Use:   "diff --connection ID --version vN",
		Short: "Show what a mapping version would change in a connection's most recent sales, before switching to it",
		Long: "Map a connection's most recent sales already in Bind (read again from Handy) with its pinned\n" +
			"version and with --version, and print each field that would differ with the rule behind the new\n" +
			"value, and the sales the new version would refuse. Nothing is written anywhere. Exits with 2 when\n" +
			"the new version would refuse a sale the pinned one sends, with 1 when the diff cannot be made.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			conn, err := api.dial()
			if err != nil {
				return err
			}
			defer conn.Close()
			res, err := pb.NewConnectionServiceClient(conn).CompareMapping(cmd.Context(), &pb.CompareMappingRequest{Id: connectionID, Version: version, SampleSize: sample})
			if err != nil {
				return apiError(err)
			}
			if *asJSON {
				if err := printProto(stdout, res); err != nil {
					return err
				}
				return newRefusals(res)
			}
			fmt.Fprintf(stdout, "%s → %s on %d sale(s); %d unchanged\n", res.GetPinnedVersion(), res.GetCandidateVersion(), len(res.GetSales()), res.GetUnchangedCount())
			if len(res.GetSales()) == 0 {
				// Nothing compared is not "nothing changes".
				fmt.Fprintln(stdout, "nothing was compared: the connection has no sales in Bind yet; try the version with mapping preview")
			}
			for _, sc := range res.GetSales() {
				fmt.Fprintf(stdout, "\nsale %s (Bind order %s)\n", sc.GetHandySaleId(), sc.GetBindOrderId())
				switch {
				case sc.GetError() != "":
					fmt.Fprintf(stdout, "  not compared: %s\n", sc.GetError())
					continue
				case sc.GetCandidateRefusal() != "":
					fmt.Fprintf(stdout, "  %s would refuse it: %s\n", res.GetCandidateVersion(), sc.GetCandidateRefusal())
				}
				if sc.GetPinnedRefusal() != "" {
					fmt.Fprintf(stdout, "  %s would refuse it today: %s\n", res.GetPinnedVersion(), sc.GetPinnedRefusal())
				}
				if len(sc.GetChanges()) == 0 && sc.GetCandidateRefusal() == "" {
					fmt.Fprintln(stdout, "  unchanged")
				}
				for _, ch := range sc.GetChanges() {
					// A version without a rule for a field leaves it at Bind's default.
					old, nw := ch.GetOldValueJson(), ch.GetNewValueJson()
					if old == "" {
						old = "(no rule in " + res.GetPinnedVersion() + ")"
					}
					if nw == "" {
						nw = "(no rule in " + res.GetCandidateVersion() + ")"
					}
					fmt.Fprintf(stdout, "  %s: %s → %s", ch.GetPath(), old, nw)
					if ch.GetRule() != "" {
						fmt.Fprintf(stdout, "   ← %s (line %d)", strings.Join(strings.Fields(ch.GetRule()), " "), ch.GetLine())
					}
					fmt.Fprintln(stdout)
				}
			}
			return newRefusals(res)
		},
	}
	api.register(diff)
	diff.Flags().StringVar(&connectionID, "connection", "", "the connection's id")
	diff.Flags().StringVar(&version, "version", "", "the candidate version, such as v3")
	diff.Flags().Int32Var(&sample, "sample", 10, "how many of the most recent sales to compare (at most 50)")
	_ = diff.MarkFlagRequired("connection")
	_ = diff.MarkFlagRequired("version")
	return diff
}
