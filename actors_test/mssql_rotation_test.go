package e2e

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/actors"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/tokens"
)

// offsetClock is the system clock moved forward by a settable offset. The
// pools read it to judge token expiry, while sim/entra, MSAL and sim/tds live
// in real time: jumping it ahead makes a live token look near its expiry to
// the pool alone, at a moment the test chooses. Timers run in real time, so
// after a jump they fire late, never early.
type offsetClock struct{ off atomic.Int64 }

func (c *offsetClock) Now() time.Time { return time.Now().Add(time.Duration(c.off.Load())) }

func (c *offsetClock) AfterFunc(d time.Duration, f func()) actors.Timer { return time.AfterFunc(d, f) }

func (c *offsetClock) jump(d time.Duration) { c.off.Add(int64(d)) }

// TestMSSQLTokenRotationAtEndpoint: three connections log in with token T1
// (sim/entra hands the same token to every request until rotated); the
// identity is rotated at the endpoint; when T1 comes within TokenThreshold
// of its expiry, the next checkout mints, sees the new token T2, closes the
// candidate, drains its idle siblings holding T1 and reopens with T2 without
// a second mint. From then on the server sees T2 logins only. Run for a
// managed identity and a service principal, through the real credentials.
func TestMSSQLTokenRotationAtEndpoint(t *testing.T) {
	env := startMSSQL(t)
	for _, kind := range []string{"managed-identity", "service-principal"} {
		t.Run(kind, func(t *testing.T) {
			// T1 lives 4 minutes: under MSAL's 5-minute window, so MSAL never
			// caches it and every mint reaches sim/entra, which reuses it.
			env.entra.SetLifetime(4 * time.Minute)
			env.entra.SetReuse(true)
			var id testIdentity
			if kind == "managed-identity" {
				id = env.managedIdentity(t, "rot")
			} else {
				id = env.servicePrincipal(t, "rot")
			}
			clk := &offsetClock{}
			db := env.openManager(t, manager.Config{MaxSize: 3, TokenThreshold: time.Minute, Clock: clk, HealthCheckAfter: -1}, nil)
			m := db.Manager
			ctx := tokens.WithIdentity(testCtx(t, 60*time.Second), id.ID)

			// Three connections, all logged in with T1.
			spids := map[int64]bool{}
			leases := make([]*manager.Lease, 3)
			for i := range leases {
				leases[i] = acquire(t, ctx, m, id.ID)
				spid, err := leaseQuery(ctx, leases[i], "SELECT @@SPID")
				require.NoError(t, err)
				spids[spid.(int64)] = true
			}
			for _, l := range leases {
				l.Release(nil)
			}
			before := env.loginsOf(id.Login)
			require.Len(t, before, 3)
			t1 := before[0]
			for _, r := range before {
				require.Equal(t, t1.TokenID, r.TokenID, "all three logged in with T1")
				require.Zero(t, r.Generation)
			}
			require.Equal(t, 1, env.entra.Issued(id.Name))
			st := m.Stats()
			require.EqualValues(t, 3, st.Total.TokenMints)
			require.Equal(t, 3, st.Total.Idle)

			// Rotate at the endpoint; T2 lives an hour (MSAL caches it).
			env.entra.Rotate(id.Name)
			env.entra.SetLifetime(time.Hour)
			// T1 now has 30 s left in the pool's eyes: inside the threshold.
			clk.jump(3*time.Minute + 30*time.Second)

			var login string
			var spid int64
			require.NoError(t, db.QueryRowContext(ctx, "SELECT SUSER_SNAME(), @@SPID").Scan(&login, &spid))
			assert.Equal(t, id.Login, login)
			assert.False(t, spids[spid], "the checkout reopened instead of reusing a T1 connection")

			st = m.Stats()
			assert.EqualValues(t, 1, st.Total.Rotations)
			assert.EqualValues(t, 2, st.Total.StaleDrained, "both idle siblings held T1")
			assert.EqualValues(t, 1, st.Total.Closes["token_rotated"])
			assert.EqualValues(t, 2, st.Total.Closes["stale_token"])
			assert.EqualValues(t, 4, st.Total.TokenMints, "one mint for the check; the reopen reused its token")
			assert.Equal(t, 2, env.entra.Issued(id.Name))
			after := env.loginsOf(id.Login)
			require.Len(t, after, 4)
			t2 := after[3]
			assert.NotEqual(t, t1.TokenID, t2.TokenID)
			assert.Equal(t, 1, t2.Generation)

			// The server drops the three T1 sessions.
			eventually(t, 10*time.Second, func() bool {
				for _, s := range env.tds.Sessions() {
					if s.Login == id.Login && !s.TokenExpiresOn.Equal(t2.ExpiresOn) {
						return false
					}
				}
				return true
			}, "T1 sessions stay open at the server")

			// Growing back to MaxSize logs in with T2 only, served from the
			// credential's cache: no new token at the endpoint, no rotation.
			for i := range leases {
				leases[i] = acquire(t, ctx, m, id.ID)
				got, err := leaseQuery(ctx, leases[i], "SELECT SUSER_SNAME()")
				require.NoError(t, err)
				assert.Equal(t, id.Login, got)
			}
			for _, l := range leases {
				l.Release(nil)
			}
			for i, r := range env.loginsOf(id.Login) {
				if i < 3 {
					assert.Equal(t, t1.TokenID, r.TokenID)
				} else {
					assert.Equal(t, t2.TokenID, r.TokenID, "login %d after the rotation used another token", i)
				}
			}
			sessions := 0
			for _, s := range env.tds.Sessions() {
				if s.Login == id.Login {
					sessions++
					assert.True(t, s.TokenExpiresOn.Equal(t2.ExpiresOn))
				}
			}
			assert.Equal(t, 3, sessions)
			st = m.Stats()
			assert.EqualValues(t, 1, st.Total.Rotations)
			assert.Equal(t, 2, env.entra.Issued(id.Name))
			assert.LessOrEqual(t, st.Total.TokenMints, st.Total.Opens+1, "mints only to open or re-check")
			t.Logf("rotation (%s): logins %d, mints %d, token endpoint %d, closes %v",
				kind, len(env.loginsOf(id.Login)), st.Total.TokenMints, env.entra.Issued(id.Name), st.Total.Closes)
		})
	}
}
