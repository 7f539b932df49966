package bind

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Filter is an OData v3 $filter expression. It can only be built with the functions below, which
// check field names and quote literals, so no caller text is ever pasted into a filter unescaped.
type Filter struct{ expr string }

// String is the filter text, as sent in $filter.
func (f Filter) String() string { return f.expr }

// IsZero reports whether the filter is empty (matches everything).
func (f Filter) IsZero() bool { return f.expr == "" }

var fieldName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)

func field(name string) string {
	if !fieldName.MatchString(name) {
		// Field names are constants in handybind's code; a bad one is a programming error.
		panic(fmt.Sprintf("bind: %q is not an OData field name", name))
	}
	return name
}

// quote makes an OData string literal: single quotes, with embedded quotes doubled.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// Eq matches records whose field equals the text value.
func Eq(name, value string) Filter { return Filter{field(name) + " eq " + quote(value)} }

// Ne matches records whose field differs from the text value.
func Ne(name, value string) Filter { return Filter{field(name) + " ne " + quote(value)} }

// EqInt matches records whose numeric field equals n.
func EqInt(name string, n int64) Filter { return Filter{fmt.Sprintf("%s eq %d", field(name), n)} }

// NeInt matches records whose numeric field differs from n.
func NeInt(name string, n int64) Filter { return Filter{fmt.Sprintf("%s ne %d", field(name), n)} }

// EqGUID matches records whose GUID field equals id; id must be a GUID.
func EqGUID(name, id string) (Filter, error) {
	u, err := uuid.Parse(id)
	if err != nil {
		return Filter{}, fmt.Errorf("bind: %q is not a GUID", id)
	}
	return Filter{field(name) + " eq guid'" + u.String() + "'"}, nil
}

// Contains matches records whose text field contains value (OData v3 substringof).
func Contains(name, value string) Filter {
	return Filter{"substringof(" + quote(value) + ", " + field(name) + ")"}
}

// Between matches records whose date-time field lies in [from, to], compared as the wall-clock
// times Bind stores (no zone, whole seconds).
func Between(name string, from, to time.Time) Filter {
	lit := func(t time.Time) string { return "datetime'" + t.Format(timeLayout) + "'" }
	return Filter{field(name) + " ge " + lit(from) + " and " + field(name) + " le " + lit(to)}
}

// And matches records that every non-empty filter matches.
func And(filters ...Filter) Filter {
	parts := make([]string, 0, len(filters))
	for _, f := range filters {
		if !f.IsZero() {
			parts = append(parts, "("+f.expr+")")
		}
	}
	if len(parts) == 1 {
		return Filter{strings.TrimSuffix(strings.TrimPrefix(parts[0], "("), ")")}
	}
	return Filter{strings.Join(parts, " and ")}
}
