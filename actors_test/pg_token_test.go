package e2e

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/actors"
	"github.com/idpool/idpool/internal/pgtest"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/tokens"
)

// pgWho asks the server who the session q runs on is logged in as.
func pgWho(t *testing.T, ctx context.Context, q pgQueryer) string {
	t.Helper()
	var who string
	require.NoError(t, q.QueryRowContext(ctx, "SELECT current_user").Scan(&who))
	return who
}

// pgLoginFails checks that role can no longer log in with password.
func pgLoginFails(t *testing.T, ctx context.Context, srv *pgtest.Server, role, password string) {
	t.Helper()
	c, err := pgx.Connect(ctx, srv.DSN(role, password, "postgres"))
	if err == nil {
		_ = c.Close(ctx)
		t.Fatalf("%s still logs in with its old token", role)
	}
	var pgErr *pgconn.PgError
	require.ErrorAs(t, err, &pgErr)
	assert.Equal(t, "28P01", pgErr.Code, "invalid_password")
}

// TestPGTokenAsPasswordRotation: each identity logs in as its own role with
// its current token as the password (as Azure Database for PostgreSQL takes
// Entra tokens). Tokens are minted only to open connections; when the
// endpoint rotates, the old token stops working for new logins while the
// sessions opened with it live on, so the pool must stop using them: at the
// first checkout within TokenThreshold of the old token's expiry it mints,
// sees the new token, retires the candidate and drains its idle siblings
// holding the stale token, and opens with the new one. Another identity's
// pool is untouched, and every physical open is one login on the server.
func TestPGTokenAsPasswordRotation(t *testing.T) {
	srv := pgtest.Shared(t)
	ctx := pgCtx(t)
	clock := &pgSkewClock{}
	aliceRole, _ := srv.NewRole(t, "tokalice")
	bobRole, _ := srv.NewRole(t, "tokbob")
	aliceEP, bobEP := newPGEndpoint(aliceRole, clock), newPGEndpoint(bobRole, clock)
	t1 := aliceEP.Issue(t, srv, time.Hour)
	bobEP.Issue(t, srv, 3*time.Hour)
	alice, bob := pgIdentity(aliceRole, aliceEP), pgIdentity(bobRole, bobEP)
	p := pgTokenPool(t, srv, manager.Config{
		MaxSize: 3, TokenThreshold: 5 * time.Minute, Clock: clock,
		// Only the token decides when a connection goes: the jumps of the
		// clock below must not retire connections for other reasons.
		MaxLifetime: -1, IdleTimeout: -1, HealthCheckAfter: -1, PoolIdleTimeout: -1,
	}, aliceRole, bobRole)
	asAlice, asBob := tokens.WithIdentity(ctx, alice), tokens.WithIdentity(ctx, bob)

	// Three sessions for Alice, two for Bob, each logged in as its role.
	conns, alicePIDs := pgHoldConns(t, asAlice, p.db, 3)
	for _, c := range conns {
		assert.Equal(t, aliceRole, pgWho(t, asAlice, c))
	}
	pgCloseAll(t, conns)
	conns, _ = pgHoldConns(t, asBob, p.db, 2)
	for _, c := range conns {
		assert.Equal(t, bobRole, pgWho(t, asBob, c))
	}
	pgCloseAll(t, conns)
	a := p.poolStats(t, alice)
	require.EqualValues(t, 3, a.Opens)
	assert.Equal(t, aliceEP.mints.Load(), int64(a.TokenMints), "the endpoint is called only by the pool's mints")
	assert.LessOrEqual(t, a.TokenMints, a.Opens)
	assert.Equal(t, 3, srv.Logins(t, aliceRole))

	// Pool hits mint nothing.
	for range 5 {
		assert.Equal(t, aliceRole, pgWho(t, asAlice, p.db))
	}
	assert.Equal(t, a.TokenMints, p.poolStats(t, alice).TokenMints)
	assert.Equal(t, a.Opens, p.poolStats(t, alice).Opens)

	// The endpoint rotates Alice's token. New logins with the old one fail,
	// but the sessions it opened stay, and while it is valid beyond the
	// threshold the pool keeps using them without a mint.
	aliceEP.Issue(t, srv, 2*time.Hour)
	pgLoginFails(t, ctx, srv, aliceRole, t1.Value)
	assert.Equal(t, 3, srv.Backends(t, aliceRole))
	pid := pgMustPID(t, asAlice, p.db)
	assert.Contains(t, alicePIDs, pid)
	assert.Equal(t, a.TokenMints, p.poolStats(t, alice).TokenMints)

	// 56 minutes later the old token is within the 5-minute threshold. The
	// next checkout mints, gets the new token, and replaces all three
	// stale sessions, without the caller seeing anything.
	clock.Advance(56 * time.Minute)
	assert.Equal(t, aliceRole, pgWho(t, asAlice, p.db))
	a = p.poolStats(t, alice)
	assert.EqualValues(t, 1, a.Rotations)
	assert.EqualValues(t, 2, a.StaleDrained, "the idle siblings with the stale token")
	assert.EqualValues(t, 1, a.Closes["token_rotated"])
	assert.EqualValues(t, 2, a.Closes["stale_token"])
	assert.EqualValues(t, 4, a.Opens, "one new session, opened with the new token")
	assert.Equal(t, 1, a.Open)
	assert.LessOrEqual(t, a.TokenMints, a.Opens)
	pgEventually(t, 10*time.Second, func() bool { return srv.Backends(t, aliceRole) == 1 },
		"sessions opened with the stale token are still on the server")
	newPID := pgMustPID(t, asAlice, p.db)
	assert.NotContains(t, alicePIDs, newPID)
	assert.Equal(t, 4, srv.Logins(t, aliceRole), "server-side logins = opens")

	// Bob's token has hours left: his pool neither minted nor rotated.
	b := p.poolStats(t, bob)
	assert.Equal(t, bobRole, pgWho(t, asBob, p.db))
	assert.Equal(t, b.TokenMints, p.poolStats(t, bob).TokenMints)
	assert.Zero(t, p.poolStats(t, bob).Rotations)
	assert.Equal(t, 2, srv.Backends(t, bobRole))

	// The new connection is reused without a mint while t2 is fresh.
	mints := a.TokenMints
	for range 3 {
		assert.Equal(t, newPID, pgMustPID(t, asAlice, p.db))
	}
	assert.Equal(t, mints, p.poolStats(t, alice).TokenMints)

	// Near t2's expiry the endpoint hands back the same token with a later
	// expiry: the pool mints once, keeps the session and records the new
	// expiry (no rotation, no login).
	clock.Advance(60 * time.Minute)
	aliceEP.Extend(time.Hour)
	assert.Equal(t, newPID, pgMustPID(t, asAlice, p.db))
	a = p.poolStats(t, alice)
	assert.Equal(t, mints+1, a.TokenMints)
	assert.EqualValues(t, 1, a.Rotations)
	assert.EqualValues(t, 4, a.Opens)
	assert.Equal(t, newPID, pgMustPID(t, asAlice, p.db))
	assert.Equal(t, mints+1, p.poolStats(t, alice).TokenMints, "the recorded expiry is the new one")
	assert.Equal(t, 4, srv.Logins(t, aliceRole))
}

