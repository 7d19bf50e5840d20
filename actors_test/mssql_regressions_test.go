package e2e

// These tests reproduced bugs the end-to-end suite found in manager/ and
// actors/; they are kept as regression tests now that the bugs are fixed.

import (
	"context"
	"database/sql/driver"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/actors"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/sim/memdb"
	"github.com/idpool/idpool/tokens"
)

// effectsOf returns the effects of kind in effs.
func effectsOf(effs []actors.Effect, kind actors.EffectKind) []actors.Effect {
	var out []actors.Effect
	for _, e := range effs {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

// stubConn is a connection the state machine only holds.
type stubConn struct{}

func (stubConn) Prepare(string) (driver.Stmt, error) { return nil, driver.ErrSkip }
func (stubConn) Close() error                        { return nil }
func (stubConn) Begin() (driver.Tx, error)           { return nil, driver.ErrSkip }

// TestRegressionRefusedRetirementIsRetried drives the pool state machine
// through the race the manager resolves by refusing a retirement: the pool
// asks to retire (Seen=1), but the manager has already forwarded a second
// acquire, so it refuses (silently). That acquire dials (the pool closed its
// connection before asking). The
// pool must ask again within RetireAfter of going idle; it used to wait for
// the next unrelated timer (IdleTimeout, 5m by default), and forever when
// IdleTimeout and MaxLifetime were off.
func TestRegressionRefusedRetirementIsRetried(t *testing.T) {
	const retireAfter = 100 * time.Millisecond
	p := actors.New(actors.PoolConfig{Key: tokens.NewKey("srv:1433/db", ""), MaxSize: 1,
		IdleTimeout: 5 * time.Minute, RetireAfter: retireAfter})
	t0 := time.Unix(1_700_000_000, 0)
	var nextTick time.Time
	step := func(now time.Time, in actors.Input) []actors.Effect {
		p.Step(now, in)
		effs := append([]actors.Effect(nil), p.Ready()...)
		p.Advance()
		for _, w := range effectsOf(effs, actors.EffWake) {
			nextTick = w.At // each EffWake replaces the earlier request
		}
		return effs
	}
	step(t0, actors.Start{})
	require.Len(t, effectsOf(step(t0, actors.Acquire{ID: 1}), actors.EffDial), 1)
	grants := effectsOf(step(t0, actors.DialDone{Conn: stubConn{}}), actors.EffGrant)
	require.Len(t, grants, 1)
	conn := grants[0].Conn
	step(t0, actors.Release{Conn: conn})

	// The pool closes its connection first and asks once it has closed.
	closes := effectsOf(step(t0.Add(retireAfter), actors.Tick{}), actors.EffClose)
	require.Len(t, closes, 1)
	retire := effectsOf(step(t0.Add(retireAfter), actors.CloseDone{Conn: closes[0].Conn}), actors.EffRetire)
	require.Len(t, retire, 1)
	require.EqualValues(t, 1, retire[0].Seen)
	// The manager refuses: it forwarded acquire 2 before reading the
	// request. The pool is empty: it dials.
	require.Len(t, effectsOf(step(t0.Add(retireAfter+time.Millisecond), actors.Acquire{ID: 2}), actors.EffDial), 1)
	grants = effectsOf(step(t0.Add(retireAfter+time.Millisecond), actors.DialDone{Conn: stubConn{}}), actors.EffGrant)
	require.Len(t, grants, 1)
	released := t0.Add(retireAfter + 2*time.Millisecond)
	step(released, actors.Release{Conn: grants[0].Conn})

	assert.False(t, nextTick.After(released.Add(retireAfter)),
		"the pool's next Tick is at +%s, not within RetireAfter of going idle", nextTick.Sub(released))
	closes = effectsOf(step(released.Add(retireAfter), actors.Tick{}), actors.EffClose)
	require.Len(t, closes, 1, "a Tick after RetireAfter empties the pool to retire (so only the missing wake-up is at fault)")
	assert.Len(t, effectsOf(step(released.Add(retireAfter), actors.CloseDone{Conn: closes[0].Conn}), actors.EffRetire), 1,
		"and asks again")
}

// TestRegressionPoolRetirementRacesDefaultIdleTimeout is
// TestMSSQLPoolRetirementRacesThousands with the default IdleTimeout (5m):
// pools whose retirement was refused used to stay alive until then.
func TestRegressionPoolRetirementRacesDefaultIdleTimeout(t *testing.T) {
	retirementRaces(t, 2000, 0)
}

// TestRegressionCancelledStatementBreaksConnection: a query cancelled
// mid-flight with a plain cancel (no deadline) must break its connection
// (DESIGN: "A connection whose operation was cancelled mid-flight is
// broken"). go-mssqldb has no QueryerContext/ExecerContext, so every
// statement runs on a prepared statement, and go-mssqldb itself keeps the
// connection valid after the ATTENTION round trip; the lease must see the
// statement's error through its statement wrapper.
func TestRegressionCancelledStatementBreaksConnection(t *testing.T) {
	env := startMSSQL(t)
	id := env.managedIdentity(t, "cancelbug")
	db := env.openDB(t, manager.Config{MaxSize: 1})
	ctx := tokens.WithIdentity(testCtx(t, 60*time.Second), id.ID)

	// Through the *sql.DB facade.
	spid, midFlight, err := cancelMidFlight(t, env, ctx, db, id.Login, 30*time.Second, true)
	require.ErrorIs(t, err, context.Canceled)
	require.True(t, midFlight)
	assert.NotEqual(t, spid, spidOf(t, ctx, db), "the cancelled connection was handed out again")
	assert.EqualValues(t, 1, db.Manager.Stats().Total.Closes["broken"])

	// Through the Lease API, releasing without repeating the error.
	l := acquire(t, ctx, db.Manager, id.ID)
	cctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() { errc <- leaseExec(cctx, l, "WAITFOR DELAY '00:00:25'") }()
	runningSPID(t, env, id.Login)
	cancel()
	require.ErrorIs(t, <-errc, context.Canceled)
	brokenBefore := db.Manager.Stats().Total.Closes["broken"]
	l.Release(nil)
	eventually(t, 5*time.Second, func() bool { return db.Manager.Stats().Total.Closes["broken"] > brokenBefore },
		"a lease whose operation was cut short by its ctx was kept")
}

// gatedCloseConn is a memdb connection whose Close waits for gate.
type gatedCloseConn struct {
	*memdb.Conn
	gate <-chan struct{}
}

func (c *gatedCloseConn) Close() error {
	<-c.gate
	return c.Conn.Close()
}

// TestRegressionStatsCountersHoldWhileAPoolDrains: Stats().Total sums every
// live pool's counters plus those of pools that retired or closed. A pool
// whose retirement was approved but whose connections were still closing
// had to be counted; Total's counters used to go backwards then. (A pool
// now retires only once its closes have finished; the counters must hold
// across the closing, the retirement and the drain.)
func TestRegressionStatsCountersHoldWhileAPoolDrains(t *testing.T) {
	awaitDeadLetterThrottle(t)
	db := memdb.New()
	gate := make(chan struct{})
	var once sync.Once
	open := func() { once.Do(func() { close(gate) }) }
	t.Cleanup(open)
	dialer := manager.DialerFunc(func(ctx context.Context, req manager.DialRequest) (driver.Conn, error) {
		c, err := db.Dial(ctx, req)
		if err != nil {
			return nil, err
		}
		return &gatedCloseConn{Conn: c.(*memdb.Conn), gate: gate}, nil
	})
	m, err := manager.New(manager.Config{Server: "memdb:1/drain", Dialer: dialer, MaxSize: 1, PoolIdleTimeout: 50 * time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(func() { open(); require.NoError(t, m.Close(context.Background())) })
	id := tokens.New(tokens.KindManagedIdentity, "msi:drain", tokens.SourceFunc(func(context.Context) (tokens.Token, error) {
		return tokens.Token{Value: "drain-token", ExpiresOn: time.Now().Add(time.Hour)}, nil
	}))

	l, err := m.Acquire(testCtx(t, 10*time.Second), id)
	require.NoError(t, err)
	l.Release(nil)
	require.EqualValues(t, 1, m.Stats().Total.Opens)

	// Quiet, and closing its connection to retire: the Close is blocked.
	// (A pool retires only once its closes have finished.)
	eventually(t, 10*time.Second, func() bool { return m.Stats().Total.ClosingConns == 1 }, "the quiet pool never closed its connection")
	assert.EqualValues(t, 1, m.Stats().Total.Opens, "a counter went backwards while the pool closes")

	open()
	eventually(t, 10*time.Second, func() bool {
		s := m.Stats()
		return s.PoolsRetired == 1 && len(s.PerPool) == 0 && s.Total.Opens == 1
	}, "the retired and drained pool's counters never came back")
}
