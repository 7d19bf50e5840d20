package sqlserver

import (
	"database/sql/driver"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"weak"

	mssql "github.com/microsoft/go-mssqldb"
)

// transport is one network connection a Dial opened. go-mssqldb reads and
// writes it; the Dialer keeps it to cut it (AbortTransport: the socket
// only) and to close it (CloseConn), and forgets it when either CloseConn
// or go-mssqldb's own Close closes it.
type transport struct {
	net.Conn
	// forget removes the connection from its Dialer's set of open ones; it
	// is set once the login has finished, and run at most once.
	forget atomic.Pointer[func()]
	// written counts the bytes go-mssqldb has written (over TLS, those of
	// the records): whether a request went out since a reset was flagged.
	written atomic.Uint64
	// cut is set by AbortTransport, before it closes the socket.
	cut atomic.Bool
}

// Write counts what it writes. Once the transport is cut, it takes what
// go-mssqldb writes without sending it: the attention a result set's Close
// sends to cancel its reply. go-mssqldb drains the reply's tokens only
// after that write succeeded; when it fails, its Close returns at once and
// leaves its response reader blocked for good on its full token channel,
// holding the session and its buffer (a goroutine and a buffer lost for
// each cut that came before the Close; go-mssqldb v1.11.2's
// tokenProcessor.nextToken). Taken, the attention is followed by the drain,
// whose reads fail on the closed socket, and the reader ends. A new
// request would look sent too: the pool refuses a cut lease's later calls
// before they reach the driver (manager's lease guard), then closes the
// connection; only a holder of Lease.Raw can still write one.
func (t *transport) Write(b []byte) (int, error) {
	if t.cut.Load() {
		return len(b), nil
	}
	n, err := t.Conn.Write(b)
	t.written.Add(uint64(n))
	return n, err
}

// Close closes the network connection and forgets it.
func (t *transport) Close() error {
	if f := t.forget.Swap(nil); f != nil {
		(*f)()
	}
	return t.Conn.Close()
}

// openConns is a Dialer's set of open connections, each with the network
// connections its Dial opened (more than one when go-mssqldb followed a
// redirect or raced several addresses; all but one of those are closed).
// sync.Map suits it: each key is written once and deleted once, by
// different goroutines.
//
// closed remembers, weakly, the connections go-mssqldb's own Close closed
// (a user's Close of Lease.Raw's connection): that Close has handed the
// buffer on, and a second one, from CloseConn finding the connection
// unknown, would hand it on again, to two connections at once.
type openConns struct{ m, closed sync.Map }

// dialedTransports is the value of an openConns entry: a pointer, so that
// CompareAndDelete can compare it. cut is set by the first abort: the
// entry stays until the connection is closed, so that CloseConn still
// knows the connection as this Dialer's (and keeps go-mssqldb's Close, which
// would hand its buffer on, from running), but it cannot be cut again.
type dialedTransports struct {
	ts  []*transport
	cut atomic.Bool
	// armedAt is what ts had written when go-mssqldb last flagged the
	// connection for a reset (at Connect, and at each SessionReset).
	armedAt atomic.Uint64
}

// written sums what the transports have written.
func (v *dialedTransports) written() uint64 {
	var n uint64
	for _, t := range v.ts {
		n += t.written.Load()
	}
	return n
}

// add records conn's transports; each forgets conn when it closes.
func (o *openConns) add(conn driver.Conn, ts []*transport) {
	v := &dialedTransports{ts: ts}
	v.armedAt.Store(v.written()) // go-mssqldb's Connect flags a reset
	o.m.Store(conn, v)
	forget := func() {
		// closeConn deletes conn before it closes the transports: a
		// delete here is go-mssqldb's own Close.
		if o.m.CompareAndDelete(conn, v) {
			o.closedByDriver(conn)
		}
	}
	for _, t := range ts {
		t.forget.Store(&forget)
	}
}

// abort closes conn's transports, unless an abort did already, and reports
// whether it did. conn stays known until closeConn (or go-mssqldb's own
// Close) forgets it.
func (o *openConns) abort(conn driver.Conn) bool {
	v, ok := o.m.Load(conn)
	if !ok || v.(*dialedTransports).cut.Swap(true) {
		return false
	}
	for _, t := range v.(*dialedTransports).ts {
		t.cut.Store(true)
		_ = t.Conn.Close() // the socket only: conn stays known
	}
	return true
}

// armed notes that conn was just flagged for a reset.
func (o *openConns) armed(conn driver.Conn) {
	if v, ok := o.m.Load(conn); ok {
		v.(*dialedTransports).armedAt.Store(v.(*dialedTransports).written())
	}
}

// unsentReset reports whether conn has written nothing since it was last
// flagged for a reset: no request has carried that reset yet.
func (o *openConns) unsentReset(conn driver.Conn) bool {
	v, ok := o.m.Load(conn)
	return ok && v.(*dialedTransports).written() == v.(*dialedTransports).armedAt.Load()
}

// closeConn closes conn's transports (again, after an abort: closing twice
// does no harm) and forgets conn; it reports whether conn was known, open or
// cut.
func (o *openConns) closeConn(conn driver.Conn) bool {
	v, ok := o.m.LoadAndDelete(conn)
	if !ok {
		return false
	}
	for _, t := range v.(*dialedTransports).ts {
		_ = t.Close()
	}
	return true
}

// closedByDriver remembers that go-mssqldb's own Close closed conn, until
// conn is garbage.
func (o *openConns) closedByDriver(conn driver.Conn) {
	mc, ok := conn.(*mssql.Conn)
	if !ok {
		return
	}
	w := weak.Make(mc)
	o.closed.Store(w, struct{}{})
	runtime.AddCleanup(mc, func(w weak.Pointer[mssql.Conn]) { o.closed.Delete(w) }, w)
}

// wasClosedByDriver reports whether go-mssqldb's own Close closed conn.
func (o *openConns) wasClosedByDriver(conn driver.Conn) bool {
	mc, ok := conn.(*mssql.Conn)
	if !ok {
		return false
	}
	_, closed := o.closed.Load(weak.Make(mc))
	return closed
}

// len counts the open connections, for tests.
func (o *openConns) len() int {
	n := 0
	o.m.Range(func(any, any) bool { n++; return true })
	return n
}
