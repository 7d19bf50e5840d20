package manager

import (
	"context"
	"database/sql/driver"
	"io"
	"sync"
)

// spyConn implements every optional driver interface and records each call,
// to prove the facade forwards them. bareConn implements only driver.Conn.
type spyConn struct {
	mu    sync.Mutex
	calls map[string]int
}

func newSpy() *spyConn { return &spyConn{calls: map[string]int{}} }

func (s *spyConn) hit(name string) {
	s.mu.Lock()
	s.calls[name]++
	s.mu.Unlock()
}

func (s *spyConn) count(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[name]
}

func (s *spyConn) Prepare(string) (driver.Stmt, error) { s.hit("Prepare"); return spyStmt{}, nil }
func (s *spyConn) Close() error                        { s.hit("Close"); return nil }
func (s *spyConn) Begin() (driver.Tx, error)           { s.hit("Begin"); return spyTx{}, nil }
func (s *spyConn) BeginTx(context.Context, driver.TxOptions) (driver.Tx, error) {
	s.hit("BeginTx")
	return spyTx{}, nil
}
func (s *spyConn) PrepareContext(context.Context, string) (driver.Stmt, error) {
	s.hit("PrepareContext")
	return spyStmt{}, nil
}
func (s *spyConn) QueryContext(context.Context, string, []driver.NamedValue) (driver.Rows, error) {
	s.hit("QueryContext")
	return &spyRows{}, nil
}
func (s *spyConn) ExecContext(context.Context, string, []driver.NamedValue) (driver.Result, error) {
	s.hit("ExecContext")
	return driver.RowsAffected(1), nil
}
func (s *spyConn) CheckNamedValue(*driver.NamedValue) error { s.hit("CheckNamedValue"); return nil }
func (s *spyConn) Ping(context.Context) error               { s.hit("Ping"); return nil }
func (s *spyConn) ResetSession(context.Context) error       { s.hit("ResetSession"); return nil }
func (s *spyConn) IsValid() bool                            { s.hit("IsValid"); return true }

type bareConn struct{ spy *spyConn }

func (b bareConn) Prepare(q string) (driver.Stmt, error) { b.spy.hit("Prepare"); return spyStmt{}, nil }
func (b bareConn) Close() error                          { b.spy.hit("Close"); return nil }
func (b bareConn) Begin() (driver.Tx, error)             { b.spy.hit("Begin"); return spyTx{}, nil }

type spyStmt struct{}

func (spyStmt) Close() error                               { return nil }
func (spyStmt) NumInput() int                              { return -1 }
func (spyStmt) Exec([]driver.Value) (driver.Result, error) { return driver.RowsAffected(1), nil }
func (spyStmt) Query([]driver.Value) (driver.Rows, error)  { return &spyRows{}, nil }

type spyTx struct{}

func (spyTx) Commit() error   { return nil }
func (spyTx) Rollback() error { return nil }

type spyRows struct{ done bool }

func (r *spyRows) Columns() []string { return []string{"x"} }
func (r *spyRows) Close() error      { return nil }
func (r *spyRows) Next(dest []driver.Value) error {
	if r.done {
		return io.EOF
	}
	r.done = true
	dest[0] = int64(1)
	return nil
}
