package mapping

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// APIVersion is the only file format this build reads.
const APIVersion = "handybind.dev/mapping/v1"

// Problem is one thing wrong with a mapping source, at a position in it.
type Problem struct {
	Line    int    `json:"line"`
	Column  int    `json:"column,omitempty"`
	Rule    string `json:"rule,omitempty"` // target.Field, when the problem is in a rule
	Message string `json:"message"`
}

func (p Problem) String() string {
	where := fmt.Sprintf("line %d", p.Line)
	if p.Column > 0 {
		where += fmt.Sprintf(", column %d", p.Column)
	}
	if p.Rule != "" {
		where += " (" + p.Rule + ")"
	}
	return where + ": " + p.Message
}

// rawRule is a rule as written, before compilation.
type rawRule struct {
	target *Target
	field  Field
	source string
	node   *yaml.Node
}

// rawTest is a test case as written.
type rawTest struct {
	name   string
	target *Target
	input  []byte // JSON of the environment
	expect []expectation
	line   int
}

type expectation struct {
	field string
	value string
	line  int
	col   int
}

// parsed is a mapping file after reading, before compiling.
type parsed struct {
	apiVersion, name, version, description string
	rules                                  []rawRule
	tests                                  []rawTest
}

var (
	namePattern    = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)
	versionPattern = regexp.MustCompile(`^v[1-9][0-9]{0,5}$`)
)

// identity is what a source published through the API must be: its name, and the version it
// gets, which its version line may leave out. A draft (a source checked before it is published)
// may have any name and leave its version line out.
type identity struct {
	name, version string
	draft         bool
}

// Draft is the version of a source checked without a version line: publishing gives the number.
const Draft = "draft"

// parse reads a mapping file's structure, reporting every problem it finds. want, when not nil,
// is the identity the source must have.
func parse(src []byte, want *identity) (*parsed, []Problem) {
	var probs []Problem
	add := func(n *yaml.Node, rule, format string, args ...any) {
		p := Problem{Rule: rule, Message: fmt.Sprintf(format, args...)}
		if n != nil {
			p.Line, p.Column = n.Line, n.Column
		}
		probs = append(probs, p)
	}
	if p := scanSource(src); p != nil {
		return nil, []Problem{*p}
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(src))
	if err := dec.Decode(&doc); err != nil {
		return nil, []Problem{yamlProblem(err)}
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, []Problem{{Line: 1, Message: "the file must be a YAML mapping with apiVersion, name, version, rules and tests"}}
	}
	root := doc.Content[0]
	p := &parsed{}
	seen := map[string]bool{}
	for i := 0; i+1 < len(root.Content) && len(probs) <= maxProblems; i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if seen[k.Value] {
			add(k, "", "%q appears twice", short(k.Value))
			continue
		}
		seen[k.Value] = true
		switch k.Value {
		case "apiVersion", "name", "version", "description":
			if v.Kind != yaml.ScalarNode {
				add(v, "", "%s must be text", k.Value)
				continue
			}
			*map[string]*string{"apiVersion": &p.apiVersion, "name": &p.name, "version": &p.version, "description": &p.description}[k.Value] = v.Value
		case "rules":
			probs = append(probs, p.parseRules(k, v)...)
		case "tests":
			probs = append(probs, p.parseTests(v)...)
		default:
			add(k, "", "unknown key %q%s; the keys are apiVersion, name, version, description, rules, tests", short(k.Value), suggest(k.Value, []string{"apiVersion", "name", "version", "description", "rules", "tests"}))
		}
	}
	switch {
	case p.apiVersion == "":
		add(root, "", "apiVersion is missing; it must be %q", APIVersion)
	case p.apiVersion != APIVersion:
		add(nodeFor(root, "apiVersion"), "", "apiVersion %q is not supported; this build reads %q", short(p.apiVersion), APIVersion)
	}
	if !namePattern.MatchString(p.name) {
		add(nodeOr(root, "name"), "", "name %q must be lowercase letters, digits and dashes, such as handy-bind", short(p.name))
	}
	if want != nil && want.draft {
		if !seen["version"] {
			p.version = Draft
		}
	} else if want != nil {
		if !seen["name"] {
			p.name = want.name
		}
		if p.name != want.name {
			add(nodeFor(root, "name"), "", "the source is named %q but is published as a version of %s; make them the same", short(p.name), want.name)
		}
		switch {
		case !seen["version"]:
			p.version = want.version
		case p.version != want.version:
			add(nodeFor(root, "version"), "", "version %q: this source would be %s, the next version of %s; write version: %s or leave the line out", short(p.version), want.version, want.name, want.version)
			p.version = want.version
		}
	}
	if !versionPattern.MatchString(p.version) && !(want != nil && want.draft && p.version == Draft) {
		add(nodeOr(root, "version"), "", "version %q must look like v1, v2, …", short(p.version))
	}
	if !seen["rules"] {
		add(root, "", "rules are missing")
	}
	return p, probs
}

