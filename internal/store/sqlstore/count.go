package sqlstore

import (
	"sync/atomic"

	"gorm.io/gorm"
)

// counter counts the SQL statements the store sends, so that the cost of a sync can be measured
// in round trips: every statement GORM runs, and a BEGIN and a COMMIT (or ROLLBACK) per
// transaction. River's own statements are not counted.
type counter struct{ n atomic.Int64 }

func (c *counter) register(g *gorm.DB) error {
	inc := func(*gorm.DB) { c.n.Add(1) }
	cb := g.Callback()
	for _, err := range []error{
		cb.Create().After("gorm:create").Register("handybind:count", inc),
		cb.Query().After("gorm:query").Register("handybind:count", inc),
		cb.Update().After("gorm:update").Register("handybind:count", inc),
		cb.Delete().After("gorm:delete").Register("handybind:count", inc),
		cb.Row().After("gorm:row").Register("handybind:count", inc),
		cb.Raw().After("gorm:raw").Register("handybind:count", inc),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}

// Statements is how many SQL statements the stores on db have sent since it was opened.
func (db *DB) Statements() int64 { return db.count.n.Load() }
