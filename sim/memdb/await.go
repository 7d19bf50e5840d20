package memdb

import (
	"context"
	"sync"
	"sync/atomic"
)

// Await blocks until cond reports true or ctx ends (returning ctx.Err()).
// cond is checked now and again after every change the DB records (dials,
// opens, closes, kills, misuse, and the end of every call on a conn), so
// tests can wait for asynchronous pool work, such as closes done off the
// actor's mailbox, without sleeping. cond may call the DB's record methods.
func (db *DB) Await(ctx context.Context, cond func() bool) error {
	db.changes.waiting.Add(1)
	defer db.changes.waiting.Add(-1)
	for {
		// Take the channel before checking, so a change between the check
		// and the select still wakes us.
		ch := db.changes.next()
		if cond() {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// changeFeed wakes Await callers. It costs the hot path one atomic load while
// nobody awaits.
type changeFeed struct {
	waiting atomic.Int32
	mu      sync.Mutex
	ch      chan struct{}
}

func (f *changeFeed) notify() {
	if f.waiting.Load() == 0 {
		return
	}
	f.mu.Lock()
	if f.ch != nil {
		close(f.ch)
		f.ch = nil
	}
	f.mu.Unlock()
}

func (f *changeFeed) next() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ch == nil {
		f.ch = make(chan struct{})
	}
	return f.ch
}
