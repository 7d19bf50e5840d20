package manager

import "errors"

// ErrNoManager is the error of a call on a nil *Manager or a zero Manager:
// one New did not make, typically New's result kept although New returned
// an error. Acquire, Evict, Reset and Close return it (Stats returns zero
// Stats) rather than a nil-pointer panic somewhere inside, so the mistake
// is named where it is made; through the facade too: OpenDB over such a
// Manager (or a zero Connector) fails with it every call that needs a
// connection for an identity, and a Ping or Prepare without one (GORM's
// ping at gorm.Open, sqlc's Prepare), and DB.Close on Open's nil result returns it.
var ErrNoManager = errors.New("idpool: no Manager: this *Manager is nil or a zero value (create it with manager.New and check New's error)")

// started reports whether m was made by New: New sets the actor system's
// root context, which everything else reaches the actors through.
func (m *Manager) started() bool { return m != nil && m.root != nil }

// ended reports whether l did not come from Acquire (nil or a zero Lease):
// there is nothing to hand back.
func (l *Lease) ended() bool { return l == nil || l.m == nil }
