package bindsim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"
)

// jsonField is where a JSON name sits in a struct type, and whether a zero value is left out.
type jsonField struct {
	index     []int
	omitEmpty bool
}

// jsonFields maps a struct type's JSON names to its fields, embedded structs included, so that a
// filter on a field the record leaves out (omitempty) still finds it.
func jsonFields(t reflect.Type) map[string]jsonField {
	out := map[string]jsonField{}
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			for name, sub := range jsonFields(f.Type) {
				out[name] = jsonField{index: append([]int{i}, sub.index...), omitEmpty: sub.omitEmpty}
			}
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out[name] = jsonField{index: []int{i}, omitEmpty: strings.Contains(opts, "omitempty") || strings.Contains(opts, "omitzero")}
		}
	}
	return out
}

// lazyRecord is an item as a filter or an ordering sees it: each field as its JSON value (numbers
// as json.Number, null when left out), worked out only when asked for, so that a list of
// thousands is not encoded whole for every page.
type lazyRecord struct {
	item   reflect.Value
	fields map[string]jsonField
	cache  map[string]any
}

func (r *lazyRecord) get(name string) (any, bool) {
	if v, ok := r.cache[name]; ok {
		return v, true
	}
	f, ok := r.fields[name]
	if !ok {
		return nil, false
	}
	var v any
	if fv := r.item.FieldByIndex(f.index); !(f.omitEmpty && fv.IsZero()) {
		b, err := json.Marshal(fv.Interface())
		if err != nil {
			panic(fmt.Sprintf("bindsim: encoding %s: %v", name, err)) // the simulator's own types
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			panic(fmt.Sprintf("bindsim: decoding %s: %v", name, err))
		}
	}
	if r.cache == nil {
		r.cache = map[string]any{}
	}
	r.cache[name] = v
	return v, true
}

func knownField(fields map[string]jsonField, name string) bool {
	_, ok := fields[name]
	return ok
}

func (r *lazyRecord) value(name string) any {
	v, _ := r.get(name)
	return v
}

// Lists answer OData queries on wire items: $filter, $orderby, $skip and $top (at most 100
// whatever $top asks), with count of all matches and, if nextLink is set, a nextLink carrying the
// other options over on every page but the last. Filters and orderings see the items as their
// JSON objects, so field names are the definition's.

// selectRows applies $filter and $orderby; a query it cannot read is answered as Bind does, and
// ok is false.
func selectRows[T any](w http.ResponseWriter, q url.Values, items []T) (_ []T, ok bool) {
	fields := jsonFields(reflect.TypeFor[T]())
	type row struct {
		item T
		rec  *lazyRecord
	}
	rows := make([]row, 0, len(items))
	var filter node
	if f := q.Get("$filter"); f != "" {
		n, err := parseFilter(f)
		if err != nil {
			writeError(w, http.StatusBadRequest, "The query specified in the URI is not valid. "+err.Error())
			return nil, false
		}
		filter = n
	}
	for _, it := range items {
		rec := &lazyRecord{item: reflect.ValueOf(it), fields: fields}
		if filter != nil {
			ok, err := filter.eval(rec)
			if err != nil {
				writeError(w, http.StatusBadRequest, "The query specified in the URI is not valid. "+err.Error())
				return nil, false
			}
			if !ok {
				continue
			}
		}
		rows = append(rows, row{it, rec})
	}
	if ob := q.Get("$orderby"); ob != "" {
		type key struct {
			field string
			desc  bool
		}
		var keys []key
		for part := range strings.SplitSeq(ob, ",") {
			f := strings.Fields(part)
			if len(f) == 0 || !knownField(fields, f[0]) {
				writeError(w, http.StatusBadRequest, fmt.Sprintf("The query specified in the URI is not valid. Could not find a property named '%s'.", part))
				return nil, false
			}
			keys = append(keys, key{f[0], len(f) > 1 && f[1] == "desc"})
		}
		slices.SortStableFunc(rows, func(a, b row) int {
			for _, k := range keys {
				c := compareValues(a.rec.value(k.field), b.rec.value(k.field))
				if k.desc {
					c = -c
				}
				if c != 0 {
					return c
				}
			}
			return 0
		})
	}
	if _, ok := intParam(q, "$skip", 0); !ok {
		writeError(w, http.StatusBadRequest, "The query specified in the URI is not valid. $skip and $top must be non-negative integers.")
		return nil, false
	}
	if _, ok := intParam(q, "$top", PageSize); !ok {
		writeError(w, http.StatusBadRequest, "The query specified in the URI is not valid. $skip and $top must be non-negative integers.")
		return nil, false
	}
	out := make([]T, len(rows))
	for i, r := range rows {
		out[i] = r.item
	}
	return out, true
}

// writePage answers the page of rows that $skip and $top ask for.
func writePage[T any](w http.ResponseWriter, r *http.Request, nextLink bool, q url.Values, rows []T) {
	skip, ok := intParam(q, "$skip", 0)
	top, ok2 := intParam(q, "$top", PageSize)
	if !ok || !ok2 {
		writeError(w, http.StatusBadRequest, "The query specified in the URI is not valid. $skip and $top must be non-negative integers.")
		return
	}
	top = min(top, PageSize)
	total := len(rows)
	end := min(skip+top, total)
	out := pageOf[T]{Value: make([]T, 0, max(end-skip, 0)), Count: int64(total)}
	for i := skip; i < end; i++ {
		out.Value = append(out.Value, rows[i])
	}
	if nextLink && end < total {
		next := url.Values{}
		for k, v := range q {
			next[k] = v
		}
		next.Set("$skip", strconv.Itoa(end))
		out.NextLink = baseURL(r) + r.URL.Path + "?" + next.Encode()
	}
	writeJSON(w, http.StatusOK, out)
}

func intParam(q url.Values, name string, def int) (int, bool) {
	s := q.Get(name)
	if s == "" {
		return def, true
	}
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= 0
}

func compareValues(a, b any) int {
	switch x := a.(type) {
	case json.Number:
		y, ok := b.(json.Number)
		if !ok {
			return 1
		}
		dx, _ := decimal.NewFromString(x.String())
		dy, _ := decimal.NewFromString(y.String())
		return dx.Cmp(dy)
	case string:
		y, _ := b.(string)
		return strings.Compare(x, y)
	case bool:
		y, _ := b.(bool)
		switch {
		case x == y:
			return 0
		case !x:
			return -1
		}
		return 1
	case nil:
		if b == nil {
			return 0
		}
		return -1
	}
	return 0
}

// baseURL is how the client reached the simulator, as Bind's nextLinks are absolute.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}
