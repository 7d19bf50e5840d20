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
	p := newSQLPool(env, size, 1)
	_, err := p.dbs.get(0)
	return p, err
}}

// SQLDBPerIdentityPeer is one *sql.DB per identity, the usual alternative to
// idpool for many identities, each opened on its identity's first acquire.
var SQLDBPerIdentityPeer = PoolFactory{Name: PeerSQLDBPerIdentity, New: func(env *Env, size, identities int) (Pool, error) {
	return newSQLPool(env, size, identities), nil
}}

type sqlPool struct{ dbs *lazySlots[sql.DB] }

func newSQLPool(env *Env, size, identities int) *sqlPool {
	return &sqlPool{dbs: newLazySlots(identities, func(i int) (*sql.DB, error) {
		db := sql.OpenDB(env.DB.Connector(env.Label(i)))
		db.SetMaxOpenConns(size)
		db.SetMaxIdleConns(size)
		return db, nil
	}, func(db *sql.DB) { _ = db.Close() })}
}

func (p *sqlPool) Acquire(ctx context.Context, identity int) (Conn, error) {
	db, err := p.dbs.get(identity)
	if err != nil {
		return nil, err
	}
	c, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	return c, nil
}

func (p *sqlPool) Release(c Conn) { _ = c.(*sql.Conn).Close() }

func (p *sqlPool) Close() error {
	var errs []error
	p.dbs.each(func(db *sql.DB) { errs = append(errs, db.Close()) })
	return errors.Join(errs...)
}
