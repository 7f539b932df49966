package api

import (
	"context"
	"errors"
	"log/slog"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/handybind/handybind/internal/errs"
)

var kindCodes = map[errs.Kind]codes.Code{
	errs.KindInvalid:            codes.InvalidArgument,
	errs.KindNotFound:           codes.NotFound,
	errs.KindConflict:           codes.AlreadyExists,
	errs.KindFailedPrecondition: codes.FailedPrecondition,
	errs.KindUnauthenticated:    codes.Unauthenticated,
	errs.KindPermissionDenied:   codes.PermissionDenied,
	errs.KindUnavailable:        codes.Unavailable,
	errs.KindResourceExhausted:  codes.ResourceExhausted,
}

// ToStatus maps an error the way the interceptor chain does, for interceptors that answer before
// the handler (authentication).
func ToStatus(ctx context.Context, log *slog.Logger, err error) error {
	return toStatus(ctx, Logger(ctx, log), err)
}

// toStatus maps an error from a use-case to the gRPC status the caller sees. Domain errors keep
// their message (written for callers, free of secrets) and field violations; anything else is
// logged with its cause and becomes a bare Internal error, since its text may hold details that are
// not the caller's business.
func toStatus(ctx context.Context, log *slog.Logger, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	var de *errs.Error
	if errors.As(err, &de) {
		code, ok := kindCodes[de.Kind]
		if !ok {
			code = codes.Unknown
		}
		if de.Cause != nil {
			log.DebugContext(ctx, "domain error cause", "error", de.Cause)
		}
		st := status.New(code, de.Error())
		if len(de.Violations) > 0 {
			br := &errdetails.BadRequest{}
			for _, v := range de.Violations {
				br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{
					Field: v.Field, Description: v.Description,
				})
			}
			if withDetails, derr := st.WithDetails(br); derr == nil {
				st = withDetails
			}
		}
		return st.Err()
	}
	switch {
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "the request was cancelled")
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "the request ran out of time")
	}
	log.ErrorContext(ctx, "internal error", "error", err)
	return status.Error(codes.Internal, "internal error; the server log has the details (see the request id)")
}

// prefixViolations puts a parent path in front of each violation's field, so that errors from a
// use-case (which names fields of a connection) name the request field ("connection.display_name").
func prefixViolations(err error, prefix string) error {
	var de *errs.Error
	if !errors.As(err, &de) || len(de.Violations) == 0 {
		return err
	}
	out := *de
	out.Violations = make([]errs.FieldViolation, len(de.Violations))
	for i, v := range de.Violations {
		if v.Field != "update_mask" {
			v.Field = prefix + v.Field
		}
		out.Violations[i] = v
	}
	return &out
}
