package bench

import (
	"context"
	"database/sql/driver"
	"errors"
)

// ChanPeer is a buffered channel of connections opened up front: no waiter
// bookkeeping, no health, no limits beyond the channel's capacity. It is the
// floor every real pool sits above. Go's channel queues blocked receivers in
// arrival order, so it is FIFO under overload too.
var ChanPeer = PoolFactory{Name: PeerChan, New: newChanPool}

type chanPool struct{ ch chan driver.Conn }

func newChanPool(env *Env, size, _ int) (Pool, error) {
	p := &chanPool{ch: make(chan driver.Conn, size)}
	conn := env.DB.Connector(env.Label(0))
	for range size {
		c, err := conn.Connect(context.Background())
		if err != nil {
			_ = p.Close()
			return nil, err
		}
		p.ch <- c
	}
	return p, nil
}

func (p *chanPool) Acquire(ctx context.Context, _ int) (Conn, error) {
	select {
	case c := <-p.ch:
		return c, nil
	default:
	}
	select {
	case c := <-p.ch:
		return c, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (p *chanPool) Release(c Conn) { p.ch <- c.(driver.Conn) }

func (p *chanPool) Close() error {
	var errs []error
	for {
		select {
		case c := <-p.ch:
			errs = append(errs, c.Close())
		default:
			return errors.Join(errs...)
		}
	}
}
