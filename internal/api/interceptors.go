package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"buf.build/go/protovalidate"
	"github.com/google/uuid"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/handybind/handybind/internal/auth"
	"github.com/handybind/handybind/internal/errs"
	"github.com/handybind/handybind/internal/metrics"
)

// RequestIDHeader carries a request id in both directions; the gateway forwards it.
const RequestIDHeader = "x-request-id"

type loggerKey struct{}

// Logger returns the request-scoped logger (with the request id), or fallback.
func Logger(ctx context.Context, fallback *slog.Logger) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok {
		return l
	}
	return fallback
}

// UnaryInterceptors returns the server's interceptor chain, outermost first:
//
//	recovery → gRPC metrics → calls in flight → request id and logger → logging →
//	authentication and role → the key's rate → protovalidate → tenant scope → domain-error mapping
//
// Recovery is outermost so that a panic anywhere becomes Internal and is logged; authentication
// runs before validation, so that a caller without a key learns nothing about the request's
// shape; the tenant scope reads the ids validation has checked; error mapping is innermost so the
// logging interceptor sees the final code.
func UnaryInterceptors(log *slog.Logger, v protovalidate.Validator, m *metrics.Metrics, lim Limits, authn, scope grpc.UnaryServerInterceptor) []grpc.UnaryServerInterceptor {
	return []grpc.UnaryServerInterceptor{
		recovery.UnaryServerInterceptor(recoveryOption(log)),
		// The standard grpc_server_* families, outside everything that can refuse a call, so
		// that refusals are counted with their codes.
		m.GRPC.UnaryServerInterceptor(),
		// Load beyond the limit is shed first, before it costs anything.
		InFlightLimit(lim.InFlight),
		requestIDInterceptor(log),
		noteInterceptor,
		logging.UnaryServerInterceptor(callLogger(log), loggingOptions...),
		authn,
		KeyRateLimit(lim.KeyRate, lim.KeyBurst),
		validationInterceptor(v),
		scope,
		errorInterceptor(log),
	}
}

// StreamInterceptors is the chain for streaming methods (server reflection, health watch):
// recovery, metrics, then authentication.
func StreamInterceptors(log *slog.Logger, m *metrics.Metrics, authn grpc.StreamServerInterceptor) []grpc.StreamServerInterceptor {
	return []grpc.StreamServerInterceptor{
		recovery.StreamServerInterceptor(recoveryOption(log)),
		m.GRPC.StreamServerInterceptor(),
		authn,
	}
}

// recoveryOption logs a handler's panic with its stack and answers Internal without details,
// which stay in the log.
func recoveryOption(log *slog.Logger) recovery.Option {
	return recovery.WithRecoveryHandlerContext(func(ctx context.Context, p any) error {
		Logger(ctx, log).ErrorContext(ctx, "panic in handler", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		return status.Error(codes.Internal, "internal error; the server log has the details (see the request id)")
	})
}

// noteInterceptor gives the call a note the guard fills in with the caller's key id, so the
// logging interceptor, which runs before authentication, can still name the key.
func noteInterceptor(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	ctx, _ = auth.WithNote(ctx)
	return handler(ctx, req)
}

// callLogger writes the logging interceptor's lines through the request's logger, which carries
// the request id.
func callLogger(log *slog.Logger) logging.Logger {
	return logging.LoggerFunc(func(ctx context.Context, lvl logging.Level, msg string, fields ...any) {
		Logger(ctx, log).Log(ctx, slog.Level(lvl), msg, fields...)
	})
}

// loggingOptions log one line per finished call: method, code and duration, never the payload,
// which can carry tokens; with the key id and the trace id once they are known.
var loggingOptions = []logging.Option{
	logging.WithLogOnEvents(logging.FinishCall),
	logging.WithLevels(func(code codes.Code) logging.Level {
		switch code {
		case codes.OK:
			return logging.LevelInfo
		case codes.Internal, codes.Unknown, codes.DataLoss:
			return logging.LevelError
		}
		return logging.LevelWarn
	}),
	logging.WithFieldsFromContext(func(ctx context.Context) logging.Fields {
		var f logging.Fields
		if n := auth.NoteOf(ctx); n != nil && n.KeyID != "" {
			f = append(f, "key_id", n.KeyID)
		}
		if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
			f = append(f, "trace_id", sc.TraceID().String())
		}
		return f
	}),
}

