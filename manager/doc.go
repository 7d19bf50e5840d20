// Package manager is idpool's public API: a Manager that hands out leases on
// physical connections, one pool per identity, and a database/sql facade.
//
// A Manager runs one manager actor and one pool actor per pool key (server +
// identity). Acquire sends a message to the manager actor, which forwards it
// to the pool actor of the identity, spawning it on first use; the pool
// answers on a buffered channel carried in the message. All pool state lives
// in the pool actors, so nothing here takes a lock.
//
// A Lease is one checked-out connection. Use it from one goroutine at a time
// and hand it back exactly once with Release (or Close). Release decides from
// the last error whether the connection may be reused: nil and application
// errors keep it; driver.ErrBadConn, network errors and cancelled contexts
// close it.
package manager
