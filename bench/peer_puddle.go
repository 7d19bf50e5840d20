package bench

import (
	"context"
	"database/sql/driver"

	"github.com/jackc/puddle/v2"
)

// PuddlePeer is github.com/jackc/puddle/v2 (pgxpool's core) over memdb
// connections: a semaphore for FIFO waiting, a mutex, a LIFO idle stack.
var PuddlePeer = PoolFactory{Name: PeerPuddle, New: func(env *Env, size, _ int) (Pool, error) {
	p := newPuddlePool(env, size, 1)
	_, err := p.pools.get(0)
	return p, err
}}

// PuddlePerIdentityPeer keeps one puddle pool per identity, each made on its
// identity's first acquire.
var PuddlePerIdentityPeer = PoolFactory{Name: PeerPuddlePerIdentity, New: func(env *Env, size, identities int) (Pool, error) {
	return newPuddlePool(env, size, identities), nil
}}

type puddlePool struct {
	pools *lazySlots[puddle.Pool[driver.Conn]]
}

func newPuddlePool(env *Env, size, identities int) *puddlePool {
	return &puddlePool{pools: newLazySlots(identities, func(i int) (*puddle.Pool[driver.Conn], error) {
		conn := env.DB.Connector(env.Label(i))
		return puddle.NewPool(&puddle.Config[driver.Conn]{
			Constructor: conn.Connect,
			Destructor:  func(c driver.Conn) { _ = c.Close() },
			MaxSize:     int32(size),
		})
	}, func(p *puddle.Pool[driver.Conn]) { p.Close() })}
}

func (p *puddlePool) Acquire(ctx context.Context, identity int) (Conn, error) {
	pool, err := p.pools.get(identity)
	if err != nil {
		return nil, err
	}
	r, err := pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	return r, nil
}

func (p *puddlePool) Release(c Conn) { c.(*puddle.Resource[driver.Conn]).Release() }

func (p *puddlePool) Close() error {
	p.pools.each(func(pool *puddle.Pool[driver.Conn]) { pool.Close() })
	return nil
}
