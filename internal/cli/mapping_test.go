package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const v1 = "../../mappings/handy-bind/v1.yaml"

func TestMappingValidateAndTest(t *testing.T) {
	t.Parallel()
	out, _, code := run(t, "mapping", "validate", v1)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "valid (handy-bind v1)")

	out, _, code = run(t, "mapping", "test", v1)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "ok   C4 a customer without RFC gets the generic RFC")
	require.Contains(t, out, "0 of 10 test cases failed")

	out, _, code = run(t, "mapping", "test", v1, "--json")
	require.Equal(t, 0, code)
	var res struct {
		Passed  bool
		Results []struct{ Name string }
	}
	require.NoError(t, json.Unmarshal([]byte(out), &res))
	require.True(t, res.Passed)
	require.Len(t, res.Results, 10)
}

func TestMappingValidateReportsProblemsAndFails(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile(v1)
	require.NoError(t, err)
	broken := strings.Replace(string(src), "Title: product.description", "Title: product.descripton", 1)
	path := filepath.Join(t.TempDir(), "v1.yaml")
	require.NoError(t, os.WriteFile(path, []byte(broken), 0o600))

	out, errOut, code := run(t, "mapping", "validate", path)
	require.Equal(t, 1, code)
	require.Empty(t, errOut, "the problems are the output; nothing more to say")
	require.Contains(t, out, path+":16:20: [product.Title] unknown field product.descripton (did you mean product.description?)")

	out, _, code = run(t, "mapping", "validate", path, "--json")
	require.Equal(t, 1, code)
	var res struct {
		Valid    bool
		Problems []struct{ Line int }
	}
	require.NoError(t, json.Unmarshal([]byte(out), &res))
	require.False(t, res.Valid)
	require.Equal(t, 16, res.Problems[0].Line)

	failing := strings.Replace(string(src), "Code: product.code ", "Code: upper(product.description) ", 1)
	require.NoError(t, os.WriteFile(path, []byte(failing), 0o600))
	out, _, code = run(t, "mapping", "test", path)
	require.Equal(t, 1, code)
	require.Contains(t, out, "FAIL P2 product title is the description and code is the code")
	require.Contains(t, out, "Code = ESCOBA DE MIJO, expected E-001")

	// A file whose own tests fail is not valid: the service would refuse it.
	out, _, code = run(t, "mapping", "validate", path)
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "test P2 product title is the description and code is the code fails: line 75: Code = ESCOBA DE MIJO, expected E-001")
	out, _, code = run(t, "mapping", "validate", path, "--no-tests")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "valid (handy-bind v1)")
}

func TestMappingPreview(t *testing.T) {
	t.Parallel()
	out, errOut, code := run(t, "mapping", "preview", v1, "--target", "order", "--input", "../../docs/examples/order-input.json")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, `"PurchaseOrder": "29079294"`)
	require.Contains(t, out, "<beto@example.com>")
	require.Contains(t, out, "Products[1].Price")
	require.Contains(t, out, "← netOfTax(line.price, line.taxRate)")

	// The command docs/mapping-format.md shows, with what it says it prints.
	out, errOut, code = run(t, "mapping", "preview", "../../mappings/handy-bind/v2.yaml", "--target", "order", "--input", "../../docs/examples/order-input.json")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "Products[0].Price        = 811.1206896552")
	require.Contains(t, out, "Products[1].Price        = 14.846743295")
	require.Contains(t, out, "Products[1].IEPS         = 0.08")

	_, errOut, code = run(t, "mapping", "preview", v1, "--target", "invoice", "--input", "../../docs/examples/order-input.json")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, `--target "invoice" is not one of product, client, order, order_line, warehouse`)

	bad := filepath.Join(t.TempDir(), "in.json")
	require.NoError(t, os.WriteFile(bad, []byte(`{"sale":{"idd":1}}`), 0o600))
	_, errOut, code = run(t, "mapping", "preview", v1, "--input", bad)
	require.Equal(t, 1, code)
	require.Contains(t, errOut, `unknown field "idd"`)
}
