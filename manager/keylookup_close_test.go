package manager

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/tokens"
)

// TestCloseEndsAKeyLookupInFlight: the first acquire of a token-keyed
// identity mints to learn its key, before any pool. Close cancels token
// mints in flight through their ctx, and fails the acquires still waiting
// with ErrClosed; the lookup's mint ran under the caller's ctx only, so
// Close neither cancelled it (a source that honours its ctx, azidentity's,
// went on with its request) nor ended the Acquire, which waited past Close
// for as long as its ctx, AcquireTimeout and MintTimeout allowed (30s by
// default, here for ever). Both now end as Close begins; a source that
// ignores its ctx is left to finish alone.
func TestCloseEndsAKeyLookupInFlight(t *testing.T) {
	for _, honours := range []bool{true, false} {
		name := "a source that ignores its ctx"
		if honours {
			name = "a source that honours its ctx"
		}
		t.Run(name, func(t *testing.T) {
			g := newGate()
			defer g.open()
			m, _ := newManagerNoCleanup(t, Config{AcquireTimeout: -1, MintTimeout: time.Hour})
			sourceEnded := make(chan error, 1)
			id, err := tokens.TokenFuncIdentity(func(ctx context.Context) (tokens.Token, error) {
				if honours {
					g.entered <- struct{}{}
					<-ctx.Done()
					sourceEnded <- ctx.Err()
					return tokens.Token{}, ctx.Err()
				}
				g.wait()
				return tokens.Token{}, context.Canceled
			})
			require.NoError(t, err)
			acquired := make(chan error, 1)
			go func() {
				l, err := m.Acquire(context.Background(), id)
				if l != nil {
					l.Release(nil)
				}
				acquired <- err
			}()
			<-g.entered // the lookup's mint is running
			closed := make(chan error, 1)
			go func() { closed <- m.Close(context.Background()) }()
			select {
			case err := <-acquired:
				assert.ErrorIs(t, err, ErrClosed)
			case <-time.After(closeSlack):
				g.open()
				if honours {
					t.Fatal("the Acquire waited past Close for a key lookup Close did not cancel (ended by the test)")
				}
				t.Fatal("the Acquire waited past Close for a key lookup ignoring its ctx")
			}
			if honours {
				select {
				case err := <-sourceEnded:
					assert.ErrorIs(t, err, context.Canceled)
				case <-time.After(closeSlack):
					t.Fatal("Close did not cancel the key lookup's mint")
				}
			}
			select {
			case err := <-closed:
				require.NoError(t, err)
			case <-time.After(CloseStuckGrace + closeSlack):
				t.Fatal("Close did not return")
			}
			g.open()
		})
	}
}
