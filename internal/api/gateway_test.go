package api

import (
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/handybind/handybind/internal/errs"
)

func TestJSONPath(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"tenant":                         "tenant",
		"connection.display_name":        "connection.displayName",
		"connection.settings.price_list": "connection.settings.priceList",
		"lines[0].unit_price":            "lines[0].unitPrice",
		`labels["a_b"].x_y`:              `labels["a_b"].xY`,
		"sales_from_2":                   "salesFrom2",
		"a_1b":                           "a1b",
	} {
		require.Equal(t, want, JSONPath(in), in)
	}
}

// TestGatewayStatusNamesFieldsInJSON: a REST caller reads the names it writes, in the detail and
// in the message, whichever way the message names the field; other details stay.
func TestGatewayStatusNamesFieldsInJSON(t *testing.T) {
	t.Parallel()
	e := errs.FailedPrecondition("connection c-1 cannot be activated: bind.user_name is not set; settings.price_list: is not set")
	e.Violations = []errs.FieldViolation{{Field: "bind.user_name", Description: "is not set"}, {Field: "settings.price_list", Description: "is not set"}}
	grpcErr := toStatus(t.Context(), nil, e)
	st := status.Convert(GatewayStatus(grpcErr))
	require.Equal(t, codes.FailedPrecondition, st.Code())
	require.Equal(t, "connection c-1 cannot be activated: bind.userName is not set; settings.priceList: is not set", st.Message())
	require.Len(t, st.Details(), 1)
	br := st.Details()[0].(*errdetails.BadRequest)
	require.Equal(t, "bind.userName", br.GetFieldViolations()[0].GetField())
	require.Equal(t, "settings.priceList", br.GetFieldViolations()[1].GetField())
	require.Equal(t, "is not set", br.GetFieldViolations()[1].GetDescription())
}

// TestGatewayStatusRenamesOnlyNames: a field is renamed where the message names it, not inside
// a longer name or a quoted value, and every BadRequest detail is renamed on its own.
func TestGatewayStatusRenamesOnlyNames(t *testing.T) {
	t.Parallel()
	st := status.New(codes.InvalidArgument, `key_id: bad; author_key_id: must be set; (key_id is "key_id: x")`)
	st, err := st.WithDetails(
		&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "key_id", Description: "bad"}}},
		&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "author_key_id", Description: "must be set"}}},
	)
	require.NoError(t, err)
	out := status.Convert(GatewayStatus(st.Err()))
	require.Equal(t, `keyId: bad; authorKeyId: must be set; (keyId is "key_id: x")`, out.Message())
	var fields []string
	for _, d := range out.Details() {
		for _, v := range d.(*errdetails.BadRequest).GetFieldViolations() {
			fields = append(fields, v.GetField())
		}
	}
	require.Equal(t, []string{"keyId", "authorKeyId"}, fields)
}
