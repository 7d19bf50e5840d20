package actors

import (
	"database/sql/driver"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeHolder is an acquire's holder that only has a name.
type fakeHolder struct{ name string }

func (*fakeHolder) Grant(driver.Conn, uint64, *actor.PID) bool { return false }
func (*fakeHolder) CloseAfterOperation() bool                  { return false }

// The pool keeps each busy connection's holder, from a queued acquire and
// from a hit alike, forgets it at release, and hands it only to the EffClose
// of a forced close, so that the driver can wait for the holder's
// operation still inside the connection.
func TestAForcedCloseCarriesEachLeasedConnectionsHolder(t *testing.T) {
	p := New(PoolConfig{Key: "k", MaxSize: 2})
	now := time.Unix(1_700_000_000, 0)
	step := func(in Input) []Effect {
		p.Step(now, in)
		effs := append([]Effect(nil), p.Ready()...)
		p.Advance()
		require.NoError(t, p.CheckInvariants())
		return effs
	}
	grant := func(effs []Effect) ConnID {
		for _, e := range effs {
			if e.Kind == EffGrant {
				return e.Conn
			}
		}
		t.Fatalf("no grant in %v", effs)
		return 0
	}
	h1, h2, h3 := &fakeHolder{"queued"}, &fakeHolder{"released"}, &fakeHolder{"hit"}
	step(Start{})
	step(Acquire{ID: 1, Holder: h1})
	c1 := grant(step(DialDone{Conn: fakeConn(1)}))
	step(Acquire{ID: 2, Holder: h2})
	c2 := grant(step(DialDone{Conn: fakeConn(2)}))
	step(Release{Conn: c2})
	assert.Nil(t, p.connOf(c2).holder, "an idle connection keeps no holder")
	assert.Equal(t, c2, grant(step(Acquire{ID: 3, Holder: h3})), "a hit")

	step(Close{})
	holders := map[ConnID]any{}
	for _, e := range step(ForceClose{}) {
		if e.Kind == EffClose {
			assert.Equal(t, ReasonForced, e.Reason)
			holders[e.Conn] = e.Holder
		}
	}
	assert.Equal(t, map[ConnID]any{c1: h1, c2: h3}, holders)

	// A close that is not forced carries none.
	p2 := New(PoolConfig{Key: "k", MaxSize: 1})
	p2.Step(now, Start{})
	p2.Advance()
	p2.Step(now, Acquire{ID: 1, Holder: h1})
	p2.Advance()
	p2.Step(now, DialDone{Conn: fakeConn(1)})
	p2.Advance()
	p2.Step(now, Close{})
	p2.Advance()
	p2.Step(now, Release{Conn: 1, Broken: true})
	effs := p2.Ready()
	require.Len(t, effs, 1)
	assert.Equal(t, EffClose, effs[0].Kind)
	assert.Nil(t, effs[0].Holder)
	p2.Advance()
}
