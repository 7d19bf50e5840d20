package bench

import "sync/atomic"

// lazySlots holds one pool per identity, created on the identity's first
// acquire, as a service that meets identities as they come would (a map of
// identity to *sql.DB filled on demand). Reaching a created pool costs one
// atomic load.
type lazySlots[T any] struct {
	slots   []atomic.Pointer[T]
	create  func(i int) (*T, error)
	discard func(*T) // closes a pool that lost a creation race
}

func newLazySlots[T any](n int, create func(int) (*T, error), discard func(*T)) *lazySlots[T] {
	return &lazySlots[T]{slots: make([]atomic.Pointer[T], n), create: create, discard: discard}
}

// get returns identity i's pool, creating it if needed.
func (l *lazySlots[T]) get(i int) (*T, error) {
	if p := l.slots[i].Load(); p != nil {
		return p, nil
	}
	p, err := l.create(i)
	if err != nil {
		return nil, err
	}
	if !l.slots[i].CompareAndSwap(nil, p) {
		l.discard(p)
		return l.slots[i].Load(), nil
	}
	return p, nil
}

// each calls f for every created pool.
func (l *lazySlots[T]) each(f func(*T)) {
	for i := range l.slots {
		if p := l.slots[i].Load(); p != nil {
			f(p)
		}
	}
}
