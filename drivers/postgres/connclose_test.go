package postgres

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/idpool/idpool/manager"
)

// The pool closes pgx's connections by their own Close: pgx's Close sends
// Terminate before it closes the socket, so the server ends the session
// quietly. A Dialer that were a manager.ConnCloser closing the socket first
// (as drivers/sqlserver's does, for go-mssqldb's shared buffer) would skip
// Terminate, and the server would log an unexpected EOF for every close;
// and pgx runs no reader of its own and hands no buffer on before its
// Close closes the socket (pgconn's Close sends Terminate, then closes), so
// there is nothing to guard.
func TestThePgxDialerIsNoConnCloser(t *testing.T) {
	var d any = (*Dialer)(nil)
	_, ok := d.(manager.ConnCloser)
	assert.False(t, ok, "drivers/postgres's Dialer must leave pgx's Close (and its Terminate) to the connection")
}
