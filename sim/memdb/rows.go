package memdb

import (
	"database/sql/driver"
	"io"
)

var noCols = []string{}

// rows is a result set of at most one row and one column.
type rows struct {
	owner  *Conn // set when the rows are the conn's reusable buffer
	cols   []string
	val    driver.Value
	done   bool
	closed bool
}

var _ driver.Rows = (*rows)(nil)

// newRows returns res as driver.Rows, reusing the conn's buffer unless a
// previous result set from this conn is still open.
func (c *Conn) newRows(res result) *rows {
	r := &c.rowsBuf
	owner := c
	if !c.rowsBusy.CompareAndSwap(false, true) {
		r, owner = new(rows), nil
	}
	*r = rows{owner: owner, cols: res.cols, val: res.val, done: res.cols == nil}
	if r.cols == nil {
		r.cols = noCols
	}
	return r
}

// Columns names the result's column (none for statements without rows).
func (r *rows) Columns() []string { return r.cols }

// Close ends the result set and frees the conn's buffer for the next one.
func (r *rows) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	if r.owner != nil {
		r.owner.rowsBusy.Store(false)
	}
	return nil
}

// Next yields the single row, then io.EOF.
func (r *rows) Next(dest []driver.Value) error {
	if r.done || r.closed {
		return io.EOF
	}
	r.done = true
	if len(dest) > 0 {
		dest[0] = r.val
	}
	return nil
}