func requestIDInterceptor(log *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		id := ""
		if md, ok := metadata.FromIncomingContext(ctx); ok {
			if vals := md.Get(RequestIDHeader); len(vals) > 0 && validRequestID(vals[0]) {
				id = vals[0]
			}
		}
		if id == "" {
			id = uuid.NewString()
		}
		_ = grpc.SetHeader(ctx, metadata.Pairs(RequestIDHeader, id))
		ctx = context.WithValue(ctx, loggerKey{}, log.With("request_id", id))
		return handler(ctx, req)
	}
}

// validRequestID accepts caller-chosen ids that are safe to log and echo.
func validRequestID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for _, r := range s {
		if !(r == '-' || r == '_' || r == '.' || r == ':' || ('0' <= r && r <= '9') || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z')) {
			return false
		}
	}
	return true
}

// validationInterceptor checks every request against its protovalidate rules and answers
// INVALID_ARGUMENT with one field violation per broken rule.
func validationInterceptor(v protovalidate.Validator) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		msg, ok := req.(proto.Message)
		if !ok {
			return nil, status.Errorf(codes.Internal, "request of type %T is not a protobuf message", req)
		}
		if bad := badStrings(msg.ProtoReflect()); len(bad) > 0 {
			return nil, toStatus(ctx, Logger(ctx, slog.Default()), errs.Invalid(bad...))
		}
		if err := v.Validate(msg); err != nil {
			return nil, validationStatus(msg.ProtoReflect().Descriptor(), err)
		}
		return handler(ctx, req)
	}
}

// validationStatus turns protovalidate's violations of a request of type md into INVALID_ARGUMENT
// with a BadRequest detail: one field violation per broken rule, each with the field's path and a
// sentence, and a status message that repeats them as "path: sentence".
func validationStatus(md protoreflect.MessageDescriptor, err error) error {
	var verr *protovalidate.ValidationError
	if !errors.As(err, &verr) {
		return status.Errorf(codes.Internal, "validating request: %v", err)
	}
	br := &errdetails.BadRequest{}
	parts := make([]string, 0, len(verr.Violations))
	for _, v := range verr.Violations {
		field := protovalidate.FieldPathString(v.Proto.GetField())
		if field == "" {
			// Message-level rules are named "<field path>.<rule>" so they still point at a field.
			if i := strings.LastIndexByte(v.Proto.GetRuleId(), '.'); i > 0 {
				field = v.Proto.GetRuleId()[:i]
			}
		}
		desc := plainMessage(md, v)
		// A message-level rule's own message often starts with the path; the detail carries
		// the path already, so the sentence reads like the field-level ones ("is required").
		if rest, ok := strings.CutPrefix(desc, field+" "); ok && field != "" {
			desc = rest
		}
		br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{Field: field, Description: desc})
		if field != "" {
			desc = field + ": " + desc
		}
		parts = append(parts, desc)
	}
	st := status.New(codes.InvalidArgument, "invalid request: "+strings.Join(parts, "; "))
	if withDetails, derr := st.WithDetails(br); derr == nil {
		st = withDetails
	}
	return st.Err()
}

func errorInterceptor(log *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		resp, err := handler(ctx, req)
		if err != nil {
			return nil, toStatus(ctx, Logger(ctx, log), err)
		}
		return resp, nil
	}
}