// TestPGTokenNearExpiryIdleConnectionsRetire: with the real clock, idle
// connections are closed once their token is within TokenThreshold of
// expiring, before it expires, without any checkout and without a mint; the
// next call opens with a fresh token.
func TestPGTokenNearExpiryIdleConnectionsRetire(t *testing.T) {
	srv := pgtest.Shared(t)
	ctx := pgCtx(t)
	role, _ := srv.NewRole(t, "tokexp")
	ep := newPGEndpoint(role, actors.SystemClock{})
	const threshold = time.Hour
	// Valid for an hour and a second: the pool must let it go within a
	// second or so, an hour before the server would refuse it.
	ep.Issue(t, srv, threshold+time.Second)
	id := pgIdentity(role, ep)
	p := pgTokenPool(t, srv, manager.Config{MaxSize: 2, TokenThreshold: threshold}, role)
	asID := tokens.WithIdentity(ctx, id)

	conns, pids := pgHoldConns(t, asID, p.db, 2)
	pgCloseAll(t, conns)
	st := p.stats()
	require.EqualValues(t, 2, st.Opens)
	mints := st.TokenMints

	pgEventually(t, 15*time.Second, func() bool { return p.stats().Open == 0 },
		"idle connections with a token near expiry are still open")
	st = p.stats()
	assert.EqualValues(t, 2, st.Closes["token_expiring"])
	assert.EqualValues(t, 2, st.ExpiredClosed)
	assert.Equal(t, mints, st.TokenMints, "closing idle connections mints nothing")
	pgEventually(t, 10*time.Second, func() bool { return srv.Backends(t, role) == 0 },
		"the retired sessions are still on the server")

	ep.Issue(t, srv, 2*threshold)
	pid := pgMustPID(t, asID, p.db)
	assert.NotContains(t, pids, pid)
	st = p.stats()
	assert.EqualValues(t, 3, st.Opens)
	assert.Equal(t, mints+1, st.TokenMints)
	assert.Equal(t, 3, srv.Logins(t, role))
}

