package postgres

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSessionConnReadTimeoutBeforeTheResetsRepliesIsNotAFailure: a Read
// that times out (a deadline pgconn set for a ctx, as in a
// WaitForNotification with a timeout, the first call of a lease, which sends
// the pending reset on its own) before the reset's replies came has lost
// nothing: the filter follows the stream across reads, and the reset still
// precedes whatever is sent next. The timeout reaches pgx as a timeout
// (pgx keeps the connection), and the next call works, with the reset's
// replies taken out as usual.
func TestSessionConnReadTimeoutBeforeTheResetsRepliesIsNotAFailure(t *testing.T) {
	sc, server := pipeConn(t)
	require.True(t, sc.deferReset())
	received := make(chan []byte, 1)
	go func() { received <- readN(server, len(resetMessages[1])) }()
	require.NoError(t, sc.SetReadDeadline(time.Now().Add(-time.Second)))
	_, err := sc.Read(make([]byte, 64))
	var ne net.Error
	require.True(t, errors.As(err, &ne) && ne.Timeout(), "a timeout: %v", err)
	assert.NotContains(t, err.Error(), "session reset")
	assert.Equal(t, resetMessages[1], <-received, "the reset went")

	require.NoError(t, sc.SetReadDeadline(time.Time{}))
	go func() { received <- readN(server, len(userQuery)) }()
	_, err = sc.Write(userQuery)
	require.NoError(t, err)
	assert.Equal(t, userQuery, <-received, "the request goes alone")
	serve(t, server, cat(setCmdDone, readyIdle, userReplies))
	got, err := readByteByByte(sc, len(userReplies))
	require.NoError(t, err)
	assert.Equal(t, userReplies, got)
}
