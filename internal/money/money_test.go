package money

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestExactArithmetic(t *testing.T) {
	t.Parallel()
	// 0.1 + 0.2 is exactly 0.3 here; in float64 it is 0.30000000000000004.
	require.True(t, MustParse("0.1").Add(MustParse("0.2")).Equal(MustParse("0.3")))
	// A tax-inclusive 116.00 at 16% VAT is exactly 100.00 net.
	net := MustParse("116.00").Div(MustParse("1.16")).Cents()
	require.Equal(t, "100", net.String())
	require.True(t, net.Equal(New(10000, -2)))
	// Rounding to cents is half away from zero.
	require.Equal(t, "0.13", MustParse("0.125").Cents().String())
	require.Equal(t, "-0.13", MustParse("-0.125").Cents().String())
}

func TestJSONIsANumberWithExactText(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(struct{ Price Decimal }{MustParse("19.99")})
	require.NoError(t, err)
	require.JSONEq(t, `{"Price":19.99}`, string(b))

	var in struct{ A, B, C Decimal }
	require.NoError(t, json.Unmarshal([]byte(`{"A":0.1,"B":"2.50","C":null}`), &in))
	require.Equal(t, "0.1", in.A.String())
	require.Equal(t, "2.5", in.B.String())
	require.True(t, in.C.IsZero())

	require.Error(t, json.Unmarshal([]byte(`{"A":"abc"}`), &in))
	require.Error(t, json.Unmarshal([]byte(`{"A":1e1000000000}`), &in), "absurd exponents are refused before any arithmetic")
	require.Error(t, json.Unmarshal([]byte(`{"A":0.0000000000000000000001}`), &in))
	require.NoError(t, json.Unmarshal([]byte(`{"A":1e6}`), &in))
	require.Error(t, json.Unmarshal([]byte(`{"A":true}`), &in))
}
