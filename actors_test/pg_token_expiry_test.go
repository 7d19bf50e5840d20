package e2e

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/actors"
	"github.com/idpool/idpool/internal/pgtest"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/tokens"
)

// pgRequireExpiryRefusal checks that err is the pool refusing tok for its
// expiry: the error names the expiry and never the token.
func pgRequireExpiryRefusal(t *testing.T, err error, tok tokens.Token) {
	t.Helper()
	require.Error(t, err)
	var te *actors.TokenExpiryError
	require.ErrorAs(t, err, &te, "refused for its expiry: %v", err)
	assert.True(t, te.ExpiresOn.Equal(tok.ExpiresOn))
	assert.Contains(t, err.Error(), tok.ExpiresOn.UTC().Format(time.RFC3339))
	for e := err; e != nil; e = errors.Unwrap(e) {
		assert.NotContains(t, e.Error(), tok.Value[:40])
	}
}

// TestPGExpiredTokenIsNeverUsed: PostgreSQL takes the token as a password and
// never looks at its expiry, so here only the pool stands between an expired
// token and a session. A token that has expired (the server would accept
// it) opens nothing: Acquire and the facade fail naming its expiry,
// and the server sees no login.
func TestPGExpiredTokenIsNeverUsed(t *testing.T) {
	srv := pgtest.Shared(t)
	ctx := pgCtx(t)
	role, _ := srv.NewRole(t, "expired")
	tok := tokens.Token{Value: pgRandomToken("expired"), ExpiresOn: time.Now().Add(-time.Minute).Truncate(time.Second)}
	srv.SetPassword(t, role, tok.Value)
	// A source that keeps handing out the one token, as a static token
	// does; the identity logs in as role.
	id := pgIdentity(role, tokens.SourceFunc(func(context.Context) (tokens.Token, error) { return tok, nil }))
	p := pgTokenPool(t, srv, manager.Config{MaxSize: 2, DialBackoff: -1}, role)

	_, err := p.db.Manager.Acquire(ctx, id)
	pgRequireExpiryRefusal(t, err, tok)
	_, err = p.db.ExecContext(tokens.WithIdentity(ctx, id), "SELECT 1")
	pgRequireExpiryRefusal(t, err, tok)
	assert.Zero(t, srv.Logins(t, role), "no login with the expired token")
	assert.Zero(t, p.stats().Opens)
}

// TestPGSameTokenNearExpiryIsNotKept: a connection opened with a valid token
// comes up for checkout inside the threshold; the re-check mint hands back the
// same token, whose expiry has not moved. The connection is not used again:
// the acquire fails naming the expiry and the session is closed. Once the
// endpoint issues a new token, the next acquire logs in with it.
func TestPGSameTokenNearExpiryIsNotKept(t *testing.T) {
	srv := pgtest.Shared(t)
	ctx := pgCtx(t)
	clock := &pgSkewClock{}
	role, _ := srv.NewRole(t, "nearexp")
	ep := newPGEndpoint(role, clock)
	t1 := ep.Issue(t, srv, 10*time.Minute)
	id := pgIdentity(role, ep)
	p := pgTokenPool(t, srv, manager.Config{
		MaxSize: 1, TokenThreshold: 5 * time.Minute, Clock: clock, DialBackoff: -1,
		MaxLifetime: -1, IdleTimeout: -1, HealthCheckAfter: -1, PoolIdleTimeout: -1,
	}, role)
	as := tokens.WithIdentity(ctx, id)
	pid := pgMustPID(t, as, p.db)

	clock.Advance(6 * time.Minute) // 4 minutes left: inside the threshold
	_, err := p.db.Manager.Acquire(ctx, id)
	pgRequireExpiryRefusal(t, err, t1)
	pgEventually(t, 10*time.Second, func() bool { return !pgAlive(t, srv, pid) },
		"the session of the near-expiry token is still open")
	assert.EqualValues(t, 1, srv.Logins(t, role))

	ep.Issue(t, srv, time.Hour)
	assert.NotEqual(t, pid, pgMustPID(t, as, p.db), "a new session with the new token")
	assert.EqualValues(t, 2, srv.Logins(t, role))
}
