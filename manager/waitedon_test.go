package manager

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/tokens"
)

// acquireCancelledWhen starts an Acquire of id, cancels its ctx once ready
// returns (the dependency it waits on has been entered, or it queued), and
// returns its error. Nothing is timed: the test chooses the moment.
func acquireCancelledWhen(t *testing.T, m *Manager, id tokens.Identity, ready func()) error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan error, 1)
	go func() {
		l, err := m.Acquire(ctx, id)
		if l != nil {
			l.Release(nil)
		}
		got <- err
	}()
	ready()
	cancel()
	return <-got
}

// requireNothingLeftWaiting checks that no acquire and no permit request is
// left behind by the ones that gave up.
func requireNothingLeftWaiting(t *testing.T, m *Manager) {
	t.Helper()
	s := m.Stats()
	require.Zero(t, s.Total.Waiters, "an acquire that gave up is still queued")
	require.Zero(t, s.PermitWaiters, "a permit request outlived the acquire it was for")
}

// TestATimeoutSaysWhatTheAcquireWaitedOn: an acquire that runs out of time
// (or is cancelled) in its pool's queue names what the pool was waiting
// for, so that a dependency that hangs shows in the error its caller gets:
// a dial, a token mint, a MaxTotal permit another identity's hung dial
// holds, a close that does not finish (MaxSize counts it), every
// connection in use, or a PrepareConn hook. The error said "waiting for
// pool X (max size 10, 0 waiting)" in every case, which reads as a pool too
// small, however idle it was.
func TestATimeoutSaysWhatTheAcquireWaitedOn(t *testing.T) {
	for _, tc := range []struct {
		name string
		arm  string // the hostile method that hangs
		// prime: open and pool a connection first; held: keep it leased;
		// broken: release it broken, so that it closes (and hangs there).
		prime, held, broken bool
		want                string
		pool                PoolWork
	}{
		{name: "a dial that hangs", arm: "Dial", want: "0 in use, 1 dialing;", pool: PoolWork{Dialing: 1}},
		{name: "a token mint that hangs", arm: "Token", want: "0 in use, 1 dialing, a token mint in flight;",
			pool: PoolWork{Dialing: 1, Minting: true}},
		{name: "a close that hangs", arm: "BeforeClose", prime: true, broken: true, want: "0 in use, 1 closing;",
			pool: PoolWork{Closing: 1}},
		{name: "every connection in use", prime: true, held: true, want: "1 in use;", pool: PoolWork{Busy: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHostile(t)
			m, _ := newHostileManager(t, Config{MaxSize: 1, HealthCheckAfter: -1, DialBackoff: -1, Hooks: hostileHooks(h)}, h)
			id := hostileIdentity(h, "waits")
			var held *Lease
			if tc.prime {
				held = acquire(t, m, id)
				if tc.held {
					defer held.Release(nil) // before the Manager's Close, even if the test fails
				}
			}
			if tc.arm != "" {
				h.arm(tc.arm, hangs)
			}
			if tc.broken {
				held.Release(errBad)
				<-h.entered
			}
			err := acquireCancelledWhen(t, m, id, func() {
				if tc.arm != "" && !tc.broken {
					<-h.entered
				} else {
					eventually(t, func() bool { return m.Stats().Total.Waiters == 1 }, "the acquire queues")
				}
			})
			require.ErrorIs(t, err, context.Canceled)
			var te *TimeoutError
			require.ErrorAs(t, err, &te)
			assert.Contains(t, err.Error(), "(max size 1: "+tc.want)
			require.NotNil(t, te.Pool, "%v", err)
			assert.Equal(t, tc.pool, *te.Pool)
			requireNothingLeftWaiting(t, m)
			h.disarm()
			h.release()
			if !tc.held {
				requireServes(t, m, id)
			}
		})
	}
}

