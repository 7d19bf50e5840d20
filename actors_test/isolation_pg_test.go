package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idpool/idpool/internal/pgtest"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/tokens"
)

// TestPGIsolationSuite runs the isolation suite over PostgreSQL with 16
// identities, each a role whose password is its token: current_user must
// name the ctx's identity on every entry point under every database/sql
// setting, and through backend terminations and token rotations (a new
// password at the server and at the identity's token source).
func TestPGIsolationSuite(t *testing.T) {
	srv := pgtest.Shared(t)
	prefix := fmt.Sprintf("isosuite%d", os.Getpid())
	var ids []isoIdentity
	var roles []string
	secrets := make([]*atomic.Pointer[string], 0, 16)
	for range 16 {
		role, pwd := srv.NewRole(t, prefix)
		secret := &atomic.Pointer[string]{}
		secret.Store(&pwd)
		secrets = append(secrets, secret)
		roles = append(roles, role)
		id := pgIdentity(role, tokens.SourceFunc(func(context.Context) (tokens.Token, error) {
			return tokens.Token{Value: *secret.Load(), ExpiresOn: time.Now().Add(time.Hour)}, nil
		}))
		ids = append(ids, isoIdentity{ID: id, Login: role})
	}
	p := pgTokenPool(t, srv, manager.Config{MaxSize: 3}, roles...)
	rotations := 0
	runIsolationSuite(t, isoRig{
		m:    p.db.Manager,
		who:  "SELECT current_user",
		exec: "SELECT 1",
		ids:  ids,
		killed: func(err error) bool {
			s := err.Error()
			return manager.IsBroken(err) || strings.Contains(s, "57P01") || strings.Contains(s, "conn closed") || strings.Contains(s, "EOF")
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
				i := rng.IntN(len(roles))
				if rng.IntN(2) == 0 {
					// The next connection logs in with the new token; open
					// ones stay logged in, as with Entra tokens.
					pwd := fmt.Sprintf("rot-%d-%x", rotations, rng.Uint64())
					rotations++
					srv.SetPassword(t, roles[i], pwd)
					secrets[i].Store(&pwd)
					continue
				}
				srv.Terminate(t, roles[i])
			}
		},
	})
}
