package sqlserver_test

import (
	"context"
	"database/sql/driver"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/actors"
	"github.com/idpool/idpool/drivers/sqlserver"
	"github.com/idpool/idpool/tokens"
)

// TestAResultSetClosedAfterItsTransportWasCutEndsGoMssqldbsReader: the
// pool cuts a connection's transport (AbortTransport) when the Close of a
// result set left open at Release outlives CancelGrace, and the cut may
// come before that Close has begun. go-mssqldb's Close then sends an
// attention to cancel the reply; if that write fails, it returns at once
// without draining the reply's tokens, and its response reader, blocked on
// its full token channel, is left blocked for good, holding the session
// and its buffer (a goroutine and a buffer lost per cut; CI saw one). The
// cut transport takes the attention without sending it, so go-mssqldb
// drains the reply and its reader ends.
func TestAResultSetClosedAfterItsTransportWasCutEndsGoMssqldbsReader(t *testing.T) {
	watchReaders()
	srv := startServer(t)
	d, err := sqlserver.NewDialer(dsnFor(srv, ""))
	require.NoError(t, err)
	conn, err := d.Dial(ctxT(t), actors.DialRequest{Key: tokens.NewKey(d.ServerKey(), ""), Identity: tokens.SQLLogin()})
	require.NoError(t, err)
	defer func() { require.NoError(t, d.CloseConn(conn)) }()

	// Many small results: a packet holds far more tokens than the
	// reader's channel (5), so one cut mid-packet leaves it more to send.
	st, err := conn.(driver.ConnPrepareContext).PrepareContext(context.Background(), strings.Repeat("SELECT 1;", 5000))
	require.NoError(t, err)
	rows, err := st.(driver.StmtQueryContext).QueryContext(context.Background(), nil)
	require.NoError(t, err)
	dest := make([]driver.Value, 1)
	require.NoError(t, rows.Next(dest))
	require.Eventually(t, readerBlockedSending, 10*time.Second, time.Millisecond,
		"go-mssqldb's reader filled its token channel")

	require.True(t, d.AbortTransport(conn))
	_ = rows.Close() // fails: the reply was cut
	awaitNoReader(t)
}

// readerBlockedSending reports whether a go-mssqldb response reader waits
// to send a token on its full channel.
func readerBlockedSending() bool {
	buf := make([]byte, 1<<22)
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		if strings.Contains(g, "[chan send") && strings.Contains(g, "go-mssqldb.processSingleResponse(") {
			return true
		}
	}
	return false
}
