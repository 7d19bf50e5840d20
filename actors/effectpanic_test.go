package actors

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/messages"
	"github.com/idpool/idpool/tokens"
)

// An effect whose carrying out panics (here an ActorConfig clock's
// AfterFunc, user code when the actors are driven without the Manager,
// which wraps its own; or a bug of idpool's) does not lose the effects of
// the same step after it. An acquire with a timeout at an empty pool steps
// to a wake (its deadline) and then a dial: with the wake's panic the dial
// was counted in flight and never started, and the acquire waited for good.
// Now the dial starts and the acquire is served; the panic still reaches
// the actor's recover, which logs it.
func TestAnEffectThatPanicsLosesNoEffectAfterIt(t *testing.T) {
	r := newCloseRig(t, false)
	r.clock.panicNextTimer.Store(true)
	reply := make(chan messages.Reply, 1)
	r.send(&messages.Acquire{ID: 1, Identity: tokens.SQLLogin(), Reply: reply, Timeout: time.Minute})
	select {
	case rep := <-reply:
		require.NoError(t, rep.Err)
		require.EqualValues(t, 1, rep.ConnID)
	case <-time.After(10 * time.Second):
		t.Fatal("the acquire was never answered: the dial after the panicking wake was lost")
	}
	require.False(t, r.clock.panicNextTimer.Load(), "the wake was asked for, and panicked")
	r.release(1, false)
	r.closePool()
	require.Equal(t, []string{"dial:1", "before:1", "close:1"}, r.events())
}
