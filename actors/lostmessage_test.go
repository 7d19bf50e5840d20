package actors

import (
	"database/sql/driver"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/messages"
	"github.com/idpool/idpool/tokens"
)

// A message whose step a panic cut short (here the pool actor's clock, read
// as it takes the message; the manager wraps a user's clock so that it
// never panics there, but the actor guards itself) loses its caller
// nothing that would wait for good: an Acquire is answered with
// ErrInternal, a Cancel still withdraws its acquire, and a
// CloseAfterOperation still closes its connection.

// reply waits for one reply on ch.
func (r *closeRig) reply(ch chan messages.Reply) messages.Reply {
	r.t.Helper()
	select {
	case rep := <-ch:
		return rep
	case <-time.After(10 * time.Second):
		r.t.Fatal("no reply")
		return messages.Reply{}
	}
}

func TestAnAcquireLostToAPanicIsAnsweredWithErrInternal(t *testing.T) {
	r := newCloseRig(t, false)
	r.release(r.acquire(), false) // the pool exists, with an idle connection
	require.Equal(t, 1, r.settle().Idle)
	r.clock.panicNext.Store(true)
	ch := make(chan messages.Reply, 1)
	r.send(&messages.Acquire{ID: 9, Identity: tokens.SQLLogin(), Reply: ch})
	require.ErrorIs(t, r.reply(ch).Err, ErrInternal)
	assert.Equal(t, uint64(1), r.acquireOK(), "the pool serves on, from its idle connection")
}

func TestACancelLostToAPanicStillWithdrawsItsAcquire(t *testing.T) {
	r := newCloseRig(t, false)
	r.acquire()
	r.acquire() // both of the pool's connections are out
	ch := make(chan messages.Reply, 1)
	r.send(&messages.Acquire{ID: 9, Identity: tokens.SQLLogin(), Reply: ch}) // queues
	require.Equal(t, 1, r.settle().Waiters)
	r.clock.panicNext.Store(true)
	r.send(&messages.Cancel{ID: 9})
	rep := r.reply(ch)
	assert.True(t, rep.Cancelled, "the acquire was not withdrawn: %+v", rep)
}

// insideHolder is a lease with an operation inside its connection when the
// pool closes it by force: the pool must leave the Close to it.
type insideHolder struct{}

func (insideHolder) Grant(driver.Conn, uint64, *actor.PID) bool { return false }
func (insideHolder) CloseAfterOperation() bool                  { return true }

func TestACloseAfterOperationLostToAPanicStillCloses(t *testing.T) {
	r := newCloseRig(t, false)
	ch := make(chan messages.Reply, 1)
	r.send(&messages.Acquire{ID: 1, Identity: tokens.SQLLogin(), Reply: ch, Direct: insideHolder{}})
	granted := r.reply(ch)
	require.NoError(t, granted.Err)
	r.awaitEvent("dial:1")
	r.send(&messages.ClosePool{})
	r.send(&messages.ForceClose{})
	r.awaitEvent("abort:1") // cut, and the Close left to the operation
	require.Equal(t, 1, r.settle().ClosingConns)
	r.clock.panicNext.Store(true)
	r.send(&messages.CloseAfterOperation{ConnID: granted.ConnID, Conn: granted.Conn})
	r.awaitDrained()
	assert.Equal(t, []string{"dial:1", "abort:1", "before:1", "close:1"}, r.events())
}

// settle waits until the pool actor has taken every message sent before
// it: a Stats query queues behind them.
func (r *closeRig) settle() messages.PoolStats {
	r.t.Helper()
	q := &messages.PoolStatsQuery{Reply: make(chan messages.PoolStats, 1)}
	r.send(q)
	select {
	case s := <-q.Reply:
		return s
	case <-time.After(10 * time.Second):
		r.t.Fatal("the pool actor does not answer")
		return messages.PoolStats{}
	}
}

// acquireOK leases a connection, hands it back, and returns its id.
func (r *closeRig) acquireOK() uint64 {
	id := r.acquire()
	r.release(id, false)
	return id
}
