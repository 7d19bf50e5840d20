package manager

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/idpool/idpool/tokens"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPerRequestIdentityFailureReachesTheCaller: an application builds the
// user's identity per request (tokens.VouchedTokenIdentity, an on-behalf-of
// Identity per request), so every acquire brings a new credential, and
// Entra answers every mint with an MFA challenge the application must relay.
// A mint that failed while a newer credential arrived is retried with the
// newer one, but a waiter is carried through one such retry only: the first
// request gets the challenge after the second failed mint, though requests
// keep arriving, rather than wait out its timeout while the pool asks Entra
// again and again.
func TestPerRequestIdentityFailureReachesTheCaller(t *testing.T) {
	m, _ := newManager(t, Config{MaxSize: 4, DialBackoff: -1})
	user := tokens.Principal{TenantID: "t1", ObjectID: "o1"}
	called, release := make(chan struct{}, 10), make(chan struct{})
	defer close(release)
	src := tokens.SourceFunc(func(ctx context.Context) (tokens.Token, error) {
		called <- struct{}{}
		select {
		case <-release:
		case <-ctx.Done():
		}
		return tokens.Token{}, errors.New("AADSTS50076: MFA required")
	})
	perRequest := func() tokens.Identity {
		id, err := tokens.VouchedTokenIdentity(user, src)
		require.NoError(t, err)
		return id
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	acquire := func() chan error {
		done := make(chan error, 1)
		go func() {
			l, err := m.Acquire(ctx, perRequest())
			if l != nil {
				l.Release(nil)
			}
			done <- err
		}()
		return done
	}
	mustFailWithMFA := func(name string, done chan error) {
		t.Helper()
		err := <-done // bounded by ctx: a wait that outlives it fails below
		require.Error(t, err, name)
		assert.ErrorContains(t, err, "AADSTS50076", "%s: the caller sees the token endpoint's answer", name)
	}

	first := acquire()
	<-called // mint 1, with the first request's credential
	second := acquire()
	eventually(t, func() bool { return m.Stats().Total.Waiters == 2 }, "second request queued")
	release <- struct{}{} // mint 1 fails; a newer credential is known: retried
	<-called              // mint 2, with the second request's credential
	third := acquire()
	eventually(t, func() bool { return m.Stats().Total.Waiters == 3 }, "third request queued")
	release <- struct{}{} // mint 2 fails: the second failed mint for the first two requests
	mustFailWithMFA("first request", first)
	mustFailWithMFA("second request", second)
	<-called              // mint 3, retried once for the third request
	release <- struct{}{} // fails with the newest credential: the third request's failure
	mustFailWithMFA("third request", third)
	st := m.Stats().Total
	assert.EqualValues(t, 2, st.CredentialRetries)
	assert.Zero(t, st.Waiters)
}
