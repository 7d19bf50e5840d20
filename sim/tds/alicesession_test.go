package tds_test

import (
	"context"
	"database/sql"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/sim/tds"
)

// aliceSession is a server, a *sql.DB logged in as alice, and one session
// of it (closed when the test ends), for tests that need the same session
// across statements (a transaction, a prepared handle).
type aliceSession struct {
	srv  *tds.Server
	db   *sql.DB
	conn *sql.Conn
	ctx  context.Context
}

func newAliceSession(t *testing.T) aliceSession {
	t.Helper()
	srv := startServer(t)
	db := openDB(t, sqlDSN(srv, "alice", alicePassword, ""))
	ctx := ctxT(t)
	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return aliceSession{srv: srv, db: db, conn: conn, ctx: ctx}
}
