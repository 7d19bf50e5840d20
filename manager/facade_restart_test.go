package manager

import (
	"database/sql"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFacadeFirstCallAfterARestartSucceeds: a server restart kills every
// session while each identity's pool holds MaxSize idle connections, used
// moments ago (so the idle health check would not look at them). The first
// call of every identity through the facade must succeed: database/sql gives
// a call three tries, and each try used to get another dead idle connection.
func TestFacadeFirstCallAfterARestartSucceeds(t *testing.T) {
	const size = 8
	m, mem := newManager(t, Config{MaxSize: size})
	db := openFacade(t, m)
	names := []string{"alice", "bob", "carol"}
	for _, name := range names {
		conns := make([]*sql.Conn, size)
		for i := range conns {
			c, err := db.Conn(as(name))
			require.NoError(t, err)
			require.NoError(t, c.PingContext(as(name)))
			conns[i] = c
		}
		for _, c := range conns {
			require.NoError(t, c.Close())
		}
	}
	require.Equal(t, len(names)*size, m.Stats().Total.Idle)

	mem.KillAll() // the restart
	for _, name := range names {
		var who string
		require.NoError(t, db.QueryRowContext(as(name), "SELECT IDENTITY").Scan(&who), "first call of %s after the restart", name)
		assert.Equal(t, "test:"+name, who)
	}
	st := m.Stats().Total
	t.Logf("closes %v, opens %d", st.Closes, st.Opens)
	assert.EqualValues(t, len(names), st.Closes["broken"], "one call per identity met a dead connection; the rest were found by checks")
	assert.EqualValues(t, len(names)*(size-1), st.Closes["failed_health_check"])
}
