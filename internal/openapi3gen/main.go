// Command openapi3gen writes the OpenAPI 3 document of the REST API from the Swagger 2.0 one that
// protoc-gen-openapiv2 generates (scripts/gen-proto runs it; CI checks that the result is fresh).
// The API key is described as what it is: an HTTP bearer token.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi2conv"
	"github.com/getkin/kin-openapi/openapi3"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: openapi3gen SWAGGER2.json OPENAPI3.json")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "openapi3gen:", err)
		os.Exit(1)
	}
}

func run(in, out string) error {
	src, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	var v2 openapi2.T
	if err := json.Unmarshal(src, &v2); err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	v3, err := openapi2conv.ToV3(&v2)
	if err != nil {
		return err
	}
	mergeDottedParams(v3)
	v3.Components.SecuritySchemes = openapi3.SecuritySchemes{
		"bearer": &openapi3.SecuritySchemeRef{Value: openapi3.NewJWTSecurityScheme().
			WithDescription("An API key made with `handybind keys create`, sent as `Authorization: Bearer <key>`.").
			WithBearerFormat("hbk_<id>_<secret>")},
	}
	v3.Servers = openapi3.Servers{{URL: "/", Description: "the service's HTTP port"}}
	b, err := json.MarshalIndent(v3, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(out, append(b, '\n'), 0o644)
}

// dotted is a path parameter that names a field of the body (PATCH /v1/connections/{connection.id}).
var dotted = regexp.MustCompile(`\{[A-Za-z_]+\.([A-Za-z_]+)\}`)

// mergeDottedParams names such a parameter by its last part, so that the path is the one the URL
// has (/v1/connections/{id}) and OpenAPI 3 sees one path, not two that clash.
func mergeDottedParams(doc *openapi3.T) {
	for path, item := range doc.Paths.Map() {
		if !dotted.MatchString(path) {
			continue
		}
		renamed := map[string]string{}
		for _, m := range dotted.FindAllStringSubmatch(path, -1) {
			renamed[strings.Trim(m[0], "{}")] = m[1]
		}
		for _, op := range item.Operations() {
			for _, p := range op.Parameters {
				if to, ok := renamed[p.Value.Name]; ok && p.Value.In == "path" {
					p.Value.Name = to
				}
			}
		}
		newPath := dotted.ReplaceAllString(path, "{$1}")
		doc.Paths.Delete(path)
		target := doc.Paths.Value(newPath)
		if target == nil {
			doc.Paths.Set(newPath, item)
			continue
		}
		for method, op := range item.Operations() {
			target.SetOperation(method, op)
		}
	}
}
