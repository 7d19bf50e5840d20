package bench

import (
	"context"
	"database/sql"
	"errors"
)

// DatabaseSQLPeer is database/sql's own pool: sql.OpenDB over a memdb
// connector with MaxOpenConns = MaxIdleConns = size; acquire is db.Conn,
// release is Conn.Close.
var DatabaseSQLPeer = PoolFactory{Name: PeerDatabaseSQL, New: func(env *Env, size, _ int) (Pool, error) {
	return newSQLPool(env, size, 1), nil
}}

// SQLDBPerIdentityPeer is one *sql.DB per identity, the usual alternative to
// idpool for many identities.
var SQLDBPerIdentityPeer = PoolFactory{Name: PeerSQLDBPerIdentity, New: func(env *Env, size, identities int) (Pool, error) {
	return newSQLPool(env, size, identities), nil
}}

type sqlPool struct{ dbs []*sql.DB }

func newSQLPool(env *Env, size, identities int) *sqlPool {
	p := &sqlPool{dbs: make([]*sql.DB, identities)}
	for i := range p.dbs {
		db := sql.OpenDB(env.DB.Connector(env.Label(i)))
		db.SetMaxOpenConns(size)
		db.SetMaxIdleConns(size)
		p.dbs[i] = db
	}
	return p
}

func (p *sqlPool) Acquire(ctx context.Context, identity int) (Conn, error) {
	c, err := p.dbs[identity].Conn(ctx)
	if err != nil {
		return nil, err
	}
	return c, nil
}

func (p *sqlPool) Release(c Conn) { _ = c.(*sql.Conn).Close() }

func (p *sqlPool) Close() error {
	var errs []error
	for _, db := range p.dbs {
		errs = append(errs, db.Close())
	}
	return errors.Join(errs...)
}
