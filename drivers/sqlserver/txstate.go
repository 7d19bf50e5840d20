package sqlserver

import (
	"database/sql/driver"
	"reflect"

	mssql "github.com/microsoft/go-mssqldb"
)

// tranIDField is the path from an mssql.Conn to its session's transaction
// descriptor, the one the server sent when a transaction began (ENVCHANGE
// 8, [MS-TDS] 2.2.7.9), which go-mssqldb clears when the server reports
// its commit or rollback (ENVCHANGE 9, 10), however it began: BeginTx, or
// BEGIN TRAN sent as SQL. go-mssqldb keeps it unexported
// (Conn.sess.tranid in v1.11.2) and offers no other way to ask; reflect
// reads it without unsafe. ok is false when a driver version names it
// otherwise: InTransaction then reports false, as before it existed, and
// TestTheDriversTransactionDescriptorIsFound fails.
var tranIDField = func() (p struct {
	sess, tranid int
	ok           bool
}) {
	sess, ok := reflect.TypeFor[mssql.Conn]().FieldByName("sess")
	if !ok || sess.Type.Kind() != reflect.Pointer || sess.Type.Elem().Kind() != reflect.Struct {
		return p
	}
	id, ok := sess.Type.Elem().FieldByName("tranid")
	if !ok || id.Type.Kind() != reflect.Uint64 || len(sess.Index) != 1 || len(id.Index) != 1 {
		return p
	}
	p.sess, p.tranid, p.ok = sess.Index[0], id.Index[0], true
	return p
}()

// InTransaction implements manager.TxReporter: it reports whether
// go-mssqldb holds a transaction descriptor for conn, a connection of
// this Dialer's. The pool asks at Release, after rolling back the
// driver.Tx the lease left open, if any: a transaction still open then
// was begun as SQL (BEGIN TRAN in a batch). go-mssqldb's ResetSession
// only flags the next request for sp_reset_connection, so it would stay
// open, with its locks, while the connection sat idle in the pool; the
// pool closes the connection instead, and SQL Server rolls it back as the
// session ends. No I/O: the pool calls it with no call in flight on conn,
// after go-mssqldb's response reader has ended.
func (d *Dialer) InTransaction(conn driver.Conn) bool {
	mc, ok := conn.(*mssql.Conn)
	if !ok || mc == nil || !tranIDField.ok {
		return false
	}
	sess := reflect.ValueOf(mc).Elem().Field(tranIDField.sess)
	return !sess.IsNil() && sess.Elem().Field(tranIDField.tranid).Uint() != 0
}
