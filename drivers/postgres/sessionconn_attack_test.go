package postgres

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSessionConnFailsWhenTheResetLeavesATransactionOpen: a reset whose
// ReadyForQuery reports the session in a transaction block ('T') or a
// failed one ('E') did not leave the session as a fresh login's: the
// request behind it ran, or runs, inside a transaction nobody began. The
// Read fails with an error naming the reset, so pgx closes the connection
// (which rolls that transaction back) and the call fails, and none of the
// request's replies reach pgx as its result.
func TestSessionConnFailsWhenTheResetLeavesATransactionOpen(t *testing.T) {
	for _, status := range []string{"T", "E", "", "IX"} {
		t.Run("status "+status, func(t *testing.T) {
			sc, server := pipeConn(t)
			sendAfterRelease(t, sc, server)
			serve(t, server, cat(setCmdDone, frame('Z', status), userReplies))
			got, err := readByteByByte(sc, len(userReplies))
			var re *resetError
			require.ErrorAs(t, err, &re, "got %q", got)
			assert.False(t, re.Fatal())
			assert.ErrorContains(t, err, "session reset")
			assert.ErrorContains(t, err, "may have run")
			assert.Empty(t, got, "nothing after the reset reaches pgx")
			_, err = sc.Write(userQuery)
			assert.ErrorAs(t, err, &re, "the connection stays failed")
		})
	}
}
