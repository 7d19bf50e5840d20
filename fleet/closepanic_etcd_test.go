package fleet_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/idpool/idpool/fleet"
	"github.com/idpool/idpool/internal/etcdtest"
)

// panicCtx is a hostile caller's ctx whose method named by in panics.
type panicCtx struct {
	context.Context
	in string
}

func (c panicCtx) Deadline() (time.Time, bool) {
	if c.in == "Deadline" {
		panic("hostile ctx: Deadline")
	}
	return c.Context.Deadline()
}

func (c panicCtx) Done() <-chan struct{} {
	if c.in == "Done" {
		panic("hostile ctx: Done")
	}
	return c.Context.Done()
}

func (c panicCtx) Err() error {
	if c.in == "Err" {
		panic("hostile ctx: Err")
	}
	return c.Context.Err()
}

func (c panicCtx) Value(k any) any {
	if c.in == "Value" {
		panic("hostile ctx: Value")
	}
	return c.Context.Value(k)
}

// TestCloseWithAPanickingCtxStillRevokesTheLease: Close given a ctx whose
// Deadline, Done or Value panics stopped the budget and then panicked in
// context.WithTimeout before the revocation, so the permits its lease held
// came back to the fleet only when the lease expired (a minute here). The
// lease is now revoked under a ctx of the budget's own before the panic
// goes on to the caller (as a panicking ctx does in manager's calls): right
// after Close the lease is gone, its permits are off etcd, and another
// budget gets them.
func TestCloseWithAPanickingCtxStillRevokesTheLease(t *testing.T) {
	cli := etcdtest.StartClient(t, 1)
	for _, in := range []string{"Deadline", "Done", "Value", "Err"} {
		t.Run(in, func(t *testing.T) {
			prefix := "/t/closepanic/" + in + "/"
			cfg := fleet.Config{Prefix: prefix, Cap: 2, Batch: 1, IdleReturn: time.Hour, TTL: time.Minute}
			a := newBudget(t, cli, cfg)
			other := newBudget(t, cli, cfg)
			takeN(t, a, 2)
			a.Release() // none in use, both kept as spares under a's lease:
			a.Release() // Close revokes it
			lease := a.Stats().Lease
			require.NotZero(t, lease)
			require.Positive(t, fleetSum(t, cli, prefix), "a holds permits under its lease")

			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var err error
			p := func() (p any) {
				defer func() { p = recover() }()
				err = a.Close(panicCtx{ctx, in})
				return nil
			}()
			if in != "Err" { // context.WithTimeout never calls Err
				assert.Equal(t, "hostile ctx: "+in, p, "the ctx's panic goes on to the caller")
			} else {
				assert.Nil(t, p)
				assert.NoError(t, err)
			}

			ttl, err := cli.TimeToLive(ctx, clientv3.LeaseID(lease))
			require.NoError(t, err)
			assert.EqualValues(t, -1, ttl.TTL, "the lease was revoked at Close, not left to expire")
			assert.Zero(t, fleetSum(t, cli, prefix), "the permits were off etcd right after Close")
			takeN(t, other, 2) // well within the minute's TTL
		})
	}
}
