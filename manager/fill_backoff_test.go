package manager

import (
	"context"
	"database/sql/driver"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// With the blocking period off (DialBackoff negative), a pool below MinSize
// whose Dialer fails tried again at once after every failure, for ever: a
// MinSize fill has no caller to fail, so nothing ended the loop, and the
// pool logged in against a refusing server thousands of times a second
// (hundreds of dials in a few milliseconds here) until it retired. Two
// failed fills in a row now hold the fill for 10 s (fillRetry) on the
// pool's clock, as a fill refused at MaxTotal is held; an acquire still dials at
// once.
// fillRetry is how long a held fill waits (actors' fillRetryAfter), as
// Config.DialBackoff documents it.
const fillRetry = 10 * time.Second

func TestAFailingMinSizeFillWithoutBackoffWaitsOnTheClock(t *testing.T) {
	var dials atomic.Int64
	refused := errors.New("login refused")
	d := DialerFunc(func(context.Context, DialRequest) (driver.Conn, error) {
		dials.Add(1)
		return nil, refused
	})
	clock := newManualClock()
	m := startManager(t, Config{Server: "refusing:1/db", Dialer: d, MinSize: 1, DialBackoff: -1, Clock: clock})
	settled := func() bool {
		s := m.Stats()
		return s.Pools == 1 && s.Total.Dialing == 0 && s.Total.AwaitingPermit == 0
	}

	_, err := m.Acquire(context.Background(), sqlLogin)
	require.ErrorIs(t, err, refused, "no blocking period: the acquire gets its own dial's error")
	eventually(t, settled, "the fill stops dialing once two dials in a row failed")
	n := dials.Load()
	assert.LessOrEqual(t, n, int64(3), "the acquire's dial and the fill's two")
	for range 3 {
		require.True(t, settled())
		require.Equal(t, n, dials.Load(), "no dial while the clock stands still")
	}

	_, err = m.Acquire(context.Background(), sqlLogin)
	require.ErrorIs(t, err, refused)
	eventually(t, settled, "the acquire's dial ends")
	require.Equal(t, n+1, dials.Load(), "an acquire dials at once, the fill does not follow it")

	clock.advance(fillRetry)
	eventually(t, func() bool { return settled() && dials.Load() == n+2 }, "one fill dial once 10 s have passed")
	require.True(t, settled())
	require.Equal(t, n+2, dials.Load(), "and no more until the next")
}
