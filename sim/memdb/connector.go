package memdb

import (
	"context"
	"database/sql/driver"
)

// Connector returns a driver.Connector whose conns are labelled with
// identity and carry no token, for database/sql (sql.OpenDB) and other pools
// used as baselines. Dial faults apply to it as to Dial.
func (db *DB) Connector(identity string) driver.Connector {
	return &connector{db: db, identity: identity}
}

type connector struct {
	db       *DB
	identity string
}

// Connect opens a conn labelled with the connector's identity.
func (c *connector) Connect(ctx context.Context) (driver.Conn, error) {
	return asDriverConn(c.db.open(ctx, DialAttempt{Identity: c.identity}))
}

// Driver returns a driver of the same DB whose Open(name) labels the conn
// with name.
func (c *connector) Driver() driver.Driver { return (*Driver)(c.db) }

// Driver is a DB seen as a database/sql driver: the data source name is the
// identity label. It can be registered with sql.Register.
type Driver DB

var (
	_ driver.Driver        = (*Driver)(nil)
	_ driver.DriverContext = (*Driver)(nil)
)

// Driver returns db as a driver.Driver.
func (db *DB) Driver() *Driver { return (*Driver)(db) }

// Open opens a conn labelled with name.
func (d *Driver) Open(name string) (driver.Conn, error) {
	return asDriverConn((*DB)(d).open(context.Background(), DialAttempt{Identity: name}))
}

// OpenConnector returns the DB's Connector for identity name.
func (d *Driver) OpenConnector(name string) (driver.Connector, error) {
	return (*DB)(d).Connector(name), nil
}
