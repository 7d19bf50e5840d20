package tds_test

import (
	"database/sql"
	"testing"

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
