package tds

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestClientGoneCancelsItsRequest: when a connection ends while its
// request runs (the client crashed or dropped it, or broke the protocol so
// the server closed it), that request ends too, as SQL Server aborts the
// batch of a broken connection. The simulator ran it to its end instead: a
// WAITFOR DELAY '23:59:59' kept its session (in Sessions, counted against
// SetMaxSessions) and its goroutines for a day after the connection had
// gone, so a client looping on connect, WAITFOR, disconnect piled up
// goroutines without bound.
func TestClientGoneCancelsItsRequest(t *testing.T) {
	c := captureClient(t)
	srv := startRawServer(t, Options{})
	for i, tc := range []struct {
		name  string
		leave func(r *rawClient)
	}{
		{"client closes the connection", func(r *rawClient) { require.NoError(t, r.c.Close()) }},
		{"client sends a second request", func(r *rawClient) {
			r.send(pktSQLBatch, 0, batchPayload("SELECT 1"))
			r.expectClosed()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			table := fmt.Sprintf("gone%d", i)
			r := dialRaw(t, srv)
			r.login(c)
			r.send(pktSQLBatch, 0, batchPayload("CREATE TABLE "+table+" (id int)"))
			_, isErr := firstError(r.reply())
			require.False(t, isErr)
			r.send(pktSQLBatch, 0, batchPayload("BEGIN TRAN INSERT INTO "+table+" VALUES (1) WAITFOR DELAY '23:59:59'"))
			waitRunning(t, srv)
			tc.leave(r)
			require.Eventually(t, func() bool { return len(srv.Sessions()) == 0 }, 10*time.Second, time.Millisecond,
				"the session of a connection that ended still runs its request")
			n, _ := srv.CommittedRows(table)
			require.Zero(t, n, "the transaction of a connection that ended was applied")
		})
	}
}
