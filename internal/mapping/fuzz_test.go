package mapping_test

import (
	"strings"
	"testing"

	"github.com/handybind/handybind/internal/mapping"
)

// FuzzCompile feeds the loader arbitrary mapping files: it must report problems, never panic or
// hang. CI runs it for a short fixed time.
func FuzzCompile(f *testing.F) {
	src := string(v1Source(f))
	f.Add(src)
	f.Add(strings.Replace(src, "Title: product.description", "Title: product.descripton", 1))
	f.Add(strings.Replace(src, "rules:", "rules: [", 1))
	f.Add("apiVersion: handybind.dev/mapping/v1\nname: x\nversion: v1\nrules:\n  product:\n    Title: '(((('\n")
	f.Add("{a: *b}")
	f.Fuzz(func(t *testing.T, src string) {
		m, err := mapping.Compile("mappings/handy-bind/v1.yaml", []byte(src))
		if err == nil {
			_ = m.Test()
			_ = m.Untested()
		}
	})
}
