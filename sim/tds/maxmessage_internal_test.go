package tds

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOversizedMessagesOnTheWire: past the limit, an ignored message is still
// dropped without a reply, a request is answered with error 50000 and the
// stream stays in step, and a PRELOGIN closes the connection as before.
func TestOversizedMessagesOnTheWire(t *testing.T) {
	c := captureClient(t)
	srv, err := Start(Options{Users: map[string]string{"sa": "Seed-Passw0rd"}, MaxMessageSize: 1024})
	require.NoError(t, err)
	defer srv.Close()
	big := batchPayload("SELECT N'" + string(make([]byte, 2000)) + "'")

	r := dialRaw(t, srv)
	r.login(c)
	r.send(pktSQLBatch, statusIgnore, big)
	r.send(pktSQLBatch, 0, big)
	n, ok := firstError(r.reply())
	require.True(t, ok, "an ERROR, after nothing for the ignored message")
	assert.Equal(t, int32(50000), n)
	r.send(pktSQLBatch, 0, batchPayload("SELECT 1"))
	assert.Equal(t, tokColMetadata, r.reply().data[0])

	r = dialRaw(t, srv)
	r.send(pktPrelogin, 0, make([]byte, 2000))
	r.expectClosed()
}
