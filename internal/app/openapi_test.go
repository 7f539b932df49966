package app_test

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/require"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/handybind/handybind/internal/testdb"
)

// TestOpenAPI3DescribesEveryRoute loads the served /openapi.json with a validating OpenAPI 3
// library, and checks that every REST route the protos declare is in it with its method, and that
// the bearer scheme is required. The Swagger 2.0 document stays at /swagger.json.
func TestOpenAPI3DescribesEveryRoute(t *testing.T) {
	t.Parallel()
	h := startServer(t, testConfig(t, testdb.SQLite(t)))
	res, err := http.Get(h.rest + "/openapi.json")
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	doc, err := openapi3.NewLoader().LoadFromIoReader(res.Body)
	require.NoError(t, err)
	require.NoError(t, doc.Validate(context.Background()))
	require.Equal(t, "3.0.3", doc.OpenAPI)
	scheme := doc.Components.SecuritySchemes["bearer"].Value
	require.Equal(t, "http", scheme.Type)
	require.Equal(t, "bearer", scheme.Scheme)
	require.Equal(t, "bearer", func() string {
		for name := range doc.Security[0] {
			return name
		}
		return ""
	}())

	// Every google.api.http rule of the handybind services, as OpenAPI spells its path.
	param := regexp.MustCompile(`\{([a-z_.]+)(=[^}]*)?\}`)
	camel := func(s string) string {
		parts := strings.Split(s, "_")
		for i := 1; i < len(parts); i++ {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
		return strings.Join(parts, "")
	}
	routes := 0
	protoregistry.GlobalFiles.RangeFilesByPackage("handybind.v1", func(fd protoreflect.FileDescriptor) bool {
		for i := range fd.Services().Len() {
			methods := fd.Services().Get(i).Methods()
			for j := range methods.Len() {
				m := methods.Get(j)
				rule, ok := proto.GetExtension(m.Options(), annotations.E_Http).(*annotations.HttpRule)
				if !ok || rule == nil {
					continue
				}
				verb, path := "", ""
				switch p := rule.GetPattern().(type) {
				case *annotations.HttpRule_Get:
					verb, path = http.MethodGet, p.Get
				case *annotations.HttpRule_Post:
					verb, path = http.MethodPost, p.Post
				case *annotations.HttpRule_Patch:
					verb, path = http.MethodPatch, p.Patch
				case *annotations.HttpRule_Delete:
					verb, path = http.MethodDelete, p.Delete
				case *annotations.HttpRule_Put:
					verb, path = http.MethodPut, p.Put
				}
				path = param.ReplaceAllStringFunc(path, func(s string) string {
					return "{" + camel(param.FindStringSubmatch(s)[1]) + "}"
				})
				item := doc.Paths.Find(path)
				require.NotNil(t, item, "%s %s (%s) is not in the OpenAPI 3 document", verb, path, m.FullName())
				require.NotNil(t, item.GetOperation(verb), "%s %s (%s) has no operation", verb, path, m.FullName())
				routes++
			}
		}
		return true
	})
	require.Greater(t, routes, 15, "the walk found the routes")

	old, err := http.Get(h.rest + "/swagger.json")
	require.NoError(t, err)
	old.Body.Close()
	require.Equal(t, http.StatusOK, old.StatusCode)
}
