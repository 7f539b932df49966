package mapping

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
)

// Reference writes the generated part of the file format's documentation: every target with its
// fields and types, the names its rules can read, and the functions. docs/mapping-reference.md is
// this text; a test keeps them equal.
func Reference() string {
	var b strings.Builder
	b.WriteString("# Mapping file reference (generated)\n\n")
	b.WriteString("Generated from the code by `go test ./internal/mapping -run TestReferenceIsCurrent -update`; do not edit.\n")
	b.WriteString("The format itself is explained in [mapping-format.md](mapping-format.md).\n\n")
	b.WriteString("## Targets\n\n")
	for _, t := range Targets {
		fmt.Fprintf(&b, "### `%s`\n\n%s\n\n", t.Name, t.Doc)
		b.WriteString("| field | type | required | meaning |\n|---|---|---|---|\n")
		for _, f := range t.Fields {
			req := ""
			if f.Required {
				req = "yes"
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", f.Name, f.Kind, req, f.Doc)
		}
		b.WriteString("\nRules of this target can read:\n\n")
		for _, p := range envPathsTyped(t) {
			fmt.Fprintf(&b, "- `%s` (%s)\n", p.path, p.kind)
		}
		b.WriteString("\n")
	}
	b.WriteString("## Functions\n\n| function | what it gives |\n|---|---|\n")
	for _, f := range Functions {
		fmt.Fprintf(&b, "| `%s` | %s |\n", f.Signature, f.Doc)
	}
	fmt.Fprintf(&b, "\nAlso allowed, from the expression language: %s.\n", "`"+strings.Join(allowedBuiltins, "`, `")+"`")
	b.WriteString("Decimals support `+ - * /` and comparisons exactly. Nothing else is callable: no clock, no I/O, no methods.\n")
	fmt.Fprintf(&b, "An expression is at most %d characters and %d syntax nodes.\n", maxRuleLength, maxRuleNodes)
	b.WriteString("\n## Limits\n\n")
	b.WriteString("Callers of the API send mapping files too (`ValidateMapping`, `TestMapping`, `PreviewMapping`), so what one file\n")
	b.WriteString("can make the service do is bounded. A file over a limit is refused, and a check that reaches one is stopped,\n")
	b.WriteString("with a message that names the limit.\n\n")
	b.WriteString("| what | limit |\n|---|---|\n")
	fmt.Fprintf(&b, "| a mapping file | %s; %d lines, keys and list items; brackets nested %d deep |\n", sizeText(maxSourceSize), maxSourceItems, maxSourceDepth)
	fmt.Fprintf(&b, "| test cases | %d a file; their inputs %s in all once aliases are expanded, each at most %s and %d levels deep |\n", maxTests, sizeText(maxTestsInput), sizeText(maxInputJSON), maxInputDepth)
	fmt.Fprintf(&b, "| an expression | %d characters, %d syntax nodes, brackets nested %d deep; no `matches` |\n", maxRuleLength, maxRuleNodes, maxRuleDepth)
	fmt.Fprintf(&b, "| a text a rule builds | %s; a list, %d items |\n", sizeText(maxText), maxText/stringCost)
	fmt.Fprintf(&b, "| a decimal | read by `dec`: %d characters, %d digits, an exponent within ±%d; computed: %d digits |\n", maxDecText, maxDecDigits, maxDecExponent, maxResultDigits)
	fmt.Fprintf(&b, "| the characters `trim` removes | %d bytes |\n", maxCutset)
	fmt.Fprintf(&b, "| the layout of `formatDate` | %d bytes |\n", maxLayout)
	fmt.Fprintf(&b, "| a check: a file's tests, or a preview | what its rules build, %s in all, garbage included; %v |\n", sizeText(maxCheckWork), checkTimeout)
	fmt.Fprintf(&b, "| a preview's input | %s, %d order lines |\n", sizeText(maxInputJSON), maxPreviewLines)
	fmt.Fprintf(&b, "| problems reported for a file | the first %d |\n", maxProblems)
	return b.String()
}

type typedPath struct{ path, kind string }

func envPathsTyped(t *Target) []typedPath {
	var out []typedPath
	var walk func(prefix string, typ reflect.Type)
	walk = func(prefix string, typ reflect.Type) {
		for i := range typ.NumField() {
			f := typ.Field(i)
			name := f.Tag.Get("expr")
			if name == "" {
				continue
			}
			path := strings.TrimPrefix(prefix+"."+name, ".")
			if f.Type.Kind() == reflect.Struct && f.Type.PkgPath() == typ.PkgPath() {
				walk(path, f.Type)
				continue
			}
			out = append(out, typedPath{path, kindOf(f.Type)})
		}
	}
	walk("", t.Env)
	return out
}

func kindOf(t reflect.Type) string {
	for k, kt := range kindTypes {
		if kt == t {
			return string(k)
		}
	}
	if isInt(t) {
		return string(KindInt)
	}
	return t.Kind().String()
}

// JSONSchema returns a JSON Schema of the file format for editors (mappings/schema.json).
func JSONSchema() []byte {
	rules := map[string]any{}
	for _, t := range Targets {
		fields := map[string]any{}
		var required []string
		for _, f := range t.Fields {
			// YAML reads a bare 0 or true as a number or a boolean: an expression all the same.
			fields[f.Name] = map[string]any{"type": []string{"string", "number", "boolean"}, "description": fmt.Sprintf("%s (%s): an expression", f.Doc, f.Kind)}
			if f.Required {
				required = append(required, f.Name)
			}
		}
		rules[t.Name] = map[string]any{
			"type": "object", "description": t.Doc, "properties": fields,
			"required": required, "additionalProperties": false,
		}
	}
	targetNames := make([]string, len(Targets))
	for i, t := range Targets {
		targetNames[i] = t.Name
	}
	schema := map[string]any{
		"$schema":              "https://json-schema.org/draft/2020-12/schema",
		"$id":                  "https://handybind.dev/schemas/mapping-v1.json",
		"title":                "handybind mapping file",
		"type":                 "object",
		"required":             []string{"apiVersion", "name", "version", "rules"},
		"additionalProperties": false,
		"properties": map[string]any{
			"apiVersion":  map[string]any{"const": APIVersion},
			"name":        map[string]any{"type": "string", "pattern": namePattern.String()},
			"version":     map[string]any{"type": "string", "pattern": versionPattern.String()},
			"description": map[string]any{"type": "string"},
			"rules": map[string]any{
				"type": "object", "properties": rules, "required": targetNames, "additionalProperties": false,
			},
			"tests": map[string]any{
				"type": "array",
				"items": map[string]any{
					"type": "object", "required": []string{"name", "target", "input", "expect"}, "additionalProperties": false,
					"properties": map[string]any{
						"name":   map[string]any{"type": "string"},
						"target": map[string]any{"enum": targetNames},
						"input":  map[string]any{"type": "object", "description": "the target's environment, as rules name it"},
						"expect": map[string]any{"type": "object", "description": "expected output fields, as text"},
					},
				},
			},
		},
	}
	b, _ := json.MarshalIndent(schema, "", "  ")
	return append(b, '\n')
}
