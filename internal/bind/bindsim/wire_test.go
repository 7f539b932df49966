package bindsim

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// schemas reads the component schemas of Bind's official definition, found as the contract test
// in package bind finds it (HANDYBIND_BIND_OPENAPI, or the shared reference folder beside the
// repository).
func schemas(t *testing.T) map[string]jsonSchema {
	t.Helper()
	path := os.Getenv("HANDYBIND_BIND_OPENAPI")
	if path == "" {
		wd, err := os.Getwd()
		require.NoError(t, err)
		for dir := wd; dir != filepath.Dir(dir); dir = filepath.Dir(dir) {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				path = filepath.Join(filepath.Dir(dir), "shared", "reference", "bind-erp-api.openapi3.json")
				break
			}
		}
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("the official Bind definition is required in CI: %v", err)
		}
		t.Skipf("skipped: the official Bind definition is not at %s (%v); set HANDYBIND_BIND_OPENAPI", path, err)
	}
	var doc struct {
		Components struct {
			Schemas map[string]jsonSchema `json:"schemas"`
		} `json:"components"`
	}
	require.NoError(t, json.Unmarshal(raw, &doc))
	return doc.Components.Schemas
}

// jsonSchema is as much of an OpenAPI schema as the comparison needs.
type jsonSchema struct {
	Ref        string                `json:"$ref"`
	Type       string                `json:"type"`
	Format     string                `json:"format"`
	Properties map[string]jsonSchema `json:"properties"`
	Items      *jsonSchema           `json:"items"`
	Required   []string              `json:"required"`
}

// TestWireTypesAreTheDefinitions checks each wire type against its schema in both directions:
// every property of the schema is a field spelt the same, every field is a property, the JSON
// types agree, and the required properties are the ones decodeRequest insists on. A field the
// simulator leaves empty (and so never writes) is covered too, which no exchange would show.
func TestWireTypesAreTheDefinitions(t *testing.T) {
	t.Parallel()
	all := schemas(t)
	for _, tc := range []struct {
		v      any
		schema string
	}{
		{pageOf[priceList]{}, "PriceListPage"},
		{pageOf[currency]{}, "CurrencyPage"},
		{pageOf[location]{}, "LocationPage"},
		{pageOf[warehouse]{}, "WarehousePage"},
		{pageOf[account]{}, "AccountPage"},
		{pageOf[user]{}, "UserPage"},
		{pageOf[product]{}, "ProductPage"},
		{pageOf[clientListItem]{}, "ClientListItemPage"},
		{pageOf[orderListItem]{}, "OrderListItemPage"},
		{userProfile{}, "UserProfile"},
		{productDetails{}, "ProductDetails"},
		{[]productPriceAndInventory{}, "ProductPriceAndInventoryArray"},
		{clientDetails{}, "ClientDetails"},
		{orderDetails{}, "OrderDetails"},
		{newProduct{}, "NewProduct"},
		{editProduct{}, "EditProduct"},
		{newClient{}, "NewClient"},
		{newOrder{}, "NewOrder"},
	} {
		t.Run(tc.schema, func(t *testing.T) {
			t.Parallel()
			for _, problem := range compareWire(reflect.TypeOf(tc.v), all[tc.schema], all, tc.schema) {
				t.Error(problem)
			}
		})
	}
}

var (
	numberType   = reflect.TypeFor[number]()
	dateTimeType = reflect.TypeFor[dateTime]()
)

func compareWire(t reflect.Type, s jsonSchema, all map[string]jsonSchema, at string) []string {
	if s.Ref != "" {
		return compareWire(t, all[strings.TrimPrefix(s.Ref, "#/components/schemas/")], all, at)
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var jsonType string
	switch {
	case t == numberType:
		jsonType = "number"
	case t == dateTimeType:
		if s.Format != "date-time" {
			return []string{fmt.Sprintf("%s: a date-time here, format %q in the definition", at, s.Format)}
		}
		jsonType = "string"
	case t.Kind() == reflect.String:
		jsonType = "string"
	case t.Kind() == reflect.Bool:
		jsonType = "boolean"
	case t.Kind() == reflect.Int32 || t.Kind() == reflect.Int64:
		jsonType = "integer"
	case t.Kind() == reflect.Slice:
		jsonType = "array"
	case t.Kind() == reflect.Struct:
		jsonType = "object"
	}
	if jsonType != s.Type {
		return []string{fmt.Sprintf("%s: %s here, %q in the definition", at, t, s.Type)}
	}
	switch jsonType {
	case "array":
		return compareWire(t.Elem(), *s.Items, all, at+"[]")
	case "object":
		var problems []string
		fields := map[string]reflect.StructField{}
		var required []string
		var collect func(reflect.Type)
		collect = func(t reflect.Type) {
			for i := range t.NumField() {
				f := t.Field(i)
				if f.Anonymous {
					collect(f.Type)
					continue
				}
				name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
				fields[name] = f
				if f.Tag.Get("bind") == "required" {
					required = append(required, name)
				}
			}
		}
		collect(t)
		for name, f := range fields {
			prop, ok := s.Properties[name]
			if !ok {
				problems = append(problems, fmt.Sprintf("%s: %q (field %s) is not a property of the definition", at, name, f.Name))
				continue
			}
			problems = append(problems, compareWire(f.Type, prop, all, at+"."+name)...)
		}
		for name := range s.Properties {
			if _, ok := fields[name]; !ok {
				problems = append(problems, fmt.Sprintf("%s: the definition's %q has no field", at, name))
			}
		}
		slices.Sort(required)
		want := slices.Clone(s.Required)
		slices.Sort(want)
		if !slices.Equal(required, want) {
			problems = append(problems, fmt.Sprintf("%s: required %v here, %v in the definition", at, required, want))
		}
		return problems
	}
	return nil
}
