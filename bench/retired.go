package bench

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"

	"github.com/idpool/idpool/manager"
)

// retiredIdleTimeout is the PoolIdleTimeout of the retirement row: short,
// so that n pools retire within the measurement.
const retiredIdleTimeout = 20 * time.Millisecond

// retiredWait bounds the wait for every pool of the retirement row to
// retire.
const retiredWait = 2 * time.Minute

// measureRetiredMemory is many_identities' retirement row (idpool only: the
// other peers have no retirement): n identities acquire once and go quiet,
// every pool retires, and the row reports what the heap kept, per identity
// gone. Connections come from a dialer that keeps no record of them (memdb
// records every connection it ever opened), so the figure is the pools'.
func measureRetiredMemory(ctx context.Context, o Options, env *Env, n int) ([]Result, error) {
	params := Params{{"identities", n}, {"measure", "retired"}}
	trial := func(ctx context.Context) (m map[string]float64, err error) {
		p, err := newRetiringPool(env, n)
		if err != nil {
			return nil, err
		}
		defer func() { err = errors.Join(err, p.Close()) }()
		// One pool first: what any first pool allocates once (the guardian,
		// sync.Pools) is not a retired pool's.
		if err := retireAll(ctx, p, 1); err != nil {
			return nil, err
		}
		before := settle()
		if err := retireAll(ctx, p, n); err != nil {
			return nil, err
		}
		after := settle()
		kept := float64(after.heap) - float64(before.heap)
		return map[string]float64{
			MRetiredBytes:  kept / float64(n),
			MGoroutinesPer: float64(after.goroutines-before.goroutines) / float64(n),
		}, nil
	}
	runs, err := interleave(ctx, o.Runs, []trialFunc{trial})
	if err != nil {
		return nil, err
	}
	res := []Result{summarize(ScenarioManyIdentities, PeerIdpool, params, MRetiredBytes, runs[0])}
	o.progress("  %-40s %s", params, brief(res, MRetiredBytes, "heap B kept per retired identity"))
	return res, nil
}

// newRetiringPool is the idpool peer with a short PoolIdleTimeout over a
// dialer of bare connections.
func newRetiringPool(env *Env, n int) (*IdpoolPool, error) {
	bare := manager.DialerFunc(func(context.Context, manager.DialRequest) (driver.Conn, error) { return bareConn{}, nil })
	return NewIdpoolPool(env, manager.Config{MaxSize: manySize, PoolIdleTimeout: retiredIdleTimeout, HealthCheckAfter: -1, Dialer: bare}, n)
}

// retireAll acquires and releases once for each of the first n identities,
// then waits until every pool has retired.
func retireAll(ctx context.Context, p *IdpoolPool, n int) error {
	if err := touchAll(ctx, p, n); err != nil {
		return err
	}
	deadline := time.Now().Add(retiredWait)
	for p.M.Stats().Pools > 0 {
		if time.Now().After(deadline) {
			return fmt.Errorf("%d pools not retired after %s", p.M.Stats().Pools, retiredWait)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		time.Sleep(retiredIdleTimeout)
	}
	return nil
}

// bareConn is the smallest driver.Conn, for measuring the pool alone.
type bareConn struct{}

func (bareConn) Prepare(string) (driver.Stmt, error) { return nil, errors.New("bench: a bare conn") }
func (bareConn) Close() error                        { return nil }
func (bareConn) Begin() (driver.Tx, error)           { return nil, errors.New("bench: a bare conn") }
