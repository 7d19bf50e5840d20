package e2e

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/internal/pgtest"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/tokens"
)

// TestPGTokenFailuresFailTheCallerWithoutTheToken: a token endpoint that is
// down, or that hands out a token the server refuses, fails the caller with a
// *manager.DialError that says which (mint or login) and never quotes a
// token; neither costs the pool a slot, and once the endpoint is right the
// identity logs in.
func TestPGTokenFailuresFailTheCallerWithoutTheToken(t *testing.T) {
	srv := pgtest.Shared(t)
	ctx := pgCtx(t)
	role, password := srv.NewRole(t, "tokfail")
	wrong := pgRandomToken("wrong")
	const (
		endpointDown = iota
		wrongToken
		rightToken
	)
	var mode atomic.Int32
	id := pgIdentity(role, tokens.SourceFunc(func(context.Context) (tokens.Token, error) {
		switch mode.Load() {
		case endpointDown:
			return tokens.Token{}, errors.New("token endpoint unavailable")
		case wrongToken:
			return tokens.Token{Value: wrong, ExpiresOn: time.Now().Add(time.Hour)}, nil
		}
		return tokens.Token{Value: password, ExpiresOn: time.Now().Add(time.Hour)}, nil
	}))
	// No blocking period: each call here must reach the endpoint or server.
	p := pgTokenPool(t, srv, manager.Config{MaxSize: 1, DialBackoff: -1}, role)
	asID := tokens.WithIdentity(ctx, id)
	noSecrets := func(err error) {
		t.Helper()
		assert.NotContains(t, err.Error(), wrong)
		assert.NotContains(t, err.Error(), password)
	}

	// The endpoint is down: the mint fails, twice (no slot is lost to the
	// first failure, or the second call would time out instead).
	for range 2 {
		_, err := pgPID(asID, p.db)
		var de *manager.DialError
		require.ErrorAs(t, err, &de)
		assert.True(t, de.Mint, "a failed mint says so")
		assert.ErrorContains(t, err, "token endpoint unavailable")
		noSecrets(err)
	}
	st := p.stats()
	assert.EqualValues(t, 2, st.MintFailures)
	assert.Zero(t, st.Open+st.Dialing)

	// The endpoint hands out a token the server does not take.
	mode.Store(wrongToken)
	for range 2 {
		_, err := pgPID(asID, p.db)
		var de *manager.DialError
		require.ErrorAs(t, err, &de)
		assert.False(t, de.Mint, "the login failed, not the mint")
		var pgErr *pgconn.PgError
		require.ErrorAs(t, err, &pgErr)
		assert.Equal(t, "28P01", pgErr.Code, "invalid_password")
		noSecrets(err)
		assert.False(t, strings.Contains(pgErr.Message, wrong))
	}
	st = p.stats()
	assert.EqualValues(t, 2, st.DialFailures)
	assert.Zero(t, st.Open+st.Dialing)

	mode.Store(rightToken)
	var who string
	require.NoError(t, p.db.QueryRowContext(asID, "SELECT current_user").Scan(&who))
	assert.Equal(t, role, who)
	st = p.stats()
	assert.EqualValues(t, 1, st.Opens)
	assert.Equal(t, 1, srv.Logins(t, role), "failed logins are not logins")
}
