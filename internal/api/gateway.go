package api

import (
	"regexp"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

var (
	// parsing field "page_size": strconv.ParseInt: parsing "abc": invalid syntax
	gatewayParam = regexp.MustCompile(`^parsing field "([^"]+)": (.*)$`)
	// proto: (line 1:2): unknown field "sorce"
	gatewayUnknown = regexp.MustCompile(`unknown field "([^"]+)"`)
	// proto: (line 1:12): invalid value for string field source: 5
	gatewayValue = regexp.MustCompile(`invalid value for \w+ field (\w+)`)
)

// GatewayStatus gives an INVALID_ARGUMENT the REST gateway raised itself (a query parameter or
// a body it could not read, before any handler ran) a BadRequest field violation, as every other
// INVALID_ARGUMENT has, naming the parameter or field where it can and the body otherwise.
func GatewayStatus(err error) error {
	st := status.Convert(err)
	if st.Code() != codes.InvalidArgument {
		return err
	}
	for _, d := range st.Details() {
		if _, ok := d.(*errdetails.BadRequest); ok {
			return err
		}
	}
	msg := st.Message()
	field, desc := "body", "is not valid JSON for this request: "+msg
	switch {
	case gatewayParam.MatchString(msg):
		m := gatewayParam.FindStringSubmatch(msg)
		field, desc = m[1], "cannot be read: "+m[2]
		if strings.Contains(m[2], "is not a valid value") {
			desc = "is not one of the values this parameter takes: " + m[2]
		}
	case gatewayUnknown.MatchString(msg):
		field, desc = gatewayUnknown.FindStringSubmatch(msg)[1], "is not a field of this request (names are case-sensitive, in camelCase)"
	case gatewayValue.MatchString(msg):
		field, desc = gatewayValue.FindStringSubmatch(msg)[1], "has a value of the wrong type: "+msg
	}
	out := status.New(codes.InvalidArgument, "invalid request: "+field+": "+desc)
	if withDetails, derr := out.WithDetails(&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: field, Description: desc}}}); derr == nil {
		out = withDetails
	}
	return out.Err()
}
