package onbehalf_test

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/onbehalf"
)

// TestAnEntryKeepsOnlyItsAssertion: an application's own middleware reads
// the token as a substring of its request's header or body (strings.Cut,
// TrimSpace, TrimPrefix), and the entry, and the credential built from
// it, kept that substring and so the whole string it was cut from, as long
// as the cache keeps the user: a caller padding its header kept up to a
// megabyte per user, where the Cache's doc promises an entry of a few KB.
// The cache now keeps a copy of the assertion.
func TestAnEntryKeepsOnlyItsAssertion(t *testing.T) {
	const users, padding = 16, 512 << 10
	c, err := onbehalf.NewCache(app(t), users)
	require.NoError(t, err)
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	now := time.Now()
	before := heap()
	for u := range users {
		header := "Bearer" + strings.Repeat(" ", padding) + userAssertion(t, now, now.Add(time.Hour))
		_, tok, _ := strings.Cut(header, " ")
		_, err := c.Identity(user(u), strings.TrimSpace(tok))
		require.NoError(t, err)
	}
	require.Equal(t, users, c.Len())
	grown := int64(heap()) - int64(before)
	assert.Less(t, grown, int64(users*padding/4), "the cache of %d users keeps %d bytes", users, grown)
	runtime.KeepAlive(c)
}
