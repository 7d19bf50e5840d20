package onbehalf_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/onbehalf"
)

// TestACacheOfOneUnderConcurrencyNeverMixesUsers: a cache of size 1 with
// several users' requests at once evicts on nearly every store, and racing
// builders of one user's newer and older assertions meet in store: every
// request still gets an identity keyed as its own user (the key of the
// identity built for that principal), and once alone the user's newer
// assertion is the one kept.
func TestACacheOfOneUnderConcurrencyNeverMixesUsers(t *testing.T) {
	a := app(t)
	c, err := onbehalf.NewCache(a, 1)
	require.NoError(t, err)
	const users = 4
	want := map[int]string{}
	for u := range users {
		id, err := a.Identity(user(u), "x")
		require.NoError(t, err)
		want[u], err = id.Discriminator(t.Context())
		require.NoError(t, err)
	}
	now := time.Now()
	older, newer := userAssertion(t, now.Add(-time.Minute), now.Add(time.Hour)), userAssertion(t, now, now.Add(2*time.Hour))
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 300 {
				u := (g + i) % users
				tok := fmt.Sprint("opaque-", i%3)
				if u == 1 {
					tok = older
					if i%2 == 0 {
						tok = newer
					}
				}
				id, err := c.Identity(user(u), tok)
				if !assert.NoError(t, err) {
					return
				}
				got, err := id.Discriminator(t.Context())
				assert.NoError(t, err)
				assert.Equal(t, want[u], got, "user %d got another user's identity", u)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, 1, c.Len())

	// Alone now: the newer assertion is kept, the older gets it.
	n, err := c.Identity(user(1), newer)
	require.NoError(t, err)
	o, err := c.Identity(user(1), older)
	require.NoError(t, err)
	assert.True(t, n.SameCredential(o))
	assert.Equal(t, 1, c.Len())
}
