package mapping_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// TestShippedMappingsFitTheSchema checks every shipped mapping file against mappings/schema.json,
// the schema editors use: a schema that refused a file the service loads would put red marks on a
// correct file. The schema must also refuse what the service refuses; one such file is checked.
// Mutation that makes it fail: rule values typed as strings only (a bare 0 is a YAML number).
func TestShippedMappingsFitTheSchema(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../mappings/schema.json")
	require.NoError(t, err)
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	require.NoError(t, err)
	c := jsonschema.NewCompiler()
	require.NoError(t, c.AddResource("schema.json", doc))
	schema, err := c.Compile("schema.json")
	require.NoError(t, err)

	instance := func(src []byte) any {
		var v any
		require.NoError(t, yaml.Unmarshal(src, &v))
		b, err := json.Marshal(v)
		require.NoError(t, err)
		out, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		require.NoError(t, err)
		return out
	}
	files, err := filepath.Glob("../../mappings/*/*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		src, err := os.ReadFile(f)
		require.NoError(t, err)
		require.NoError(t, schema.Validate(instance(src)), f)
		// Editors with the YAML language server offer completion from this first line.
		require.True(t, bytes.HasPrefix(src, []byte("# yaml-language-server: $schema=../schema.json\n")), "%s does not start with the schema header", f)
	}

	src, err := os.ReadFile(files[0])
	require.NoError(t, err)
	bad := bytes.Replace(src, []byte("\n  order_line:"), []byte("\n  order_lines:"), 1)
	require.Error(t, schema.Validate(instance(bad)), "a misspelt target")
}
