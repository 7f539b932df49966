package sqlstore

import (
	"strings"
	"sync"
	"time"

	"github.com/handybind/handybind/internal/store"
)

// connCacheSize bounds the connections kept for listing: about a kilobyte each (their sealed
// tokens included), so some 10 MB at most.
const connCacheSize = 10000

// connStamp is what a listing reads of each connection: enough to tell whether the copy kept
// from an earlier read is still the stored one.
type connStamp struct {
	id      string
	updated time.Time
}

// connCache keeps connections as last read, by id. An entry serves only a reader that found the
// same update time in the database, so another replica's write is never hidden: every write of a
// connection goes through UpdateConnection, which stamps a new time. (A row changed by hand in
// the database without a new updated_at is listed as it was until the entry goes.)
type connCache struct {
	mu   sync.Mutex
	max  int
	byID map[string]*store.Connection
}

func newConnCache(max int) *connCache {
	return &connCache{max: max, byID: map[string]*store.Connection{}}
}

// get returns a copy of the kept connection when it was last updated at st.updated, or nil.
func (c *connCache) get(st connStamp) *store.Connection {
	c.mu.Lock()
	kept := c.byID[strings.ToLower(st.id)]
	c.mu.Unlock()
	if kept == nil || !kept.UpdatedAt.Equal(st.updated) {
		return nil
	}
	// A copy: callers may change what they are given (the sealed tokens' bytes are shared, and
	// never written).
	cp := *kept
	return &cp
}

func (c *connCache) put(conn *store.Connection) {
	cp := *conn
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.byID) >= c.max {
		// Bounded; a fleet larger than the bound is read in full more often, never wrongly.
		clear(c.byID)
	}
	c.byID[strings.ToLower(cp.ID)] = &cp
}
