package manager

import (
	"context"
	"database/sql/driver"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idpool/idpool/actors"
	"github.com/idpool/idpool/sim/memdb"
	"github.com/idpool/idpool/tokens"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newManager starts a Manager over a fresh memdb and closes it when the test
// ends, checking that nothing stays open.
func newManager(t *testing.T, cfg Config) (*Manager, *memdb.DB) {
	t.Helper()
	db := memdb.New()
	if cfg.Server == "" {
		cfg.Server = "memdb:1/test"
	}
	if cfg.Dialer == nil {
		cfg.Dialer = db
	}
	m, err := New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, m.Close(ctx))
		require.Zero(t, db.OpenNow(), "connections left open after Close")
		require.Zero(t, db.Misuse(), "misuse: %v", db.Misuses())
	})
	return m, db
}

func acquire(t *testing.T, m *Manager, id tokens.Identity) *Lease {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	l, err := m.Acquire(ctx, id)
	require.NoError(t, err)
	return l
}

// hitAllocs returns the heap allocations of one pool hit (an Acquire of id
// served from idle and its Release), after a first pair that opens the
// connection. The allocation tests skip under the race detector, which
// allocates.
func hitAllocs(t *testing.T, m *Manager, id tokens.Identity) float64 {
	t.Helper()
	acquire(t, m, id).Release(nil)
	ctx := context.Background()
	return testing.AllocsPerRun(200, func() {
		l, err := m.Acquire(ctx, id)
		if err != nil {
			panic(err)
		}
		l.Release(nil)
	})
}

func connID(l *Lease) int64 { return l.Raw().(*memdb.Conn).ID() }

func eventually(t *testing.T, cond func() bool, msg string, args ...any) {
	t.Helper()
	require.Eventually(t, cond, 5*time.Second, time.Millisecond, append([]any{msg}, args...)...)
}

func query(t *testing.T, l *Lease, q string) driver.Rows {
	t.Helper()
	rows, err := l.Conn().QueryContext(context.Background(), q, nil)
	require.NoError(t, err)
	return rows
}

var sqlLogin = tokens.SQLLogin()

func identity(name string) tokens.Identity {
	return tokens.New(tokens.KindProvidedToken, "test:"+name, tokens.SourceFunc(func(context.Context) (tokens.Token, error) {
		return tokens.Token{Value: "token-of-" + name, ExpiresOn: time.Now().Add(time.Hour)}, nil
	}))
}

type driverValue = driver.Value

var errBad = driver.ErrBadConn

func nameOf(id tokens.Identity) string {
	d, _ := id.Discriminator(context.Background())
	return d[len("test:"):]
}

// skewClock is the real clock moved forward by what the test Advances: a
// connection then looks idle (or old) for as long as the test says, without
// a sleep. Its timers run in real time.
type skewClock struct{ off atomic.Int64 }

func (c *skewClock) Now() time.Time { return time.Now().Add(time.Duration(c.off.Load())) }

func (c *skewClock) AfterFunc(d time.Duration, f func()) actors.Timer { return time.AfterFunc(d, f) }

// Advance moves the clock forward by d.
func (c *skewClock) Advance(d time.Duration) { c.off.Add(int64(d)) }
