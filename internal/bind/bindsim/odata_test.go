package bindsim

import (
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFilterOperators(t *testing.T) {
	t.Parallel()
	rec := recordOf(t, struct {
		Code   string  `json:"Code"`
		Qty    int     `json:"Qty"`
		Active bool    `json:"Active"`
		ID     string  `json:"ID"`
		Note   *string `json:"Note"`
		Date   string  `json:"Date,omitempty"`
	}{Code: "A'B", Qty: 5, Active: true, ID: "3F2504E0-4F89-41D3-9A0C-0305E82C3301", Date: "2026-01-02T00:00:00"})

	for expr, want := range map[string]bool{
		"Code eq 'A''B'":              true,
		"Code ne 'A''B'":              false,
		"Qty gt 4":                    true,
		"Qty ge 5":                    true,
		"Qty lt 5":                    false,
		"Qty le 5.0":                  true,
		"Qty eq 5 and Active eq true": true,
		"Qty eq 6 or Code eq 'A''B'":  true,
		"not (Qty eq 5)":              false,
		"Active eq false":             false,
		"Note eq null":                true,
		"Code ne null":                true,
		"substringof('''', Code)":     true,
		"substringof('Z', Code)":      false,
		"ID eq guid'3f2504e0-4f89-41d3-9a0c-0305e82c3301'": true,
		"Date ge datetime'2026-01-01T00:00:00'":            true,
		"(Qty eq 1 or Qty eq 5) and not Active eq false":   true,
	} {
		t.Run(expr, func(t *testing.T) {
			n, err := parseFilter(expr)
			require.NoError(t, err)
			got, err := n.eval(rec)
			require.NoError(t, err)
			require.Equal(t, want, got)
		})
	}
}

// recordOf is v as a filter sees it.
func recordOf(t *testing.T, v any) *lazyRecord {
	t.Helper()
	return &lazyRecord{item: reflect.ValueOf(v), fields: jsonFields(reflect.TypeOf(v))}
}

func TestFilterErrors(t *testing.T) {
	t.Parallel()
	for expr, want := range map[string]string{
		"Code eq 'open":        "unterminated",
		"Code eq":              "not a literal",
		"Code like 'x'":        "expected a comparison",
		"(Code eq 'x'":         "expected ')'",
		"Code eq 'x' Qty":      "unexpected",
		"substringof(1, Code)": "text literal",
	} {
		t.Run(expr, func(t *testing.T) {
			_, err := parseFilter(expr)
			require.ErrorContains(t, err, want)
		})
	}
	n, err := parseFilter("Colour eq 'red'")
	require.NoError(t, err)
	_, err = n.eval(recordOf(t, struct {
		Code string `json:"Code"`
	}{"x"}))
	require.ErrorContains(t, err, "could not find a property named 'Colour'")
}
