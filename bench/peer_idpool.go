package bench

import (
	"context"
	"time"

	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/tokens"
)

// IdpoolPeer is idpool with its default Config (but MaxSize): one manager,
// Acquire and Lease.Release(nil). With one identity it acquires as
// tokens.SQLLogin(), so no token is involved; with several it uses the Env's
// managed identities, one pool each.
var IdpoolPeer = PoolFactory{Name: PeerIdpool, New: func(env *Env, size, identities int) (Pool, error) {
	return NewIdpoolPool(env, manager.Config{MaxSize: size}, identities)
}}

// memdbServer is the server name idpool's pools over memdb are keyed by.
const memdbServer = "memdb:0/bench"

// IdpoolPool is the idpool peer. It is exported so that the testing.B
// benchmarks and profiles can drive idpool with a Config of their own.
type IdpoolPool struct {
	M   *manager.Manager
	ids []tokens.Identity
}

// NewIdpoolPool starts a manager with cfg over env's memdb server (Server is
// filled in, and Dialer unless cfg has one).
func NewIdpoolPool(env *Env, cfg manager.Config, identities int) (*IdpoolPool, error) {
	cfg.Server = memdbServer
	if cfg.Dialer == nil {
		cfg.Dialer = env.DB
	}
	m, err := manager.New(cfg)
	if err != nil {
		return nil, err
	}
	p := &IdpoolPool{M: m, ids: make([]tokens.Identity, identities)}
	if identities == 1 {
		p.ids[0] = tokens.SQLLogin()
	} else {
		for i := range p.ids {
			p.ids[i] = env.Identity(i)
		}
	}
	return p, nil
}

// Acquire leases a connection of identity.
func (p *IdpoolPool) Acquire(ctx context.Context, identity int) (Conn, error) {
	l, err := p.M.Acquire(ctx, p.ids[identity])
	if err != nil {
		return nil, err
	}
	return l, nil
}

// Release releases the lease as clean.
func (p *IdpoolPool) Release(c Conn) { c.(*manager.Lease).Release(nil) }

// Close closes the manager, waiting up to ten seconds for its connections.
func (p *IdpoolPool) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return p.M.Close(ctx)
}
