package tds_test

import (
	"database/sql"
	"testing"
	"time"

	"github.com/idpool/idpool/sim/tds"
	mssql "github.com/microsoft/go-mssqldb"
	"github.com/stretchr/testify/require"
)

// The server counts its peak sessions and the logins its limit refused.
func TestPeakSessionsAndLimitRefusals(t *testing.T) {
	srv, err := tds.Start(tds.Options{Users: map[string]string{"sa": "pw"}})
	require.NoError(t, err)
	defer srv.Close()
	srv.SetMaxSessions(2)
	c, err := mssql.NewConnector("sqlserver://sa:pw@" + srv.Addr() + "?encrypt=disable")
	require.NoError(t, err)
	db := sql.OpenDB(c)
	defer db.Close()
	db.SetMaxIdleConns(3)
	var conns []*sql.Conn
	for range 2 {
		cn, err := db.Conn(t.Context())
		require.NoError(t, err)
		require.NoError(t, cn.PingContext(t.Context()))
		conns = append(conns, cn)
	}
	_, err = db.Conn(t.Context())
	require.Error(t, err, "a third login passes the limit")
	require.Equal(t, 2, srv.PeakSessions())
	require.Equal(t, 2, srv.SessionCount())
	require.Positive(t, srv.LimitRefusals())
	for _, cn := range conns {
		cn.Close()
	}
}

// WatchAbove times the stretches with more sessions than the watched count:
// one begins at the login that passes it and ends at the close that brings
// the count back; a stretch still going counts up to the moment asked.
func TestWatchAboveTimesEachStretchOverTheCount(t *testing.T) {
	srv, err := tds.Start(tds.Options{Users: map[string]string{"sa": "pw"}})
	require.NoError(t, err)
	defer srv.Close()
	c, err := mssql.NewConnector("sqlserver://sa:pw@" + srv.Addr() + "?encrypt=disable")
	require.NoError(t, err)
	db := sql.OpenDB(c)
	defer db.Close()
	db.SetMaxIdleConns(0) // a Close closes the session
	open := func() *sql.Conn {
		cn, err := db.Conn(t.Context())
		require.NoError(t, err)
		require.NoError(t, cn.PingContext(t.Context()))
		return cn
	}
	first := open()
	srv.WatchAbove(1)
	n, longest := srv.AboveStretches()
	require.Zero(t, n, "one session is not above 1")
	require.Zero(t, longest)

	second := open()
	n, during := srv.AboveStretches()
	require.Equal(t, 1, n, "the second login began a stretch")
	require.Positive(t, during, "a stretch still going counts up to now")
	third := open()
	n, _ = srv.AboveStretches()
	require.Equal(t, 1, n, "a third login is the same stretch")

	require.NoError(t, third.Close())
	require.NoError(t, second.Close())
	require.Eventually(t, func() bool { return srv.SessionCount() == 1 }, 5*time.Second, time.Millisecond,
		"the server reaps the closed sessions")
	n, ended := srv.AboveStretches()
	require.Equal(t, 1, n)
	require.GreaterOrEqual(t, ended, during)
	_, again := srv.AboveStretches()
	require.Equal(t, ended, again, "an ended stretch no longer grows")

	second = open()
	n, _ = srv.AboveStretches()
	require.Equal(t, 2, n, "a new stretch")

	srv.WatchAbove(1) // starts again: the stretch going on now is the only one
	n, _ = srv.AboveStretches()
	require.Equal(t, 1, n)
	require.True(t, srv.Kill(srv.Sessions()[1].SPID), "a KILL ends a session too")
	_, a := srv.AboveStretches()
	_, b := srv.AboveStretches()
	require.Equal(t, a, b, "the KILL ended the stretch")

	srv.WatchAbove(0)
	n, longest = srv.AboveStretches()
	require.Zero(t, n, "WatchAbove(0) stops and forgets")
	require.Zero(t, longest)
	require.NoError(t, first.Close())
	_ = second.Close()
}
