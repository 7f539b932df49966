package bind

import (
	"errors"
	"fmt"
	"strings"

	"github.com/handybind/handybind/internal/apiclient"
)

// ErrCredentialsRejected is wrapped by every error for a 401: the API key is wrong, revoked or
// expired (keys appear to last a year). A person must give a new key; retrying will not help.
var ErrCredentialsRejected = errors.New("bind: the API key was rejected")

// ErrOutcomeUnknown is wrapped when a write was sent but no answer came back (timeout, dropped
// connection, 5xx after the request went out). The write may or may not have been applied: look
// the record up (an order by PurchaseOrder, a client by name or RFC, a product by Code) before
// sending it again, or read an order a DELETE was sent for. Creates and deletes are never
// retried blindly.
var ErrOutcomeUnknown = errors.New("bind: no answer came back; the write may or may not have been applied")

// APIError is an answer from Bind with a status that is not success.
type APIError struct {
	Method, Path string
	Status       int
	// Message and Code are Bind's own, when the body carried them.
	Message, Code string
	// Body is the raw body, trimmed to a bounded size, for the run log.
	Body string
}

// Error names the system, the call, the status and a reason of ours; never Bind's body, which
// reaches callers only through Detail where a caller chooses to log it.
func (e *APIError) Error() string {
	return fmt.Sprintf("Bind %s %s: HTTP %d (%s)", e.Method, e.Path, e.Status, apiclient.StatusReason(e.Status))
}

// Detail is what Bind said, for the server log only.
func (e *APIError) Detail() string {
	var b strings.Builder
	switch {
	case e.Message != "" && e.Code != "":
		fmt.Fprintf(&b, "%s (code %s)", e.Message, e.Code)
	case e.Message != "":
		b.WriteString(e.Message)
	default:
		b.WriteString(e.Body)
	}
	return b.String()
}

// Unwrap makes a 401 match ErrCredentialsRejected.
func (e *APIError) Unwrap() error {
	if e.Status == 401 {
		return ErrCredentialsRejected
	}
	return nil
}

// Retryable reports whether a read that got this answer may be tried again.
func (e *APIError) Retryable() bool { return e.Status == 429 || e.Status >= 500 }
