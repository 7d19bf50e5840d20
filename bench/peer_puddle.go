package bench

import (
	"context"
	"database/sql/driver"

	"github.com/jackc/puddle/v2"
)

// PuddlePeer is github.com/jackc/puddle/v2 (pgxpool's core) over memdb
// connections: a semaphore for FIFO waiting, a mutex, a LIFO idle stack.
var PuddlePeer = PoolFactory{Name: PeerPuddle, New: func(env *Env, size, _ int) (Pool, error) {
	return newPuddlePool(env, size, 1)
}}

// PuddlePerIdentityPeer keeps one puddle pool per identity.
var PuddlePerIdentityPeer = PoolFactory{Name: PeerPuddlePerIdentity, New: newPuddlePool}

type puddlePool struct{ pools []*puddle.Pool[driver.Conn] }

func newPuddlePool(env *Env, size, identities int) (Pool, error) {
	p := &puddlePool{pools: make([]*puddle.Pool[driver.Conn], identities)}
	for i := range p.pools {
		conn := env.DB.Connector(env.Label(i))
		pool, err := puddle.NewPool(&puddle.Config[driver.Conn]{
			Constructor: conn.Connect,
			Destructor:  func(c driver.Conn) { _ = c.Close() },
			MaxSize:     int32(size),
		})
		if err != nil {
			_ = p.Close()
			return nil, err
		}
		p.pools[i] = pool
	}
	return p, nil
}

func (p *puddlePool) Acquire(ctx context.Context, identity int) (Conn, error) {
	r, err := p.pools[identity].Acquire(ctx)
	if err != nil {
		return nil, err
	}
	return r, nil
}

func (p *puddlePool) Release(c Conn) { c.(*puddle.Resource[driver.Conn]).Release() }

func (p *puddlePool) Close() error {
	for _, pool := range p.pools {
		if pool != nil {
			pool.Close()
		}
	}
	return nil
}
