package manager

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idpool/idpool/tokens"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fallbackInFlight starts a fall-back and holds it: the pool's credential x
// fails, and the second mint of g (the credential that minted last) blocks
// after called until release or its ctx ends. Evict, Close and a new
// credential then meet the fall-back's mint in flight.
func fallbackInFlight(t *testing.T, cfg Config) (*Manager, tokens.Identity, chan struct{}, chan struct{}, *atomic.Int32, *atomic.Int32) {
	m, x, called, release, g, xm, _ := fallbackInFlightHeld(t, cfg)
	return m, x, called, release, g, xm
}

func fallbackInFlightHeld(t *testing.T, cfg Config) (*Manager, tokens.Identity, chan struct{}, chan struct{}, *atomic.Int32, *atomic.Int32, *Lease) {
	m, _ := newManager(t, cfg)
	var gMints, xMints atomic.Int32
	called, release := make(chan struct{}), make(chan struct{})
	g := tokens.New(tokens.KindServicePrincipal, "sp:t1/app", tokens.SourceFunc(func(ctx context.Context) (tokens.Token, error) {
		if gMints.Add(1) == 2 {
			close(called)
			select {
			case <-release:
			case <-ctx.Done():
				return tokens.Token{}, ctx.Err()
			}
		}
		return tokens.Token{Value: "g-token", ExpiresOn: time.Now().Add(time.Hour)}, nil
	}))
	x := tokens.New(tokens.KindServicePrincipal, "sp:t1/app", mintCounting(&xMints, "", 0, errors.New("AADSTS7000215: invalid client secret")))
	held := acquire(t, m, g)
	var once atomic.Bool
	t.Cleanup(func() {
		if once.CompareAndSwap(false, true) {
			held.Release(nil)
		}
	})
	return m, x, called, release, &gMints, &xMints, held
}

// TestEvictDuringTheFallBack: an Evict while the fall-back's mint is in
// flight drops that mint's token; the caller is told of its own
// credential's failure, and the Evict completes.
func TestEvictDuringTheFallBack(t *testing.T) {
	m, x, called, release, gMints, xMints, held := fallbackInFlightHeld(t, Config{MaxSize: 4, DialBackoff: -1})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r := make(chan error, 1)
	go func() {
		l, err := m.Acquire(ctx, x)
		if err == nil {
			l.Release(nil)
		}
		r <- err
	}()
	<-called
	defer held.Release(nil)
	ev := make(chan error, 1)
	go func() { ev <- m.Evict(ctx, x) }()
	eventually(t, func() bool { return m.Stats().Total.Evictions == 1 }, "evict reached")
	close(release)
	err := <-r
	require.Error(t, err)
	assert.Contains(t, err.Error(), "AADSTS7000215")
	held.Release(nil)
	require.NoError(t, <-ev)
	assert.EqualValues(t, 2, xMints.Load())
	assert.EqualValues(t, 2, gMints.Load())
}

// TestCloseDuringTheFallBack: Close while the fall-back's mint is in
// flight fails the caller as closed, cancels that mint, asks no credential
// again, and returns once the held lease is back.
func TestCloseDuringTheFallBack(t *testing.T) {
	m, x, called, _, gMints, xMints, held := fallbackInFlightHeld(t, Config{MaxSize: 4, DialBackoff: -1})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r := make(chan error, 1)
	go func() {
		l, err := m.Acquire(ctx, x)
		if err == nil {
			l.Release(nil)
		}
		r <- err
	}()
	<-called
	closed := make(chan error, 1)
	go func() { closed <- m.Close(ctx) }()
	require.ErrorIs(t, <-r, ErrClosed)
	held.Release(nil)
	require.NoError(t, <-closed)
	assert.EqualValues(t, 1, xMints.Load())
	assert.EqualValues(t, 2, gMints.Load())
}

// TestNewCredentialDuringTheFallBack: an acquire bringing a third
// credential while the fall-back's mint is in flight; the fall-back's
// token serves both callers, and the retry is counted once.
func TestNewCredentialDuringTheFallBack(t *testing.T) {
	m, x, called, release, _, xMints := fallbackInFlight(t, Config{MaxSize: 4, DialBackoff: -1})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var zMints atomic.Int32
	z := tokens.New(tokens.KindServicePrincipal, "sp:t1/app", mintCounting(&zMints, "z-token", -1, nil))
	r := make(chan error, 1)
	go func() {
		l, err := m.Acquire(ctx, x)
		if err == nil {
			l.Release(nil)
		}
		r <- err
	}()
	<-called
	r2 := make(chan error, 1)
	go func() {
		l, err := m.Acquire(ctx, z)
		if err == nil {
			l.Release(nil)
		}
		r2 <- err
	}()
	eventually(t, func() bool { return m.Stats().Total.CredentialChanges == 2 }, "z reached")
	close(release)
	assert.NoError(t, <-r)
	assert.NoError(t, <-r2)
	assert.EqualValues(t, 1, m.Stats().Total.CredentialRetries)
	assert.EqualValues(t, 1, xMints.Load())
	assert.Zero(t, zMints.Load(), "the fall-back's token served the third credential's caller too")
}