// pgStaleBusyRotation sets up an identity with two sessions opened with
// token T1, one of them kept checked out (returned); rotates to T2, moves
// the clock to within the threshold of T1's expiry and makes one call, which
// rotates the idle T1 session away. It returns the pool, the busy stale
// session, both T1 pids and the pid of the session opened with T2.
func pgStaleBusyRotation(t *testing.T) (p *pgPool, asID context.Context, role string, busy *sql.Conn, stale []int, fresh int) {
	t.Helper()
	srv := pgtest.Shared(t)
	ctx := pgCtx(t)
	clock := &pgSkewClock{}
	role, _ = srv.NewRole(t, "tokbusy")
	ep := newPGEndpoint(role, clock)
	ep.Issue(t, srv, time.Hour)
	id := pgIdentity(role, ep)
	p = pgTokenPool(t, srv, manager.Config{
		MaxSize: 3, TokenThreshold: 5 * time.Minute, Clock: clock,
		MaxLifetime: -1, IdleTimeout: -1, HealthCheckAfter: -1, PoolIdleTimeout: -1,
	}, role)
	asID = tokens.WithIdentity(ctx, id)

	conns, stale := pgHoldConns(t, asID, p.db, 2)
	busy = conns[0]
	require.NoError(t, conns[1].Close())

	ep.Issue(t, srv, 2*time.Hour)
	clock.Advance(56 * time.Minute)
	fresh = pgMustPID(t, asID, p.db)
	require.NotContains(t, stale, fresh)
	st := p.stats()
	require.EqualValues(t, 1, st.Rotations)
	require.EqualValues(t, 1, st.Closes["token_rotated"])
	require.EqualValues(t, 3, st.Opens)
	return p, asID, role, busy, stale, fresh
}

// TestPGTokenRotationWithAStaleSessionBusy: a session holding the stale token
// that is checked out when the rotation is found keeps working for its
// caller (the server does not end it), but once released it is never handed
// out again.
func TestPGTokenRotationWithAStaleSessionBusy(t *testing.T) {
	p, asID, role, busy, stale, _ := pgStaleBusyRotation(t)

	// The busy stale session still works for the caller holding it.
	assert.Equal(t, stale[0], pgMustPID(t, asID, busy))
	require.NoError(t, busy.Close())

	for range 5 {
		pid := pgMustPID(t, asID, p.db)
		require.NotContains(t, stale, pid, "a session opened with the stale token was handed out again")
	}
	pgEventually(t, 10*time.Second, func() bool {
		st := p.stats()
		return st.Dialing == 0 && st.Closes["token_rotated"]+st.Closes["token_expiring"]+st.Closes["stale_token"] == 2 &&
			p.srv.Backends(t, role) == st.Open
	}, "the released stale session is not closed, or the server's sessions differ from the pool's: %+v",
		func() any { return p.stats() })
	st := p.stats()
	assert.LessOrEqual(t, st.TokenMints, st.Opens)
	assert.LessOrEqual(t, st.Open, 2)
}

// TestPGTokenRotationOpensNoSurplusConnection: when the stale session
// released above is rotated away at its next checkout, an idle session with
// the fresh token is there to serve the caller; no new login is needed.
func TestPGTokenRotationOpensNoSurplusConnection(t *testing.T) {
	p, asID, _, busy, stale, _ := pgStaleBusyRotation(t)
	require.NoError(t, busy.Close())

	// One caller at a time: the one fresh session is all that is needed.
	for range 3 {
		pid := pgMustPID(t, asID, p.db)
		require.NotContains(t, stale, pid)
	}
	pgEventually(t, 10*time.Second, func() bool { return p.stats().Dialing == 0 }, "a dial does not end")
	st := p.stats()
	assert.EqualValues(t, 3, st.Opens, "one session per token was needed")
	assert.Equal(t, 1, st.Open)
}
