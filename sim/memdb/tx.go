package memdb

import "database/sql/driver"

// tx is a Conn seen as its open transaction. Being the same pointer, it
// costs BeginTx no allocation; the price is that a Tx value kept past its
// Commit or Rollback acts on whatever transaction the conn has open next
// (database/sql never does that).
type tx Conn

var _ driver.Tx = (*tx)(nil)

// Commit makes the transaction's rows visible to every conn.
func (t *tx) Commit() error {
	c := (*Conn)(t)
	if err := c.enter("Commit"); err != nil {
		return err
	}
	defer c.leave()
	if c.dead.Load() {
		return driver.ErrBadConn
	}
	return c.commitTx()
}

// Rollback discards the transaction's rows.
func (t *tx) Rollback() error {
	c := (*Conn)(t)
	if err := c.enter("Rollback"); err != nil {
		return err
	}
	defer c.leave()
	if c.dead.Load() {
		return driver.ErrBadConn
	}
	return c.rollbackTx()
}

// The helpers below run with busy held.

func (c *Conn) beginTx() error {
	if c.inTx.Load() {
		return ErrTxOpen
	}
	c.inTx.Store(true)
	return nil
}

func (c *Conn) commitTx() error {
	if !c.inTx.Load() {
		return ErrNoTx
	}
	if len(c.pending) > 0 {
		c.db.commit(c.pending)
		clear(c.pending)
	}
	c.inTx.Store(false)
	return nil
}

func (c *Conn) rollbackTx() error {
	if !c.inTx.Load() {
		return ErrNoTx
	}
	c.discardTx()
	return nil
}

// discardTx rolls back an open transaction, if any.
func (c *Conn) discardTx() {
	clear(c.pending)
	c.inTx.Store(false)
}

// insert adds one row to table: pending inside a transaction, committed at
// once outside one.
func (c *Conn) insert(table string) {
	if !c.inTx.Load() {
		c.db.commit1(table)
		return
	}
	if c.pending == nil {
		c.pending = make(map[string]int, 1)
	}
	c.pending[table]++
}
