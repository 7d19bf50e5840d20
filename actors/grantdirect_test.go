package actors

import (
	"database/sql/driver"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/messages"
)

// directRecorder is an acquire's DirectGrant that takes every grant handed
// to it and records it.
type directRecorder struct{ got []uint64 }

func (d *directRecorder) Grant(_ driver.Conn, connID uint64, _ *actor.PID) bool {
	d.got = append(d.got, connID)
	return true
}
func (*directRecorder) CloseAfterOperation() bool { return false }

// TestADirectGrantTakesOnlyItsOwnAcquiresConnection: while the actor
// handles one acquire (which has a DirectGrant), a grant its step makes to
// another acquire goes to that acquire's Reply channel, never into the
// handled acquire's DirectGrant, even when it waited no time at all (a
// frozen clock: its Waited is zero, as a direct grant's is). The Pool never
// makes such a grant today (an acquire's step grants only itself), so this
// drives the actor's effect loop directly with one. Kills the mutant that
// drops the acquire-id test from grantDirect (the other caller's connection
// then reached the handled acquire: two callers on one session).
func TestADirectGrantTakesOnlyItsOwnAcquiresConnection(t *testing.T) {
	p := New(PoolConfig{MaxSize: 2})
	mine := &directRecorder{}
	handled := &messages.Acquire{ID: 2, Reply: make(chan messages.Reply, 1), Direct: mine}
	a := &poolActor{sm: p, acquiring: handled, waiting: []waitingCause{{id: 1}}}
	other := make(chan messages.Reply, 1)

	a.run(nil, time.Unix(1_700_000_000, 0), []Effect{{Kind: EffGrant, AcquireID: 1, ReplyTo: other, Conn: 7, Resource: fakeConn(7)}})

	assert.Empty(t, mine.got, "another acquire's connection reached the handled acquire's DirectGrant")
	require.Len(t, other, 1, "the grant goes to its own acquire's Reply")
	assert.EqualValues(t, 7, (<-other).ConnID)
	assert.Same(t, handled, a.acquiring, "the handled acquire is still unanswered")
	assert.Empty(t, a.waiting, "the granted acquire is answered")

	// Its own grant does go to its DirectGrant.
	a.run(nil, time.Unix(1_700_000_000, 0), []Effect{{Kind: EffGrant, AcquireID: 2, ReplyTo: handled.Reply, Conn: 8, Resource: fakeConn(8)}})
	assert.Equal(t, []uint64{8}, mine.got)
	assert.Empty(t, handled.Reply)
	assert.Nil(t, a.acquiring)
}
