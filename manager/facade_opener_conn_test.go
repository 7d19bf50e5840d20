package manager

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFacadeConnFromTheOpenerIsBoundByItsFirstCall: what OpenDB's doc says
// of a *sql.Conn that database/sql gives a connection its opener has just
// made (it passes db.Conn's ctx to nothing of the driver's): its first call
// binds it, a first call with no identity to the default identity (later
// calls with db.Conn's identity are then refused, never run as the default
// one), and PingContext with db.Conn's ctx binds it to db.Conn's identity.
func TestFacadeConnFromTheOpenerIsBoundByItsFirstCall(t *testing.T) {
	for _, ping := range []bool{false, true} {
		m, mem := newManager(t, Config{MaxSize: 2})
		db := openFacade(t, m, WithDefaultIdentity(identity("svc")))
		db.SetMaxOpenConns(1)
		alices, err := db.Conn(as("alice"))
		require.NoError(t, err)
		got := make(chan *sql.Conn, 1)
		go func() {
			c, err := db.Conn(as("bob"))
			assert.NoError(t, err)
			got <- c
		}()
		eventually(t, func() bool { return db.Stats().WaitCount == 1 }, "bob waits")
		mem.FailQueries(1, driver.ErrBadConn)
		_, err = alices.ExecContext(as("alice"), "SELECT 1")
		require.ErrorIs(t, err, driver.ErrBadConn)
		_ = alices.Close() // closed as bad: the opener makes bob's
		bobs := <-got
		require.NotNil(t, bobs)
		if ping {
			require.NoError(t, bobs.PingContext(as("bob")))
		}
		var who string
		require.NoError(t, bobs.QueryRowContext(context.Background(), "SELECT IDENTITY").Scan(&who))
		err = bobs.QueryRowContext(as("bob"), "SELECT IDENTITY").Scan(new(string))
		if ping {
			assert.Equal(t, "test:bob", who, "bound by the ping")
			assert.NoError(t, err)
		} else {
			assert.Equal(t, "test:svc", who, "the limit OpenDB's doc states")
			assert.ErrorIs(t, err, ErrIdentityMismatch, "bound to the default identity by its first call, never run as it for bob")
		}
		require.NoError(t, bobs.Close())
	}
}
