package manager

import (
	"context"
	"fmt"
)

// Prober is implemented by a Dialer that can check that its server answers
// without logging in, and so without an identity: the drivers' dialers open
// a TCP connection to the server's address and close it at once. The facade
// uses it for a Ping whose ctx carries no identity (see Conn.Ping).
type Prober interface {
	// Probe reports whether the server accepts a network connection. It
	// sends no credentials and no query.
	Probe(ctx context.Context) error
}

// pingWithoutIdentity is a Ping with no identity to run as: it touches no
// session and borrows no pool's connection, so it can say only that the
// Manager is open and, when the Dialer is a Prober, that the server answers.
// Over no Manager (nil or zero; a zero Connector's) it says so: that Ping is
// often a program's first call (GORM's at gorm.Open).
func (m *Manager) pingWithoutIdentity(ctx context.Context) error {
	if !m.started() {
		return ErrNoManager
	}
	if m.closed.Load() {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	p, ok := m.dialer.(Prober)
	if !ok {
		return nil // nothing to reach the server with but a login
	}
	if err := p.Probe(ctx); err != nil {
		return fmt.Errorf("idpool: ping without an identity: server %s does not answer: %w", m.cfg.Server, err)
	}
	return nil
}
