package actors

import (
	"errors"
	"testing"
	"time"

	"github.com/idpool/idpool/tokens"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rotationRace leaves a pool of one connection, lost, with two waiters: b,
// queued with a second credential, then c with a third, the newest, whose
// mint is in flight.
func rotationRace(t *testing.T) (h *harness, b, c uint64) {
	cfg := tokenCfg()
	cfg.MaxSize = 1
	h = newHarness(t, cfg)
	held := h.acquire()
	h.finishMint(h.tok("T1", time.Hour), nil)
	h.finishDials()
	h.mustGrant(held)
	h.step(NewCredential{})
	b = h.acquire()
	h.step(NewCredential{})
	c = h.acquire()
	h.release(held, true)
	h.finishCloses()
	require.Equal(t, 1, h.mints, "the lost connection's replacement mints with the newest credential")
	return h, b, c
}

// TestAFailedMintFailsOnlyTheWaitersThatBroughtItsCredential: the newest
// credential's mint fails. Its waiter fails with that error; the older
// waiter, whose credential was not tried, is not failed: the pool adopts
// that waiter's credential (EffAdoptCredential, just before the EffMint:
// the harness checks the order) and serves it with it.
func TestAFailedMintFailsOnlyTheWaitersThatBroughtItsCredential(t *testing.T) {
	h, b, c := rotationRace(t)
	cause := errors.New("AADSTS7000215: invalid client secret")
	h.finishMint(tokens.Token{}, cause)
	e, ok := h.answer(c)
	require.True(t, ok, "the newest credential's waiter fails")
	assert.ErrorIs(t, e.Err, cause)
	_, ok = h.answer(b)
	assert.False(t, ok, "the waiter with another credential is failed with the newest one's error")
	assert.Equal(t, 1, h.adoptions)
	assert.Equal(t, 1, h.mints, "minted again, with b's credential")
	assert.Equal(t, h.p.waiters.get(b).gen, h.p.cred.cur)
	h.finishMint(h.tok("T2", time.Hour), nil)
	h.finishDials()
	h.mustGrant(b)
	assert.EqualValues(t, 1, h.p.Stats().CredentialRetries)
}

// TestARefusedTokenFailsOnlyTheWaitersThatBroughtItsCredential: as for a
// failed mint, when the newest credential's token is refused for its expiry.
func TestARefusedTokenFailsOnlyTheWaitersThatBroughtItsCredential(t *testing.T) {
	h, b, c := rotationRace(t)
	h.finishMint(h.tok("near-expiry", time.Minute), nil)
	e, ok := h.answer(c)
	require.True(t, ok)
	assert.Equal(t, EffFail, e.Kind)
	_, ok = h.answer(b)
	assert.False(t, ok)
	assert.Equal(t, 1, h.adoptions)
	h.finishMint(h.tok("T2", time.Hour), nil)
	h.finishDials()
	h.mustGrant(b)
}

// TestAnAdoptedCredentialThatFailsFailsItsWaiterOnce: the adopted
// credential fails too. Its waiter fails with its own credential's error,
// having seen two failed mints, and the pool mints no more.
func TestAnAdoptedCredentialThatFailsFailsItsWaiterOnce(t *testing.T) {
	h, b, c := rotationRace(t)
	h.finishMint(tokens.Token{}, errors.New("newest refused"))
	_, ok := h.answer(c)
	require.True(t, ok)
	own := errors.New("b's own credential refused")
	h.finishMint(tokens.Token{}, own)
	e, ok := h.answer(b)
	require.True(t, ok)
	assert.ErrorIs(t, e.Err, own)
	assert.Zero(t, h.mints, "minted again with no one waiting")
	assert.Equal(t, 1, h.adoptions)
}

// TestThreeFailingCredentialsCostOneAdoption: hostile, three credentials
// waiting and every one refused. The pool adopts one waiter's credential
// once (the one it took up most recently, y's), not each in turn: the
// oldest waiter, carried through that retry, gets y's error, a credential
// taken up after its own (the newest wins); each of the others gets its own.
func TestThreeFailingCredentialsCostOneAdoption(t *testing.T) {
	cfg := tokenCfg()
	cfg.MaxSize = 1
	h := newHarness(t, cfg)
	held := h.acquire()
	h.finishMint(h.tok("T1", time.Hour), nil)
	h.finishDials()
	h.mustGrant(held)
	var ids [3]uint64
	for i := range ids {
		h.step(NewCredential{})
		ids[i] = h.acquire()
	}
	x, y, z := ids[0], ids[1], ids[2]
	h.release(held, true)
	h.finishCloses()

	errZ, errY := errors.New("z refused"), errors.New("y refused")
	h.finishMint(tokens.Token{}, errZ)
	e, ok := h.answer(z)
	require.True(t, ok)
	assert.ErrorIs(t, e.Err, errZ)
	require.Equal(t, 1, h.adoptions)
	assert.Equal(t, h.p.waiters.get(y).gen, h.p.cred.cur, "the credential taken up most recently of those left")

	h.finishMint(tokens.Token{}, errY)
	e, ok = h.answer(x)
	require.True(t, ok, "x, carried once, fails at its second failed mint")
	assert.ErrorIs(t, e.Err, errY)
	for h.mints > 0 {
		h.finishMint(tokens.Token{}, errY)
	}
	e, ok = h.answer(y)
	require.True(t, ok)
	assert.ErrorIs(t, e.Err, errY)
	assert.Equal(t, 1, h.adoptions, "adopted again")
}
