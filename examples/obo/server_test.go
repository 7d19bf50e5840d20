package main

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTheAPIServerBoundsWhatAClientCanHold: users copy this example's
// server. With only ReadHeaderTimeout, a client could trickle a request
// body, or keep a connection idle after its first request, for as long as
// it liked (net/http's idle wait falls back to ReadTimeout, and with none
// has no deadline), each holding a connection and its goroutine. The
// server start runs has every timeout set.
func TestTheAPIServerBoundsWhatAClientCanHold(t *testing.T) {
	r, err := start()
	require.NoError(t, err)
	defer r.stop()
	defer http.DefaultClient.CloseIdleConnections()
	require.NotNil(t, r.server)
	assert.Positive(t, r.server.ReadHeaderTimeout, "ReadHeaderTimeout: headers trickled")
	assert.Positive(t, r.server.ReadTimeout, "ReadTimeout: a request body trickled")
	assert.Positive(t, r.server.WriteTimeout, "WriteTimeout: an answer never read")
	assert.Positive(t, r.server.IdleTimeout, "IdleTimeout: a keep-alive connection left idle")
}
