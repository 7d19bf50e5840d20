package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/internal/pgtest"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/tokens"
)

// TestPGQuietIdentityPoolRetires: the pool of an identity that went quiet
// retires on its own and logs its sessions out on the server, while another
// identity's busy pool stays; the quiet identity's next call starts a new
// pool that logs in again.
func TestPGQuietIdentityPoolRetires(t *testing.T) {
	srv := pgtest.Shared(t)
	ctx := pgCtx(t)
	quietRole, quietPwd := srv.NewRole(t, "quiet")
	busyRole, busyPwd := srv.NewRole(t, "busy")
	static := func(pwd string) tokens.Source {
		return tokens.SourceFunc(func(context.Context) (tokens.Token, error) {
			return tokens.Token{Value: pwd, ExpiresOn: time.Now().Add(time.Hour)}, nil
		})
	}
	quiet, busy := pgIdentity(quietRole, static(quietPwd)), pgIdentity(busyRole, static(busyPwd))
	p := pgTokenPool(t, srv, manager.Config{MaxSize: 2, PoolIdleTimeout: 300 * time.Millisecond}, quietRole, busyRole)
	asQuiet, asBusy := tokens.WithIdentity(ctx, quiet), tokens.WithIdentity(ctx, busy)

	assert.Equal(t, quietRole, pgWho(t, asQuiet, p.db))
	// The busy identity keeps a session checked out: its pool cannot retire.
	held, err := p.db.Conn(asBusy)
	require.NoError(t, err)
	assert.Equal(t, busyRole, pgWho(t, asBusy, held))
	require.Equal(t, 2, p.db.Manager.Stats().Pools)

	pgEventually(t, 10*time.Second, func() bool { return p.db.Manager.Stats().Pools == 1 },
		"the quiet identity's pool did not retire: %+v", func() any { return p.db.Manager.Stats() })
	st := p.db.Manager.Stats()
	assert.EqualValues(t, 1, st.PoolsRetired)
	pgEventually(t, 10*time.Second, func() bool { return srv.Backends(t, quietRole) == 0 },
		"the retired pool's session is still on the server")
	assert.Equal(t, 1, srv.Backends(t, busyRole))
	assert.Equal(t, busyRole, pgWho(t, asBusy, held), "the busy pool was left alone")
	require.NoError(t, held.Close())

	assert.Equal(t, quietRole, pgWho(t, asQuiet, p.db))
	st = p.db.Manager.Stats()
	assert.EqualValues(t, 3, st.PoolsCreated)
	assert.Equal(t, 2, srv.Logins(t, quietRole), "one login per pool of the quiet identity")
	assert.EqualValues(t, 3, st.Total.Opens, "counters of the retired pool are kept in the totals")
}
