package mapping_test

import (
	"strings"
	"testing"

	"github.com/handybind/handybind/internal/mapping"
)

// FuzzCompile feeds the loader arbitrary mapping files: it must report problems, never panic or
// hang. CI runs it for a short fixed time.
func FuzzCompile(f *testing.F) {
	// Small seeds keep each run fast, so the fuzzer explores; v1 itself is tested elsewhere.
	src := "apiVersion: handybind.dev/mapping/v1\nname: handy-bind\nversion: v1\nrules:\n  warehouse:\n    Name: coalesce(seller.extras, connection.warehouse)\n" +
		"tests:\n  - name: w\n    target: warehouse\n    input: {seller: {extras: x}}\n    expect: {Name: x}\n"
	f.Add(src)
	f.Add(strings.Replace(src, "seller.extras", "seller.extra", 1))
	f.Add(strings.Replace(src, "rules:", "rules: [", 1))
	f.Add(strings.Replace(src, "coalesce(seller.extras, connection.warehouse)", `dec("1e99") * dec("1e99")`, 1))
	f.Add("apiVersion: handybind.dev/mapping/v1\nname: x\nversion: v1\nrules:\n  product:\n    Title: '(((('\n")
	f.Add("{a: *b}")
	f.Add(strings.Replace(src, "coalesce(seller.extras, connection.warehouse)", `string(split(seller.extras, "")) + seller.extras`, 1))
	f.Fuzz(func(t *testing.T, src string) {
		m, err := mapping.Compile("mappings/handy-bind/v1.yaml", []byte(src))
		if err == nil {
			_ = m.Test()
			_ = m.Untested()
		} else if strings.Contains(err.Error(), "could not be bounded") {
			// A rule that type-checks must type-check once its calls are bounded too.
			t.Fatal(err)
		}
	})
}
