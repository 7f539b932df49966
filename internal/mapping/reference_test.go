package mapping_test

import (
	"flag"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/handybind/handybind/internal/mapping"
)

var update = flag.Bool("update", false, "rewrite the generated reference and schema")

// TestReferenceIsCurrent keeps docs/mapping-reference.md and mappings/schema.json equal to what
// the code generates; run with -update after changing targets or functions.
func TestReferenceIsCurrent(t *testing.T) {
	for path, want := range map[string][]byte{
		"../../docs/mapping-reference.md": []byte(mapping.Reference()),
		"../../mappings/schema.json":      mapping.JSONSchema(),
	} {
		if *update {
			require.NoError(t, os.WriteFile(path, want, 0o644))
			continue
		}
		got, err := os.ReadFile(path)
		require.NoError(t, err, "run: go test ./internal/mapping -run TestReferenceIsCurrent -update")
		require.Equal(t, string(want), string(got), "%s is stale; run: go test ./internal/mapping -run TestReferenceIsCurrent -update", path)
	}
}
