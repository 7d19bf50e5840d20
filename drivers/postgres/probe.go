package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/idpool/idpool/manager"
)

var _ manager.Prober = (*Dialer)(nil)

// Probe checks that the server accepts a connection at the DSN's first
// host that answers (its fallbacks in order, TCP or Unix socket, through
// the DSN's dial function), and closes it before sending anything: no
// startup message, no credentials, and nothing in the server's log (it
// ignores a connection that sends no bytes). The facade uses it for a Ping
// whose ctx carries no identity.
func (d *Dialer) Probe(ctx context.Context) error {
	if ctx == nil {
		return nilContextError("Dialer.Probe")
	}
	cfg := d.cfg()
	var errs []error
	hosts := append([]*pgconn.FallbackConfig{{Host: cfg.Host, Port: cfg.Port}}, cfg.Fallbacks...)
	for _, h := range hosts {
		network, addr := pgconn.NetworkAddress(h.Host, h.Port)
		c, err := cfg.DialFunc(ctx, network, addr)
		if err == nil {
			return c.Close()
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
