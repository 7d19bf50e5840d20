package memdb

import (
	"context"
	"database/sql/driver"
	"errors"
)

// result is what one statement produced: at most one row of one column.
type result struct {
	cols     []string // nil: no result set
	val      driver.Value
	affected int64
}

// Column names, shared by every result set. database/sql hands them to
// callers as they are; do not modify them.
var (
	colValue    = []string{"value"}
	colIdentity = []string{"identity"}
	colCount    = []string{"count"}
)

// run executes one statement with busy held.
func (c *Conn) run(ctx context.Context, query string) (result, error) {
	c.bump(&c.queries)
	if c.dead.Load() {
		return result{}, driver.ErrBadConn
	}
	if err := ctx.Err(); err != nil {
		// Nothing was sent, so the wire state is still known.
		return result{}, err
	}
	st, err := parse(query)
	if err != nil {
		return result{}, err
	}
	if err := c.db.queryFail.take(); err != nil {
		if errors.Is(err, driver.ErrBadConn) {
			c.markDead()
		}
		return result{}, err
	}
	switch st.kind {
	case stmtSelectOne:
		return result{cols: colValue, val: int64(1)}, nil
	case stmtSelectIdentity:
		return result{cols: colIdentity, val: c.identityVal}, nil
	case stmtSelectCount:
		return result{cols: colCount, val: int64(c.db.committed(st.table) + c.pending[st.table])}, nil
	case stmtInsert:
		c.insert(st.table)
		return result{affected: 1}, nil
	case stmtSleep:
		return result{}, c.sleep(ctx, st)
	case stmtBegin:
		return result{}, c.beginTx()
	case stmtCommit:
		return result{}, c.commitTx()
	case stmtRollback:
		return result{}, c.rollbackTx()
	}
	return result{}, ErrUnsupported // unreachable: parse knows every kind
}

// sleep waits like a slow query. If ctx ends first the request is abandoned
// mid-flight, so the conn's wire state is unknown and it is marked dead; if
// the conn is killed meanwhile the sleep ends with driver.ErrBadConn.
func (c *Conn) sleep(ctx context.Context, st statement) error {
	killed := c.killedChan()
	if killed == nil {
		return driver.ErrBadConn
	}
	err := wait(ctx, st.sleep, killed)
	if err != nil && !errors.Is(err, driver.ErrBadConn) {
		c.bump(&c.cancels)
		c.markDead()
	}
	return err
}
