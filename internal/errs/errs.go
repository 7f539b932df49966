// Package errs holds the typed domain errors that use-cases return. The API edge maps each kind to
// one gRPC code (and so to one HTTP status); anything else is an internal error whose cause is
// logged and never shown.
package errs

import (
	"errors"
	"fmt"
	"strings"
)

// Kind classifies a domain error.
type Kind int

// The kinds of domain errors, one per gRPC code the API uses for them.
const (
	KindInvalid Kind = iota + 1
	KindNotFound
	KindConflict
	KindFailedPrecondition
	KindUnauthenticated
	KindPermissionDenied
	KindUnavailable
	KindResourceExhausted
)

func (k Kind) String() string {
	switch k {
	case KindInvalid:
		return "invalid"
	case KindNotFound:
		return "not found"
	case KindConflict:
		return "conflict"
	case KindFailedPrecondition:
		return "failed precondition"
	case KindUnauthenticated:
		return "unauthenticated"
	case KindPermissionDenied:
		return "permission denied"
	case KindUnavailable:
		return "unavailable"
	case KindResourceExhausted:
		return "resource exhausted"
	}
	return "unknown"
}

// FieldViolation names one bad input field, as a dotted path such as "connection.settings.time_zone".
type FieldViolation struct {
	Field       string
	Description string
}

// Error is a domain error. Its message is meant for the caller and must not carry secrets.
type Error struct {
	Kind       Kind
	Message    string
	Violations []FieldViolation
	// Cause is kept for logs and errors.Is; it is never shown to callers.
	Cause error
}

func (e *Error) Error() string {
	if e.Message != "" {
		return e.Message
	}
	parts := make([]string, 0, len(e.Violations))
	for _, v := range e.Violations {
		parts = append(parts, v.Field+": "+v.Description)
	}
	if len(parts) > 0 {
		return strings.Join(parts, "; ")
	}
	return e.Kind.String()
}

func (e *Error) Unwrap() error { return e.Cause }

// NotFound reports that the named thing does not exist.
func NotFound(format string, args ...any) *Error {
	return &Error{Kind: KindNotFound, Message: fmt.Sprintf(format, args...)}
}

// Invalid reports bad input in one or more fields.
func Invalid(violations ...FieldViolation) *Error {
	return &Error{Kind: KindInvalid, Violations: violations}
}

// InvalidField reports bad input in one field.
func InvalidField(field, format string, args ...any) *Error {
	return Invalid(FieldViolation{Field: field, Description: fmt.Sprintf(format, args...)})
}

// Conflict reports that the request clashes with the current state, such as a duplicate; cause
// is kept for the log.
func Conflict(cause error, format string, args ...any) *Error {
	return &Error{Kind: KindConflict, Message: fmt.Sprintf(format, args...), Cause: cause}
}

// FailedPrecondition reports that the system is not in a state where the request can run.
func FailedPrecondition(format string, args ...any) *Error {
	return &Error{Kind: KindFailedPrecondition, Message: fmt.Sprintf(format, args...)}
}

// Unauthenticated reports a call without a valid credential.
func Unauthenticated(format string, args ...any) *Error {
	return &Error{Kind: KindUnauthenticated, Message: fmt.Sprintf(format, args...)}
}

// PermissionDenied reports a known caller asking for something its role does not allow.
func PermissionDenied(format string, args ...any) *Error {
	return &Error{Kind: KindPermissionDenied, Message: fmt.Sprintf(format, args...)}
}

// Unavailable reports a dependency that cannot be reached; the caller may retry.
func Unavailable(cause error, format string, args ...any) *Error {
	return &Error{Kind: KindUnavailable, Message: fmt.Sprintf(format, args...), Cause: cause}
}

// ResourceExhausted reports a request refused or stopped by a limit on what one request, or the
// server at the moment, may spend; the message says which limit.
func ResourceExhausted(format string, args ...any) *Error {
	return &Error{Kind: KindResourceExhausted, Message: fmt.Sprintf(format, args...)}
}

// KindOf returns the kind of the first domain error in err's chain, or 0 when there is none.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return 0
}

// Is reports whether err is a domain error of kind k.
func Is(err error, k Kind) bool { return KindOf(err) == k }
