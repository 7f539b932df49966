package sqlstore

import (
	"reflect"
	"strings"
	"sync"
	"testing"

	"gorm.io/gorm/schema"
)

// The connection page is scanned by hand; its column list must follow the row type field for
// field, or a column added to the row would silently read as empty.
func TestConnectionColumnsFollowTheRowType(t *testing.T) {
	sch, err := schema.Parse(&connectionRow{}, &sync.Map{}, schema.NamingStrategy{})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, f := range sch.Fields {
		want = append(want, f.DBName)
	}
	got := strings.Split(connectionColumns, ", ")
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("connectionColumns\n got %v\nwant %v", got, want)
	}
	var r connectionRow
	dest := r.fields()
	if len(dest) != len(sch.Fields) {
		t.Fatalf("fields gives %d destinations for %d columns", len(dest), len(sch.Fields))
	}
	rv := reflect.ValueOf(&r).Elem()
	for i, f := range sch.Fields {
		if p := rv.FieldByIndex(f.StructField.Index).Addr().Interface(); p != dest[i] {
			t.Errorf("destination %d is not the field %s", i, f.Name)
		}
	}
}
