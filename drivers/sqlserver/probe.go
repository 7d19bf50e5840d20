package sqlserver

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

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
//
// The connect is bounded as go-mssqldb bounds its own: by the DSN's dial
// timeout (15 seconds a protocol if it names none or 0, as go-mssqldb
// reckons it), as well as by ctx. GORM's automatic ping and db.Ping() pass a ctx with no deadline,
// and a server that drops the connect (a firewall, a host that is down)
// held them for the system's TCP connect timeout, two minutes on Linux,
// where the driver alone gives up after its dial timeout.
func (d *Dialer) Probe(ctx context.Context) error {
	if ctx == nil {
		return fmt.Errorf("sqlserver: Dialer.Probe: %w", manager.ErrNilContext)
	}
	if d.secrets == nil {
		return errZeroDialer
	}
	cfg := d.secrets().cfg
	if cfg.Instance != "" && cfg.Port == 0 {
		return nil
	}
	port := cfg.Port
	if port == 0 {
		port = defaultPort
	}
	if dt := cfg.DialTimeout; dt >= 0 {
		if dt == 0 {
			dt = time.Duration(15*max(1, len(cfg.Protocols))) * time.Second
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, dt)
		defer cancel()
	}
	var nd net.Dialer
	c, err := nd.DialContext(ctx, "tcp", net.JoinHostPort(cfg.Host, strconv.FormatUint(port, 10)))
	if err != nil {
		return err
	}
	return c.Close()
}
