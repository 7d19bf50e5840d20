package fleet_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/idpool/idpool/fleet"
	"github.com/idpool/idpool/internal/etcdtest"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/sim/memdb"
	"github.com/idpool/idpool/tokens"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func ident(name string) tokens.Identity {
	return tokens.New(tokens.KindProvidedToken, "t:"+name, tokens.SourceFunc(func(context.Context) (tokens.Token, error) {
		return tokens.Token{Value: name, ExpiresOn: time.Now().Add(time.Hour)}, nil
	}))
}

// patient is the ctx of an acquire a test needs to succeed: its deadline
// replaces AcquireTimeout (500 ms, which the tests that expect a timeout
// keep), since a first fetch from etcd takes several round trips, each a
// disk write, which a loaded CI machine stretched past 500 ms.
func patient(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newManager(t *testing.T, db *memdb.DB, b manager.SessionBudget) *manager.Manager {
	t.Helper()
	cfg := manager.Config{Server: "memdb:1/fleet", Dialer: db, MaxSize: 4, HealthCheckAfter: -1, AcquireTimeout: 500 * time.Millisecond}
	if b != nil {
		cfg.Fleet = b
	}
	m, err := manager.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		require.NoError(t, m.Close(ctx))
	})
	return m
}

// A Manager with an etcd budget: physical opens past the cap wait and time
// out (fail at the cap, never over it), an idle connection of another
// identity is given up for a waiting one, and the extra latency of a
// physical open is measured against a Manager without a fleet.
func TestManagerWithEtcdBudget(t *testing.T) {
	cli := etcdtest.StartClient(t, 3)
	const capN = 4
	b := newBudget(t, cli, fleet.Config{Prefix: "/t/mgr/", Cap: capN, Batch: 2})
	db := memdb.New()
	m := newManager(t, db, b)
	plain := newManager(t, memdb.New(), nil)

	open := func(m *manager.Manager, prefix string, n int) (time.Duration, []*manager.Lease) {
		var total time.Duration
		var ls []*manager.Lease
		for i := range n {
			start := time.Now()
			l, err := m.Acquire(patient(t), ident(fmt.Sprint(prefix, i)))
			require.NoError(t, err)
			total += time.Since(start)
			ls = append(ls, l)
		}
		return total / time.Duration(n), ls
	}
	withFleet, leases := open(m, "f", capN)
	without, plainLeases := open(plain, "p", capN)
	for _, l := range leases {
		l.Release(nil)
	}
	// One identity holds the whole cap.
	leases = nil
	for range capN {
		l, err := m.Acquire(patient(t), ident("a"))
		require.NoError(t, err, "%+v", b.Stats())
		leases = append(leases, l)
	}
	t.Logf("physical open: %s with the etcd budget, %s without (mean of %d; fetches %d, mean fetch %s)",
		withFleet, without, capN, b.Stats().Fetches, b.Stats().FetchTime/time.Duration(max(1, b.Stats().Fetches)))
	for _, l := range plainLeases {
		l.Release(nil)
	}

	_, err := m.Acquire(context.Background(), ident("over"))
	require.Error(t, err, "a fifth session would pass the cap")
	assert.True(t, errors.Is(err, manager.ErrAcquireTimeout), "got %v", err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	var fe *manager.FleetTimeoutError
	require.ErrorAs(t, err, &fe, "the timeout names the fleet")
	t.Logf("acquire at the cap: %v", err)
	assert.Contains(t, err.Error(), "waiting for a fleet session permit for pool memdb:1/fleet")
	assert.Contains(t, err.Error(), "(etcd budget /t/mgr/: this process held 4 of cap 4,")
	assert.LessOrEqual(t, db.OpenNow(), capN)
	fs := m.Stats().Fleet
	require.NotNil(t, fs, "the etcd budget shows in the manager's Stats")
	assert.Equal(t, capN, fs.Cap)
	assert.Equal(t, capN, fs.Held)
	assert.Equal(t, capN, fs.InUse)
	assert.True(t, fs.LeaseValid)
	assert.Positive(t, fs.Fetches)
	assert.Equal(t, "etcd budget /t/mgr/", fs.Budget)

	for _, l := range leases {
		l.Release(nil) // idle now: the waiting identity takes a permit
	}
	l, err := m.Acquire(patient(t), ident("over"))
	require.NoError(t, err)
	assert.LessOrEqual(t, db.OpenNow(), capN)
	assert.Positive(t, m.Stats().Total.Closes["stolen"])
	l.Release(nil)
	st := b.Stats()
	assert.LessOrEqual(t, st.Held, capN)
	assert.Positive(t, st.Misses)
}