// plainMessage says what a broken rule asks for in words a caller understands, naming the
// allowed values where there is a list; rules without a better sentence keep protovalidate's.
// md is the request's type, through which a oneof named by the violation is found.
func plainMessage(md protoreflect.MessageDescriptor, v *protovalidate.Violation) string {
	fd := v.FieldDescriptor
	switch v.Proto.GetRuleId() {
	case "required":
		if fd != nil && fd.Enum() != nil {
			return "is required: " + enumChoices(fd.Enum())
		}
		if fd == nil {
			// A required oneof: the caller sets one of its fields, never the oneof's own name.
			if od := oneofAt(md, v.Proto.GetField()); od != nil {
				names := make([]string, od.Fields().Len())
				for i := range od.Fields().Len() {
					names[i] = string(od.Fields().Get(i).Name())
				}
				return "is required: one of " + orList(names)
			}
		}
		return "is required"
	case "enum.not_in", "enum.defined_only":
		if fd != nil && fd.Enum() != nil {
			if v.Proto.GetRuleId() == "enum.not_in" && v.FieldValue.IsValid() && v.FieldValue.Enum() == 0 {
				return "is required: " + enumChoices(fd.Enum())
			}
			return "must be " + enumChoices(fd.Enum())
		}
	case "string.in":
		if v.RuleValue.IsValid() {
			list := v.RuleValue.List()
			names := make([]string, list.Len())
			for i := range list.Len() {
				names[i] = list.Get(i).String()
			}
			return "must be " + orList(names)
		}
	case "string.uuid":
		return "must be a UUID, such as 01900000-0000-7000-8000-000000000001"
	case "string.uuid_empty":
		return "is required: a UUID, such as 01900000-0000-7000-8000-000000000001"
	case "string.min_len":
		if v.RuleValue.IsValid() && v.RuleValue.Uint() == 1 {
			return "must not be empty"
		}
	case "string.pattern":
		if fd != nil {
			if hint, ok := patternHints[string(fd.Name())]; ok {
				return hint
			}
		}
		return "is not in the expected form"
	}
	return v.Proto.GetMessage()
}

// oneofAt finds the oneof that a violation's path ends in, walking from the request type md
// through the message fields the path names; nil when the path ends in a field.
func oneofAt(md protoreflect.MessageDescriptor, path *validate.FieldPath) protoreflect.OneofDescriptor {
	elems := path.GetElements()
	if md == nil || len(elems) == 0 {
		return nil
	}
	for _, e := range elems[:len(elems)-1] {
		fd := md.Fields().ByNumber(protoreflect.FieldNumber(e.GetFieldNumber()))
		if fd == nil || fd.Message() == nil {
			return nil
		}
		md = fd.Message()
	}
	return md.Oneofs().ByName(protoreflect.Name(elems[len(elems)-1].GetFieldName()))
}

const mappingNameHint = "must be a mapping name such as handy-bind: lower-case letters, digits and '-', starting with a letter, at most 63 characters"

// patternHints say in words what the fields with a pattern rule look like.
var patternHints = map[string]string{
	"mapping_version": "must be a version such as v1 or v2",
	"version":         "must be a version such as v1 or v2",
	"tenant":          "must be a tenant name: lower-case letters, digits, '.', '_' or '-', starting with a letter or digit, at most 63 characters",
	"name":            mappingNameHint,
	"mapping":         mappingNameHint,
}

// enumChoices lists an enum's values as a caller writes them, without the type prefix and the
// unset value: "products, sales or deleted_sales".
func enumChoices(ed protoreflect.EnumDescriptor) string {
	prefix := strings.ToUpper(camelToSnake(string(ed.Name()))) + "_"
	var names []string
	for i := range ed.Values().Len() {
		ev := ed.Values().Get(i)
		if ev.Number() == 0 {
			continue
		}
		names = append(names, strings.ToLower(strings.TrimPrefix(string(ev.Name()), prefix)))
	}
	return orList(names)
}

func orList(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

func camelToSnake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if i > 0 && r >= 'A' && r <= 'Z' {
			b.WriteByte('_')
		}
		b.WriteRune(r)
	}
	return b.String()
}
