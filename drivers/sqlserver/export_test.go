package sqlserver

import (
	"database/sql/driver"
	"net"
)

// WrapSockets replaces the network connection under each transport of
// conn, which d dialed and which has run no request yet, with wrap's, so
// that a test can watch what is done to the socket. It reports whether d
// knew conn.
func WrapSockets(d *Dialer, conn driver.Conn, wrap func(net.Conn) net.Conn) bool {
	v, ok := d.secrets().open.m.Load(conn)
	if !ok {
		return false
	}
	for _, t := range v.(*dialedTransports).ts {
		t.Conn = wrap(t.Conn)
	}
	return true
}

// TranIDFound reports whether InTransaction found go-mssqldb's transaction
// descriptor.
func TranIDFound() bool { return tranIDField.ok }
