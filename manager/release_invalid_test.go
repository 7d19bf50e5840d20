package manager

import (
	"context"
	"database/sql/driver"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/sim/memdb"
	"github.com/idpool/idpool/tokens"
)

// validityConn is a memdb connection whose driver says, through IsValid,
// whether it is still usable.
type validityConn struct {
	*memdb.Conn
	valid *atomic.Bool
}

func (c validityConn) IsValid() bool { return c.valid.Load() }

// A connection its driver calls invalid at Release (driver.Validator, asked
// after the session's reset, as database/sql asks before it keeps a
// connection) is closed, not handed to the identity's next caller.
func TestReleaseClosesAConnectionItsDriverCallsInvalid(t *testing.T) {
	mem := memdb.New()
	var valid atomic.Bool
	valid.Store(true)
	m := startManager(t, Config{Server: "valid:1/db", MaxSize: 1, HealthCheckAfter: -1,
		Dialer: DialerFunc(func(ctx context.Context, req DialRequest) (driver.Conn, error) {
			c, err := mem.Dial(ctx, req)
			if err != nil {
				return nil, err
			}
			return validityConn{Conn: c.(*memdb.Conn), valid: &valid}, nil
		})})
	l, err := m.Acquire(context.Background(), tokens.SQLLogin())
	require.NoError(t, err)
	first := l.Raw()
	valid.Store(false)
	l.Release(nil)
	valid.Store(true)

	l, err = m.Acquire(context.Background(), tokens.SQLLogin())
	require.NoError(t, err)
	defer l.Release(nil)
	assert.NotEqual(t, first, l.Raw(), "the connection its driver called invalid was handed out again")
	assert.Equal(t, 2, mem.Dials())
}
