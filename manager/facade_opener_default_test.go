package manager

import (
	"context"
	"database/sql/driver"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/tokens"
)

// TestFacadeOpenerNeverFailsAQueuedCallWithTheDefaultIdentitysError: with
// SetMaxOpenConns, database/sql's connection opener connects with a ctx of
// its own (no identity), for a call queued for a connection: bob's here.
// Connect acquired for the default identity and, when that failed (its
// credential down), database/sql handed the error to bob's call: bob's
// call failed naming the default identity's pool although bob's is fine.
// Connect now returns an unbound shell then, which bob's call binds.
func TestFacadeOpenerNeverFailsAQueuedCallWithTheDefaultIdentitysError(t *testing.T) {
	errNoToken := errors.New("the default identity's credential is down")
	svc := tokens.New(tokens.KindProvidedToken, "test:svc", tokens.SourceFunc(func(context.Context) (tokens.Token, error) {
		return tokens.Token{}, errNoToken
	}))
	m, mem := newManager(t, Config{MaxSize: 1})
	db := openFacade(t, m, WithDefaultIdentity(svc))
	db.SetMaxOpenConns(1)
	alices, err := db.Conn(as("alice"))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(as("bob"), 10*time.Second)
	defer cancel()
	type answer struct {
		who string
		err error
	}
	got := make(chan answer, 1)
	go func() {
		var a answer
		a.err = db.QueryRowContext(ctx, "SELECT IDENTITY").Scan(&a.who)
		got <- a
	}()
	eventually(t, func() bool { return db.Stats().WaitCount == 1 }, "bob waits")
	mem.FailQueries(1, driver.ErrBadConn)
	_, err = alices.ExecContext(as("alice"), "SELECT 1")
	require.ErrorIs(t, err, driver.ErrBadConn)
	_ = alices.Close() // closed as bad (database/sql closed it already): the opener makes bob's
	a := <-got
	require.NoError(t, a.err)
	assert.Equal(t, "test:bob", a.who)

	// A call with no identity still fails with the default identity's
	// error, at the call rather than at Connect.
	_, err = db.ExecContext(context.Background(), "SELECT 1")
	require.ErrorIs(t, err, errNoToken)
}
