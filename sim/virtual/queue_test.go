package virtual

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestEventQueueOrdersByTimeThenSchedule(t *testing.T) {
	var q eventQueue
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		q.push(event{at: r.Int64N(50), n: uint64(i)})
	}
	prev := event{at: -1}
	for q.len() > 0 {
		e := q.pop()
		require.True(t, e.at > prev.at || e.at == prev.at && e.n > prev.n, "event %d at %d after %d at %d", e.n, e.at, prev.n, prev.at)
		prev = e
	}
}
