package manager

import (
	"database/sql/driver"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/idpool/idpool/sim/memdb"
	"github.com/idpool/idpool/tokens"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A failed mint fails only the waiters that brought the credential that
// failed; a waiter queued with another credential, not tried, is served (or
// failed) with its own: the pool adopts it and mints again, once.

// rotationQueue holds the pool's one connection, opened with held's
// credential, queues an acquire with each of queued in turn, and releases the
// connection broken, so that the next dial mints with the last one's
// credential, the newest. It returns the callers' results, in order.
func rotationQueue(t *testing.T, m *Manager, held tokens.Identity, queued ...tokens.Identity) []<-chan error {
	t.Helper()
	l := acquire(t, m, held)
	var results []<-chan error
	for i, id := range queued {
		done := make(chan error, 1)
		go func() {
			l, err := m.Acquire(t.Context(), id)
			if l != nil {
				query(t, l, "SELECT 1").Close()
				l.Release(nil)
			}
			done <- err
		}()
		eventually(t, func() bool { return m.Stats().Total.Waiters == i+1 }, "acquire %d queued", i+1)
		results = append(results, done)
	}
	l.Release(driver.ErrBadConn)
	return results
}

// lastDialToken is the fingerprint of the token of the last dial.
func lastDialToken(t *testing.T, db *memdb.DB) string {
	t.Helper()
	dials := db.DialAttempts()
	require.NotEmpty(t, dials)
	return dials[len(dials)-1].TokenFingerprint
}

// TestAStaleCallerQueuedLastFailsAloneWithItsCredential: a rotation. A caller
// with the new, working secret queues; then a late caller with the old,
// revoked one, whose credential the pool now mints with. The mint fails:
// only the late caller sees the revoked secret's error; the first is served
// with the credential it brought.
func TestAStaleCallerQueuedLastFailsAloneWithItsCredential(t *testing.T) {
	m, db := newManager(t, Config{MaxSize: 1, DialBackoff: -1})
	var aMints, bMints atomic.Int32
	revoked := errors.New("AADSTS7000215: invalid client secret")
	a := tokens.New(tokens.KindServicePrincipal, "sp:t1/app", mintCounting(&aMints, "a-token", 1, revoked))
	b := tokens.New(tokens.KindServicePrincipal, "sp:t1/app", mintCounting(&bMints, "b-token", -1, nil))

	r := rotationQueue(t, m, a, b, a)
	bErr, aErr := r[0], r[1]
	err := <-aErr
	require.Error(t, err)
	assert.ErrorIs(t, err, revoked, "the stale caller fails with its own credential's error")
	assert.NoError(t, <-bErr, "the caller with the working secret is failed with the revoked one's error")
	assert.EqualValues(t, 2, aMints.Load(), "the revoked secret is asked once, for the pool's mint")
	assert.EqualValues(t, 1, bMints.Load(), "the working secret is asked once, for its own caller")
	assert.Equal(t, (tokens.Token{Value: "b-token"}).Fingerprint(), lastDialToken(t, db))
	st := m.Stats().Total
	assert.EqualValues(t, 1, st.MintFailures)
	assert.EqualValues(t, 1, st.CredentialRetries)
}

// TestANewCredentialThatFailsFailsOnlyItsCaller: the reverse. The new
// secret is not yet propagated; a caller with the old, still working, one
// queued first. The new secret's caller fails with its own error, and the
// old one's caller is served with the old one, the credential it brought.
func TestANewCredentialThatFailsFailsOnlyItsCaller(t *testing.T) {
	m, db := newManager(t, Config{MaxSize: 1, DialBackoff: -1})
	var aMints, bMints atomic.Int32
	unpropagated := errors.New("AADSTS7000215: invalid client secret (not yet propagated)")
	a := tokens.New(tokens.KindServicePrincipal, "sp:t1/app", mintCounting(&aMints, "a-token", -1, nil))
	b := tokens.New(tokens.KindServicePrincipal, "sp:t1/app", mintCounting(&bMints, "", 0, unpropagated))

	r := rotationQueue(t, m, a, a, b)
	aErr, bErr := r[0], r[1]
	err := <-bErr
	require.Error(t, err)
	assert.ErrorIs(t, err, unpropagated, "the new secret's caller fails with its own credential's error")
	assert.NoError(t, <-aErr, "the old secret's caller is failed with the new one's error")
	assert.EqualValues(t, 2, aMints.Load(), "the old secret is asked again, for the caller who brought it")
	assert.EqualValues(t, 1, bMints.Load())
	assert.Equal(t, (tokens.Token{Value: "a-token"}).Fingerprint(), lastDialToken(t, db))
}

// TestWhenBothCredentialsFailEachCallerSeesItsOwn: hostile, both secrets
// refused. Each caller fails with its own credential's error, each
// credential is asked once, and the pool does not go on retrying.
func TestWhenBothCredentialsFailEachCallerSeesItsOwn(t *testing.T) {
	m, _ := newManager(t, Config{MaxSize: 1, DialBackoff: -1})
	var aMints, bMints atomic.Int32
	errA := errors.New("AADSTS7000215: invalid client secret (a)")
	errB := errors.New("AADSTS7000222: client secret expired (b)")
	a := tokens.New(tokens.KindServicePrincipal, "sp:t1/app", mintCounting(&aMints, "a-token", 1, errA))
	b := tokens.New(tokens.KindServicePrincipal, "sp:t1/app", mintCounting(&bMints, "", 0, errB))

	r := rotationQueue(t, m, a, b, a)
	bErr, aErr := r[0], r[1]
	err := <-aErr
	assert.ErrorIs(t, err, errA)
	assert.NotErrorIs(t, err, errB)
	err = <-bErr
	assert.ErrorIs(t, err, errB, "the caller who brought b fails with b's error")
	assert.NotErrorIs(t, err, errA, "the caller who brought b fails with a's error")
	st := m.Stats().Total
	assert.Zero(t, st.Minting, "a mint still in flight: the pool retries with no one waiting")
	assert.EqualValues(t, 2, st.MintFailures, "one failed mint per credential")
	assert.EqualValues(t, 2, aMints.Load())
	assert.EqualValues(t, 1, bMints.Load())
}

// TestACredentialThatComesBackFailsAllItsCallers: the old secret's callers
// queue on both sides of the new one's (a request with the old identity, one
// with the new, a late one with the old), and the old secret is revoked. Both
// old-secret callers fail with its error: the first is not served with the
// new secret's token, as if it had brought it. The new secret's caller is
// served with it, though the failure starts a blocking period (DialBackoff
// left at its default).
func TestACredentialThatComesBackFailsAllItsCallers(t *testing.T) {
	m, db := newManager(t, Config{MaxSize: 1})
	var aMints, bMints atomic.Int32
	revoked := errors.New("AADSTS7000215: invalid client secret")
	a := tokens.New(tokens.KindServicePrincipal, "sp:t1/app", mintCounting(&aMints, "a-token", 1, revoked))
	b := tokens.New(tokens.KindServicePrincipal, "sp:t1/app", mintCounting(&bMints, "b-token", -1, nil))

	r := rotationQueue(t, m, a, a, b, a)
	assert.ErrorIs(t, <-r[0], revoked, "the first old-secret caller")
	assert.ErrorIs(t, <-r[2], revoked, "the late old-secret caller")
	assert.NoError(t, <-r[1], "the new secret's caller")
	assert.EqualValues(t, 2, aMints.Load())
	assert.EqualValues(t, 1, bMints.Load())
	assert.Equal(t, (tokens.Token{Value: "b-token"}).Fingerprint(), lastDialToken(t, db))
}
