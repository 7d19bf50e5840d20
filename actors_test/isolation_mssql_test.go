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
// kills and token rotations. Tokens live four minutes (under MSAL's 5-minute
// cache window, so every mint reaches sim/entra) and sim/entra hands the
// same token to every request until rotated or half its life has passed: a
// rotation at the endpoint reaches the pool with the next dial (after a
// kill). TokenThreshold is under half the lifetime, so a token the pool
// re-checks has always outlived sim/entra's reuse and the re-check gets a
// fresh one, however long a loaded machine takes over the suite. (With a
// threshold ten seconds short of the lifetime, a suite slower than ten
// seconds re-checked into the reused token, still within the threshold,
// and the mint was refused. Re-checks meeting a rotation are
// TestMSSQLTokenRotationAtEndpoint's, on a clock it moves.)
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
	db := env.openManager(t, manager.Config{MaxSize: 3, TokenThreshold: 2*time.Minute - 10*time.Second}, nil)
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
