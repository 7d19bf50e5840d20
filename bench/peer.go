package bench

import (
	"context"
	"fmt"
)

// Peer names, as they appear in results and ratios.
const (
	PeerChan        = "chan"         // buffered channel: the floor
	PeerPuddle      = "puddle"       // github.com/jackc/puddle/v2
	PeerDatabaseSQL = "database_sql" // *sql.DB with a memdb connector
	PeerIdpool      = "idpool"       // manager.Acquire / Lease.Release

	// PeerSQLDBPerIdentity is the usual way to serve many identities without
	// idpool: one *sql.DB per identity.
	PeerSQLDBPerIdentity = "sql_db_per_identity"
	// PeerPuddlePerIdentity is one puddle pool per identity.
	PeerPuddlePerIdentity = "puddle_per_identity"
)

// Conn is a checked-out connection as a peer hands it out: always a pointer,
// so passing it through an interface allocates nothing.
type Conn = any

// Pool is one peer behind the interface the scenarios drive. Identity picks
// the identity's pool for peers that keep one per identity; single-identity
// peers ignore it.
type Pool interface {
	// Acquire checks out a connection of identity.
	Acquire(ctx context.Context, identity int) (Conn, error)
	// Release hands back a connection Acquire returned.
	Release(c Conn)
	// Close closes the pool and its connections.
	Close() error
}

// PoolFactory builds one peer for a measurement. identities is 1 for the
// single-identity scenarios.
type PoolFactory struct {
	Name string
	New  func(env *Env, size, identities int) (Pool, error)
}

// warm checks out n connections of identity at once and hands them back, so
// that the measurement starts with n idle connections.
func warm(ctx context.Context, p Pool, identity, n int) error {
	held := make([]Conn, 0, n)
	defer func() {
		for _, c := range held {
			p.Release(c)
		}
	}()
	for range n {
		c, err := p.Acquire(ctx, identity)
		if err != nil {
			return fmt.Errorf("warming up: %w", err)
		}
		held = append(held, c)
	}
	return nil
}
