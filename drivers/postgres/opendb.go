package postgres

import "github.com/idpool/idpool/manager"

// OpenDB returns a standard *sql.DB for the server in dsn, pooled by idpool:
// each call runs on a connection of the identity in its ctx,
//
//	db, err := postgres.OpenDB(dsn, manager.Config{MaxSize: 10})
//	rows, err := db.QueryContext(tokens.WithIdentity(ctx, alice), "SELECT current_user")
//
// cfg.Dialer is this package's Dialer for dsn, and cfg.Server defaults to
// the DSN's server key; everything else in cfg applies as documented on
// manager.Config. A call whose ctx carries no identity fails unless
// manager.WithDefaultIdentity is given. For dialer options (WithUser, ...)
// build the Dialer with NewDialer and call manager.OpenDialer.
func OpenDB(dsn string, cfg manager.Config, opts ...manager.FacadeOption) (*manager.DB, error) {
	d, err := NewDialer(dsn)
	if err != nil {
		return nil, err
	}
	return manager.OpenDialer(d, d.ServerKey(), cfg, opts...)
}
