package fleet

import (
	"context"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// revoke revokes lease at Close, bounded by TTL/3 and by ctx. ctx is the
// caller's own code: should its Deadline, Done or Value panic (in
// context.WithTimeout, or in the etcd client reading it), the budget has
// already stopped, and a revocation cut short there left the permits to the
// lease's expiry. So the panic is held while the lease is revoked again
// under a ctx of the budget's own (TTL/3, nothing of the caller's), and then
// goes on to the caller, as a panicking ctx does in manager's calls: it may
// reach its caller, but leaves nothing behind.
func (b *Budget) revoke(ctx context.Context, lease clientv3.LeaseID) error {
	p, panicked, err := b.revokeUnder(ctx, lease)
	if !panicked {
		return err
	}
	own, cancel := context.WithTimeout(context.Background(), b.cfg.TTL/3)
	defer cancel()
	// The panic, not this error, goes to the caller: a lease the first
	// attempt revoked before its ctx panicked answers "not found", and one
	// this cannot revoke still expires within the TTL.
	_, _ = b.cli.Revoke(own, lease)
	panic(p)
}

// revokeUnder revokes lease under ctx (bounded by TTL/3), reporting a panic
// of ctx's (p, panicked) instead of letting it unwind Close.
func (b *Budget) revokeUnder(ctx context.Context, lease clientv3.LeaseID) (p any, panicked bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			p, panicked = r, true
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, b.cfg.TTL/3)
	defer cancel()
	if _, err := b.cli.Revoke(ctx, lease); err != nil {
		return nil, false, fmt.Errorf("fleet: revoking the lease at close (its permits come back within the TTL): %w", err)
	}
	return nil, false, nil
}
