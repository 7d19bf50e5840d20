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

// TestFacadeIdentityCheckKeyLookupIsBoundedByAcquireTimeout: a facade call
// on a connection already bound to a lease compares the identity in its
// ctx with the lease's, and a token-keyed identity must mint to learn its
// key. Acquire bounds that lookup by AcquireTimeout when the ctx has none
// (TestTokenKeyedLookupIsBoundedByAcquireTimeout), but the facade's checks
// looked the key up under the call's ctx alone: a call with bob's
// context.Background() on alice's *sql.Conn, or on a connection bound to
// the default identity (database/sql's connection opener makes those),
// waited for as long as bob's token service did not answer, for ever here,
// holding alice's lease busy meanwhile; and every later acquire of bob's
// waited on that same lookup until its own deadline.
func TestFacadeIdentityCheckKeyLookupIsBoundedByAcquireTimeout(t *testing.T) {
	const timeout = 100 * time.Millisecond
	m, _ := newManager(t, Config{AcquireTimeout: timeout}) // MintTimeout: 30s
	// asBob returns the ctx of a new token-keyed identity, bob, whose
	// token service does not answer until its gate opens.
	var g *gate
	asBob := func() context.Context {
		g = newGate()
		t.Cleanup(g.open)
		g := g
		bob, err := tokens.TokenFuncIdentity(func(ctx context.Context) (tokens.Token, error) {
			select {
			case <-ctx.Done():
				return tokens.Token{}, ctx.Err()
			case <-g.ch:
				return tokens.Token{}, errors.New("token service down")
			}
		})
		require.NoError(t, err)
		return tokens.WithIdentity(context.Background(), bob)
	}

	db := openFacade(t, m)
	conn, err := db.Conn(as("alice"))
	require.NoError(t, err)
	defer conn.Close()
	def, err := NewConnector(m, WithDefaultIdentity(identity("alice"))).Connect(context.Background())
	require.NoError(t, err)
	defer def.Close()

	for _, c := range []struct {
		name string
		call func() error
	}{
		{"alice's *sql.Conn", func() error { _, err := conn.ExecContext(asBob(), "SELECT 1"); return err }},
		{"a connection bound to the default identity", func() error {
			_, err := def.(driver.ExecerContext).ExecContext(asBob(), "SELECT 1", nil)
			return err
		}},
	} {
		done := make(chan error, 1)
		start := time.Now()
		go func() { done <- c.call() }()
		select {
		case err := <-done:
			took := time.Since(start)
			t.Logf("%s: returned after %v (AcquireTimeout %v): %v", c.name, took, timeout, err)
			assert.ErrorIs(t, err, ErrAcquireTimeout, c.name)
			assert.Less(t, took, timeout+closeSlack, c.name)
		case <-time.After(timeout + closeSlack):
			t.Errorf("%s: a call with no deadline ran past AcquireTimeout (%v + %v) in its key lookup", c.name, timeout, closeSlack)
			g.open()
			<-done
		}
	}
}
