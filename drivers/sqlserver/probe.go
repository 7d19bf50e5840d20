package sqlserver

import (
	"context"
	"net"
	"strconv"

	"github.com/idpool/idpool/manager"
)

// defaultPort is SQL Server's port when the DSN names none.
const defaultPort = 1433

var _ manager.Prober = (*Dialer)(nil)

// Probe checks that the server accepts a TCP connection at the DSN's host
// and port (1433 if none), and closes it at once: no login, no credentials.
// The facade uses it for a Ping whose ctx carries no identity. A named
// instance without a port is not probed (its port is found through SQL
// Browser at login), so Probe then reports nil.
func (d *Dialer) Probe(ctx context.Context) error {
	cfg := d.secrets().cfg
	if cfg.Instance != "" && cfg.Port == 0 {
		return nil
	}
	port := cfg.Port
	if port == 0 {
		port = defaultPort
	}
	var nd net.Dialer
	c, err := nd.DialContext(ctx, "tcp", net.JoinHostPort(cfg.Host, strconv.FormatUint(port, 10)))
	if err != nil {
		return err
	}
	return c.Close()
}