func nodeFor(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func nodeOr(m *yaml.Node, key string) *yaml.Node {
	if n := nodeFor(m, key); n != nil {
		return n
	}
	return m
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

func yamlProblem(err error) Problem {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 1
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
	}
	return Problem{Line: line, Message: "not valid YAML: " + msg}
}

func (p *parsed) parseRules(key, n *yaml.Node) []Problem {
	var probs []Problem
	if n.Kind != yaml.MappingNode {
		return []Problem{{Line: n.Line, Column: n.Column, Message: "rules must map each target to its fields"}}
	}
	targetNames := make([]string, len(Targets))
	for i, t := range Targets {
		targetNames[i] = t.Name
	}
	present := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content) && len(probs) <= maxProblems; i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		t, ok := TargetByName(k.Value)
		if !ok {
			probs = append(probs, Problem{Line: k.Line, Column: k.Column, Message: fmt.Sprintf("unknown target %q%s; the targets are %s", short(k.Value), suggest(k.Value, targetNames), strings.Join(targetNames, ", "))})
			continue
		}
		if present[t.Name] != nil {
			probs = append(probs, Problem{Line: k.Line, Column: k.Column, Message: fmt.Sprintf("target %q appears twice", t.Name)})
			continue
		}
		present[t.Name] = k
		if v.Kind != yaml.MappingNode {
			probs = append(probs, Problem{Line: v.Line, Column: v.Column, Message: fmt.Sprintf("target %q must map field names to expressions", t.Name)})
			continue
		}
		fieldNames := make([]string, len(t.Fields))
		for i, f := range t.Fields {
			fieldNames[i] = f.Name
		}
		has := map[string]bool{}
		for j := 0; j+1 < len(v.Content) && len(probs) <= maxProblems; j += 2 {
			fk, fv := v.Content[j], v.Content[j+1]
			rule := t.Name + "." + short(fk.Value)
			f, ok := t.Field(fk.Value)
			switch {
			case !ok:
				probs = append(probs, Problem{Line: fk.Line, Column: fk.Column, Rule: rule, Message: fmt.Sprintf("%s has no field %q%s; its fields are %s", t.Name, short(fk.Value), suggest(fk.Value, fieldNames), strings.Join(fieldNames, ", "))})
			case has[f.Name]:
				probs = append(probs, Problem{Line: fk.Line, Column: fk.Column, Rule: rule, Message: "this field has a rule already"})
			case fv.Kind != yaml.ScalarNode || fv.Tag == "!!null" || strings.TrimSpace(fv.Value) == "":
				probs = append(probs, Problem{Line: fv.Line, Column: fv.Column, Rule: rule, Message: "the rule must be one expression"})
			default:
				has[f.Name] = true
				// The value is always an expression, however YAML quotes it; text constants are
				// quoted inside it: RFC: "'XAXX010101000'".
				p.rules = append(p.rules, rawRule{target: t, field: f, source: fv.Value, node: fv})
			}
		}
		for _, f := range t.Fields {
			if f.Required && !has[f.Name] {
				probs = append(probs, Problem{Line: k.Line, Column: k.Column, Rule: t.Name + "." + f.Name, Message: fmt.Sprintf("%s needs a rule for %s (%s), which Bind requires", t.Name, f.Name, f.Kind)})
			}
		}
	}
	for _, t := range Targets {
		if present[t.Name] == nil {
			probs = append(probs, Problem{Line: key.Line, Column: key.Column, Message: fmt.Sprintf("target %q is missing: %s", t.Name, t.Doc)})
		}
	}
	return probs
}