// TestATimeoutNamesTheMaxTotalPermitAnotherIdentitysHungDialHolds: at
// MaxTotal 1, alice's dial hangs with the one permit; bob's acquire waits
// for a permit, and says so when it gives up, as alice's says she waited
// on a dial. Neither leaves anything waiting, and both identities are
// served once the dial returns.
func TestATimeoutNamesTheMaxTotalPermitAnotherIdentitysHungDialHolds(t *testing.T) {
	h := newHostile(t)
	m, _ := newHostileManager(t, Config{MaxTotal: 1, HealthCheckAfter: -1, DialBackoff: -1}, h)
	alice, bob := hostileIdentity(h, "alice"), hostileIdentity(h, "bob")
	h.arm("Dial", hangs) // only alice dials: bob waits for her permit
	aliceCtx, cancelAlice := context.WithCancel(context.Background())
	defer cancelAlice()
	aliceErr := make(chan error, 1)
	go func() { _, err := m.Acquire(aliceCtx, alice); aliceErr <- err }()
	<-h.entered

	err := acquireCancelledWhen(t, m, bob, func() {
		eventually(t, func() bool { return m.Stats().PermitWaiters == 1 }, "bob waits for a permit")
	})
	require.ErrorIs(t, err, context.Canceled)
	assert.Contains(t, err.Error(), "0 in use, 1 dials waiting for a MaxTotal or fleet permit;")

	cancelAlice()
	err = <-aliceErr
	require.ErrorIs(t, err, context.Canceled)
	assert.Contains(t, err.Error(), "0 in use, 1 dialing;")
	requireNothingLeftWaiting(t, m)

	h.disarm()
	h.release()
	requireServes(t, m, alice)
	requireServes(t, m, bob)
}

// TestAPoolEnforcedTimeoutSaysWhatTheAcquireWaitedOn: with no deadline of
// its ctx's, the pool ends the acquire at AcquireTimeout, and its error
// says what it waited on too.
func TestAPoolEnforcedTimeoutSaysWhatTheAcquireWaitedOn(t *testing.T) {
	h := newHostile(t)
	m, _ := newHostileManager(t, Config{MaxSize: 1, AcquireTimeout: hostileDeadline, HealthCheckAfter: -1, DialBackoff: -1}, h)
	h.arm("Dial", hangs)
	_, err := m.Acquire(context.Background(), sqlLogin)
	require.ErrorIs(t, err, ErrAcquireTimeout)
	var te *TimeoutError
	require.ErrorAs(t, err, &te)
	require.NotNil(t, te.Pool, "%v", err)
	assert.Equal(t, PoolWork{Dialing: 1}, *te.Pool)
	assert.Contains(t, err.Error(), "timed out waiting for pool memdb:1/test/sql-login (max size 1: 0 in use, 1 dialing;")
	requireNothingLeftWaiting(t, m)
	h.disarm()
	h.release()
	requireServes(t, m, sqlLogin)
}

// TestATimeoutInPrepareConnNamesTheHook: an acquire whose ctx ends while
// its PrepareConn hook runs (ignoring its ctx) was granted its connection:
// the error names the hook, not the pool's queue.
func TestATimeoutInPrepareConnNamesTheHook(t *testing.T) {
	h := newHostile(t)
	m, _ := newHostileManager(t, Config{MaxSize: 1, HealthCheckAfter: -1, DialBackoff: -1, Hooks: hostileHooks(h)}, h)
	h.arm("PrepareConn", hangs)
	err := acquireCancelledWhen(t, m, sqlLogin, func() { <-h.entered })
	require.ErrorIs(t, err, context.Canceled)
	var te *TimeoutError
	require.True(t, errors.As(err, &te))
	assert.Equal(t, "PrepareConn", te.Hook)
	assert.Contains(t, err.Error(), "waiting for hook PrepareConn on a connection of pool memdb:1/test/sql-login")
	h.disarm()
	h.release()
	requireServes(t, m, sqlLogin)
}
