package tokens

import (
	"context"
	"sync/atomic"
)

// mintAssertions are the assertions a caller's function returned during
// one mint of a credentialSource (ClientAssertionIdentity's,
// NewOnBehalfOfAssertion's), so that the mint's error is redacted of them:
// an endpoint may echo the client assertion it was sent as it echoes a
// client secret. It hangs off the mint's ctx and lives as long as the mint:
// no assertion is kept after it. A lock-free list, because although MSAL
// calls the function on the mint's own goroutine, nothing promises that.
type mintAssertions struct{ head atomic.Pointer[assertionNode] }

type assertionNode struct {
	value string
	next  *assertionNode
}

// mintAssertionsKey is the ctx key of a mint's *mintAssertions.
type mintAssertionsKey struct{}

func (m *mintAssertions) add(v string) {
	n := &assertionNode{value: v}
	for {
		n.next = m.head.Load()
		if m.head.CompareAndSwap(n.next, n) {
			return
		}
	}
}

// all yields the assertions recorded so far: a knownSecrets.
func (m *mintAssertions) all(yield func(string) bool) {
	for n := m.head.Load(); n != nil; n = n.next {
		if !yield(n.value) {
			return
		}
	}
}

// recordingAssertions wraps a caller's assertion function so that what it
// returns (with an error too: a careless function names the assertion it
// could not use) is recorded on the mint that asked for it.
func recordingAssertions(get func(context.Context) (string, error)) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		a, err := get(ctx)
		if m, ok := ctx.Value(mintAssertionsKey{}).(*mintAssertions); ok && a != "" {
			m.add(a)
		}
		return a, err
	}
}

// bothSecrets yields a's secrets, then b's; either may be nil.
func bothSecrets(a, b knownSecrets) knownSecrets {
	return func(yield func(string) bool) {
		more := true
		if a != nil {
			a(func(s string) bool { more = yield(s); return more })
		}
		if more && b != nil {
			b(yield)
		}
	}
}
