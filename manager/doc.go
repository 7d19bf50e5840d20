// Package manager is idpool's public API: a Manager that hands out leases on
// physical connections, one pool per identity, and a database/sql facade.
//
// A Manager runs one manager actor and one pool actor per pool key (server +
// identity). Acquire looks the identity up in the route table
// (routes.go): when the manager has published a route to the identity's pool,
// the acquire goes straight to that pool actor, counting itself in the
// route's sent first; otherwise, or when the route is closed (its pool is
// retiring or closing), it goes to the manager actor, which spawns the pool
// on first use and forwards it. The pool answers on a buffered channel
// carried in the message, except a grant it makes while handling that very
// acquire (a hit), which it writes into the Lease when the caller has not yet
// begun to wait (direct.go).
//
// Every decision of the manager is made by the pure state machine of package
// decide; the manager actor (actor.go) only drives it, as the pool actor
// drives actors.Pool:
//
//	func (m *managerActor) step(c actor.Context, in decide.Input) {
//		m.sm.Step(now, in)
//		for {
//			for _, e := range m.sm.Ready() {
//				m.effect(c, &e) // spawn, publish, forward, close a route, permits...
//			}
//			m.sm.Advance()
//			if no follow-up input (RouteClosed) was produced {
//				return
//			}
//			m.sm.Step(now, followUp)
//		}
//	}
//
// What the driver must do with each effect is listed in decide's package doc.
// All pool state lives in the pool actors and all manager state in the
// manager actor, so nothing here takes a lock.
//
// A Lease is one checked-out connection. Use it from one goroutine at a time
// and hand it back exactly once with Release (or Close). Release decides from
// the last error whether the connection may be reused: nil and application
// errors keep it; driver.ErrBadConn, network errors and cancelled contexts
// close it.
package manager
