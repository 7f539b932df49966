package api

import (
	"regexp"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/anypb"
)

var (
	// parsing field "page_size": strconv.ParseInt: parsing "abc": invalid syntax
	gatewayParam = regexp.MustCompile(`^parsing field "([^"]+)": (.*)$`)
	// proto: (line 1:2): unknown field "sorce"
	gatewayUnknown = regexp.MustCompile(`unknown field "([^"]+)"`)
	// proto: (line 1:12): invalid value for string field source: 5
	gatewayValue = regexp.MustCompile(`invalid value for \w+ field (\w+)`)
)

// GatewayStatus prepares a gRPC error for a REST caller. Field violations name fields as REST
// callers write them, in camelCase (displayName, not display_name), in the BadRequest detail and
// in the message. An INVALID_ARGUMENT the gateway raised itself (a query parameter or a body it
// could not read, before any handler ran) gets a BadRequest field violation, as every other
// INVALID_ARGUMENT has, naming the parameter or field where it can and the body otherwise.
func GatewayStatus(err error) error {
	st := status.Convert(err)
	for _, d := range st.Details() {
		if _, ok := d.(*errdetails.BadRequest); ok {
			return restFieldNames(st)
		}
	}
	if st.Code() != codes.InvalidArgument {
		return err
	}
	msg := st.Message()
	field, desc := "body", "is not valid JSON for this request: "+msg
	switch {
	case gatewayParam.MatchString(msg):
		m := gatewayParam.FindStringSubmatch(msg)
		field, desc = JSONPath(m[1]), "cannot be read: "+m[2]
		if strings.Contains(m[2], "is not a valid value") {
			desc = "is not one of the values this parameter takes: " + m[2]
		}
	case gatewayUnknown.MatchString(msg):
		// As the caller wrote it.
		field, desc = gatewayUnknown.FindStringSubmatch(msg)[1], "is not a field of this request (names are case-sensitive, in camelCase)"
	case gatewayValue.MatchString(msg):
		field, desc = JSONPath(gatewayValue.FindStringSubmatch(msg)[1]), "has a value of the wrong type: "+msg
	}
	out := status.New(codes.InvalidArgument, "invalid request: "+field+": "+desc)
	if withDetails, derr := out.WithDetails(&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: field, Description: desc}}}); derr == nil {
		out = withDetails
	}
	return out.Err()
}

// restFieldNames renames the fields of st's BadRequest details, and the fields its message names,
// to their JSON names. In the message a field is renamed only where it stands as a name: at the
// start, or after a space, ';', ':' or '(', and followed by ": " or " " (activation's problems read
// "settings.price_list is not set"); text in quotes, such as the caller's own values, stays.
func restFieldNames(st *status.Status) error {
	p := st.Proto()
	for i, d := range p.GetDetails() {
		var br errdetails.BadRequest
		if !d.MessageIs(&br) || d.UnmarshalTo(&br) != nil {
			continue
		}
		for _, v := range br.GetFieldViolations() {
			name := JSONPath(v.GetField())
			if name == v.GetField() {
				continue
			}
			named := regexp.MustCompile(`(^|[\s;:(])` + regexp.QuoteMeta(v.GetField()) + `(: | )`)
			p.Message = named.ReplaceAllString(p.Message, "${1}"+strings.ReplaceAll(name, "$", "$$")+"${2}")
			v.Field = name
		}
		if a, err := anypb.New(&br); err == nil {
			p.Details[i] = a
		}
	}
	return status.FromProto(p).Err()
}

// JSONPath turns a field path of proto names ("connection.settings.price_list",
// "lines[0].unit_price") into the JSON names protojson reads and writes: each name in
// lowerCamelCase, as protoc derives json_name (which the API's protos never override). Indexes
// and map keys in brackets, quoted keys included, are kept as they are.
func JSONPath(path string) string {
	if !strings.Contains(path, "_") {
		return path
	}
	var b strings.Builder
	b.Grow(len(path))
	bracket, quoted, escaped, upper := false, false, false, false
	for _, r := range path {
		switch {
		case escaped:
			escaped = false
		case quoted:
			escaped = r == '\\'
			quoted = r != '"'
		case bracket:
			quoted = r == '"'
			bracket = r != ']'
		case r == '[':
			bracket = true
		case r == '_':
			upper = true
			continue
		case upper && 'a' <= r && r <= 'z':
			r -= 'a' - 'A'
		}
		upper = false
		b.WriteRune(r)
	}
	return b.String()
}
