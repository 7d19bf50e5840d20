package main

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTwoClientsOfOneUserAlternatingTokens: Alice's phone keeps sending
// the token it got first while her browser sends a renewed one, many
// requests at once, through the middleware, onbehalf.Cache and the pool,
// against real azidentity credentials and sim/entra. Every request runs as
// Alice; only two credentials ever exist (the first token's, then the
// renewed one's, which every later request gets, the older token's too), so
// there are at most two exchanges, never more than the physical opens, and
// none for the requests the pool served from open connections.
// (Ordering tokens by arrival instead built a credential at each switch:
// more exchanges, and one for an older token after Evict.)
func TestTwoClientsOfOneUserAlternatingTokens(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := start()
	require.NoError(t, err)
	defer r.stop()
	defer http.DefaultClient.CloseIdleConnections()

	first, err := r.entra.UserToken(aliceUPN, apiID, time.Hour)
	require.NoError(t, err)
	status, who, err := r.whoami(ctx, first)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, aliceUPN, who)
	require.Equal(t, 1, r.entra.Exchanges())

	renewed, err := r.entra.UserToken(aliceUPN, apiID, 2*time.Hour)
	require.NoError(t, err)
	const clients, rounds = 8, 25
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			for i := range rounds {
				tok := first
				if (c+i)%2 == 0 {
					tok = renewed
				}
				status, who, err := r.whoami(ctx, tok)
				if !assert.NoError(t, err) {
					return
				}
				assert.Equal(t, http.StatusOK, status)
				assert.Equal(t, aliceUPN, who)
			}
		})
	}
	wg.Wait()

	opens := r.db.Manager.Stats().Total.Opens
	ex := r.entra.Exchanges()
	assert.LessOrEqual(t, uint64(ex), opens, "no more exchanges than physical opens")
	assert.LessOrEqual(t, ex, 2, "one exchange per credential: the first token's and the renewed one's")
	assert.Less(t, opens, uint64(clients*rounds), "most requests are pool hits")

	// The older token's requests get the renewed credential, token cache
	// and all: after Evict, a new connection for the older token logs in
	// with the database token the renewed credential already holds, and no
	// credential is built for the older token (its cache would be empty:
	// an exchange).
	require.NoError(t, evictAlice(ctx, r, renewed))
	status, _, err = r.whoami(ctx, renewed)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	before := r.entra.Exchanges()
	require.NoError(t, evictAlice(ctx, r, renewed))
	status, who, err = r.whoami(ctx, first)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, aliceUPN, who)
	assert.Equal(t, before, r.entra.Exchanges(), "the older token's new connection costs no exchange")
}
