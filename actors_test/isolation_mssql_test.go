package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/idpool/idpool/manager"
)

// TestMSSQLIsolationSuite runs the isolation suite over sim/tds with 24
// identities (managed identities and service principals, through the real
// azidentity credentials): SUSER_SNAME() must name the ctx's identity on
// every entry point under every database/sql setting, and through session
// kills and token rotations. Tokens live four minutes and TokenThreshold is
// ten seconds shorter: a fresh token is accepted (a token already within the
// threshold is refused), and ten seconds after its mint every checkout
// re-checks its connection's token, so a rotation at the endpoint reaches
// the pool at once.
func TestMSSQLIsolationSuite(t *testing.T) {
	env := startMSSQL(t)
	env.entra.SetLifetime(4 * time.Minute)
	env.entra.SetReuse(true)
	var ids []isoIdentity
	var names []string
	for i := range 12 {
		mi := env.managedIdentity(t, fmt.Sprint("iso", i))
		sp := env.servicePrincipal(t, fmt.Sprint("iso", i))
		ids = append(ids, isoIdentity{ID: mi.ID, Login: mi.Login}, isoIdentity{ID: sp.ID, Login: sp.Login})
		names = append(names, mi.Name, sp.Name)
	}
	db := env.openManager(t, manager.Config{MaxSize: 3, TokenThreshold: 4*time.Minute - 10*time.Second}, nil)
	runIsolationSuite(t, isoRig{
		m:    db.Manager,
		who:  "SELECT SUSER_SNAME()",
		exec: "SELECT 1",
		ids:  ids,
		killed: func(err error) bool {
			// go-mssqldb reports a killed session as a read error.
			return manager.IsBroken(err) || strings.Contains(err.Error(), "EOF") || strings.Contains(err.Error(), "connection reset")
		},
		churn: func(ctx context.Context, rng *rand.Rand) {
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				if rng.IntN(2) == 0 {
					env.entra.Rotate(names[rng.IntN(len(names))])
					continue
				}
				if sessions := env.tds.Sessions(); len(sessions) > 0 {
					env.tds.Kill(sessions[rng.IntN(len(sessions))].SPID)
				}
			}
		},
	})
}