func (p *parsed) parseTests(n *yaml.Node) []Problem {
	var probs []Problem
	if n.Kind != yaml.SequenceNode {
		return []Problem{{Line: n.Line, Column: n.Column, Message: "tests must be a list of test cases"}}
	}
	if len(n.Content) > maxTests {
		return []Problem{{Line: n.Line, Column: n.Column, Message: fmt.Sprintf("the file has %d test cases; the limit is %d", len(n.Content), maxTests)}}
	}
	names := map[string]bool{}
	inputs := 0          // bytes of JSON of the inputs so far
	var buf bytes.Buffer // each input is written here, then copied: the buffer grows once
	for _, tc := range n.Content {
		if len(probs) > maxProblems {
			break
		}
		if tc.Kind != yaml.MappingNode {
			probs = append(probs, Problem{Line: tc.Line, Column: tc.Column, Message: "a test case must have name, target, input and expect"})
			continue
		}
		rt := rawTest{line: tc.Line}
		var input, expect *yaml.Node
		for i := 0; i+1 < len(tc.Content); i += 2 {
			k, v := tc.Content[i], tc.Content[i+1]
			switch k.Value {
			case "name":
				rt.name = v.Value
			case "target":
				t, ok := TargetByName(v.Value)
				if !ok {
					probs = append(probs, Problem{Line: v.Line, Column: v.Column, Message: fmt.Sprintf("test target %q is not a target", short(v.Value))})
					continue
				}
				rt.target = t
			case "input":
				input = v
			case "expect":
				expect = v
			default:
				probs = append(probs, Problem{Line: k.Line, Column: k.Column, Message: fmt.Sprintf("unknown key %q in a test case; use name, target, input, expect", short(k.Value))})
			}
		}
		switch {
		case rt.name == "":
			probs = append(probs, Problem{Line: tc.Line, Column: tc.Column, Message: "a test case needs a name"})
			continue
		case names[rt.name]:
			probs = append(probs, Problem{Line: tc.Line, Column: tc.Column, Message: fmt.Sprintf("test %q appears twice", short(rt.name))})
			continue
		case rt.target == nil || input == nil || expect == nil || expect.Kind != yaml.MappingNode:
			probs = append(probs, Problem{Line: tc.Line, Column: tc.Column, Message: fmt.Sprintf("test %q needs a target, an input and an expect mapping", short(rt.name))})
			continue
		}
		names[rt.name] = true
		buf.Reset()
		limit := min(maxInputJSON, maxTestsInput-inputs)
		err := nodeJSON(&buf, input, 0, limit)
		if err == nil && buf.Len() > limit {
			err = fmt.Errorf("the input is larger than %s once its aliases are expanded", sizeText(limit))
		}
		inputs += buf.Len() // inputs refused count too: each was written up to its limit
		switch {
		case err != nil && buf.Len() > limit && limit < maxInputJSON:
			probs = append(probs, Problem{Line: input.Line, Column: input.Column, Message: fmt.Sprintf("the test inputs are larger than %s in all once their aliases are expanded", sizeText(maxTestsInput))})
		case err != nil:
			probs = append(probs, Problem{Line: input.Line, Column: input.Column, Message: fmt.Sprintf("test %q: %v", short(rt.name), err)})
		}
		if inputs > maxTestsInput {
			break
		}
		if err != nil {
			continue
		}
		rt.input = bytes.Clone(buf.Bytes())
		for i := 0; i+1 < len(expect.Content); i += 2 {
			k, v := expect.Content[i], expect.Content[i+1]
			if _, ok := rt.target.Field(k.Value); !ok {
				probs = append(probs, Problem{Line: k.Line, Column: k.Column, Message: fmt.Sprintf("test %q expects %s.%s, which is not a field", short(rt.name), rt.target.Name, short(k.Value))})
				continue
			}
			rt.expect = append(rt.expect, expectation{field: k.Value, value: v.Value, line: v.Line, col: v.Column})
		}
		p.tests = append(p.tests, rt)
	}
	return probs
}

// nodeJSON writes a YAML node as JSON, keeping numbers as written so decimals stay exact. YAML
// aliases can make a few lines stand for gigabytes ("billion laughs"), so the JSON written is
// bounded in size (limit bytes) and depth.
func nodeJSON(w *bytes.Buffer, n *yaml.Node, depth, limit int) error {
	if w.Len() > limit {
		return fmt.Errorf("the input is larger than %s once its aliases are expanded", sizeText(limit))
	}
	if depth > maxInputDepth {
		return fmt.Errorf("line %d: the input nests deeper than %d levels", n.Line, maxInputDepth)
	}
	switch n.Kind {
	case yaml.MappingNode:
		w.WriteByte('{')
		for i := 0; i+1 < len(n.Content); i += 2 {
			if i > 0 {
				w.WriteByte(',')
			}
			k, _ := json.Marshal(n.Content[i].Value)
			w.Write(k)
			w.WriteByte(':')
			if err := nodeJSON(w, n.Content[i+1], depth+1, limit); err != nil {
				return err
			}
		}
		w.WriteByte('}')
	case yaml.SequenceNode:
		w.WriteByte('[')
		for i, c := range n.Content {
			if i > 0 {
				w.WriteByte(',')
			}
			if err := nodeJSON(w, c, depth+1, limit); err != nil {
				return err
			}
		}
		w.WriteByte(']')
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!int", "!!float":
			if _, err := strconv.ParseFloat(n.Value, 64); err != nil {
				return fmt.Errorf("line %d: %q is not a number JSON can carry", n.Line, short(n.Value))
			}
			w.WriteString(n.Value)
		case "!!bool":
			w.WriteString(strings.ToLower(n.Value))
		case "!!null":
			w.WriteString("null")
		default:
			s, _ := json.Marshal(n.Value)
			w.Write(s)
		}
	case yaml.AliasNode:
		return nodeJSON(w, n.Alias, depth+1, limit)
	default:
		return fmt.Errorf("line %d: unsupported YAML", n.Line)
	}
	return nil
}

// suggest returns ` (did you mean "x"?)` for the closest candidate, or "".
func suggest(got string, candidates []string) string {
	if len(got) > maxShownInErrors {
		return "" // no name is that long; comparing would cost its length times every candidate's
	}
	best, bestD := "", 1<<30
	for _, c := range candidates {
		if d := distance(strings.ToLower(got), strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	if best == "" || bestD > max(2, len(got)/3) {
		return ""
	}
	return fmt.Sprintf(" (did you mean %s?)", best)
}

// distance is the Levenshtein distance.
func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev, cur := make([]int, len(rb)+1), make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
