package api

import (
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/handybind/handybind/internal/errs"
)

// badStrings finds request strings that no record may hold: a NUL byte (PostgreSQL text refuses
// it, and no name or token has one) or invalid UTF-8. Each is named by its field path, so the
// caller gets INVALID_ARGUMENT saying where, never a storage error.
func badStrings(m protoreflect.Message) []errs.FieldViolation {
	var out []errs.FieldViolation
	walkStrings(m, "", func(path, s string) {
		switch {
		case s == invalidUTF8 || !utf8.ValidString(s):
			out = append(out, errs.FieldViolation{Field: path, Description: "is not valid UTF-8"})
		case strings.IndexByte(s, 0) >= 0:
			out = append(out, errs.FieldViolation{Field: path, Description: "must not contain NUL characters"})
		}
	})
	return out
}

func walkStrings(m protoreflect.Message, prefix string, visit func(path, s string)) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		path := prefix + string(fd.Name())
		switch {
		case fd.IsList():
			l := v.List()
			for i := range l.Len() {
				visitValue(fd, l.Get(i), path, visit)
			}
		case fd.IsMap():
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				if fd.MapKey().Kind() == protoreflect.StringKind {
					visit(path+" key", k.String())
				}
				visitValue(fd.MapValue(), mv, path+"["+k.String()+"]", visit)
				return true
			})
		default:
			visitValue(fd, v, path, visit)
		}
		return true
	})
}

func visitValue(fd protoreflect.FieldDescriptor, v protoreflect.Value, path string, visit func(path, s string)) {
	switch fd.Kind() {
	case protoreflect.StringKind:
		visit(path, v.String())
	case protoreflect.MessageKind, protoreflect.GroupKind:
		walkStrings(v.Message(), path+".", visit)
	}
}
