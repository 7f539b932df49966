package bindsim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// decodeRequest reads a request body into v, a pointer to one of the request wire types, as the
// definition spells it. It refuses, naming every problem at once:
//   - a property left out, null or "" that the schema requires (ASP.NET's [Required] refuses an
//     empty string too);
//   - a property the schema does not name, or names with other capitals. Bind would bind
//     "CurrencyID" to NewProduct's CurrencyId without regard to case, or drop a misspelt optional
//     property without a word; either way the value a client meant to send is at risk, so the
//     simulator refuses it and the mistake shows in every test instead of in production.
//
// Values of the wrong JSON type are refused by the decoding itself.
func decodeRequest(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var raw any
	if err := dec.Decode(&raw); err != nil || dec.More() {
		return fmt.Errorf("the request body is not JSON")
	}
	if _, ok := raw.(map[string]any); !ok {
		return fmt.Errorf("the request body is not a JSON object")
	}
	var problems []string
	checkShape(raw, reflect.TypeOf(v).Elem(), "", &problems)
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, " "))
	}
	if err := json.Unmarshal(body, v); err != nil {
		return err
	}
	return nil
}

var unmarshaler = reflect.TypeFor[json.Unmarshaler]()

// checkShape compares a decoded JSON value with a wire type: property names exactly, required
// properties present. at is where the value sits ("", "Products[0]", "Address").
func checkShape(raw any, t reflect.Type, at string, problems *[]string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshaler) {
		return // a scalar of its own (number, dateTime)
	}
	switch t.Kind() {
	case reflect.Slice:
		items, _ := raw.([]any)
		for i, item := range items {
			checkShape(item, t.Elem(), fmt.Sprintf("%s[%d]", at, i), problems)
		}
	case reflect.Struct:
		obj, ok := raw.(map[string]any)
		if !ok {
			return // null, or a type mismatch the decoding reports
		}
		prefix := ""
		if at != "" {
			prefix = at + ": "
		}
		known := map[string]reflect.StructField{}
		var missing []string
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			known[name] = f
			if f.Tag.Get("bind") == "required" {
				if v, ok := obj[name]; !ok || v == nil || v == "" {
					missing = append(missing, name)
				}
			}
		}
		if len(missing) > 0 {
			*problems = append(*problems, prefix+"The "+strings.Join(missing, ", ")+" field is required.")
		}
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			f, ok := known[k]
			if !ok {
				*problems = append(*problems, fmt.Sprintf("%s'%s' is not a property of %s.", prefix, k, schemaName(t)))
				continue
			}
			where := k
			if at != "" {
				where = at + "." + k
			}
			checkShape(obj[k], f.Type, where, problems)
		}
	}
}

// schemaName is the definition's name of a wire type: its Go name with a capital first letter.
func schemaName(t reflect.Type) string {
	r, size := utf8.DecodeRuneInString(t.Name())
	return string(unicode.ToUpper(r)) + t.Name()[size:]
}
