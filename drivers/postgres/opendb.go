package postgres

import "github.com/idpool/idpool/manager"

// OpenOption configures OpenDB: every dialer Option (WithUser,
// WithLoginUser, WithConnectorOptions, WithoutSessionReset) is one, and
// WithFacadeOptions passes options on to the *sql.DB facade.
type OpenOption interface {
	applyOpen(*openSettings)
}

type openSettings struct {
	dialer []Option
	facade []manager.FacadeOption
}

// applyOpen makes every dialer Option an OpenOption.
func (o Option) applyOpen(s *openSettings) { s.dialer = append(s.dialer, o) }

type facadeOptions []manager.FacadeOption

func (f facadeOptions) applyOpen(s *openSettings) { s.facade = append(s.facade, f...) }

// WithFacadeOptions passes options such as manager.WithDefaultIdentity to
// the *sql.DB facade OpenDB builds.
func WithFacadeOptions(opts ...manager.FacadeOption) OpenOption { return facadeOptions(opts) }

// OpenDB returns a standard *sql.DB for the server in dsn, pooled by idpool:
// each call runs on a connection of the identity in its ctx,
//
//	db, err := postgres.OpenDB(dsn, manager.Config{MaxSize: 10}, postgres.WithLoginUser("orders-app"))
//	rows, err := db.QueryContext(tokens.WithIdentity(ctx, alice), "SELECT current_user")
//
// cfg.Dialer is this package's Dialer for dsn, built with the dialer
// options among opts (the login user: WithUser, WithLoginUser), and
// cfg.Server defaults to the DSN's server key; everything else in cfg
// applies as documented on manager.Config. pgxpool's pool parameters in the
// DSN are honoured as documented on OpenPool. A call whose ctx carries no
// identity fails unless manager.WithDefaultIdentity is given through
// WithFacadeOptions.
func OpenDB(dsn string, cfg manager.Config, opts ...OpenOption) (*manager.DB, error) {
	var s openSettings
	for _, o := range opts {
		if o != nil {
			o.applyOpen(&s)
		}
	}
	d, cfg, err := configure(dsn, cfg, s.dialer)
	if err != nil {
		return nil, err
	}
	return manager.OpenDialer(d, d.ServerKey(), cfg, s.facade...)
}

// configure parses dsn once for OpenDB and OpenPool: its pool parameters go
// into cfg (see dsnPool.apply) and are kept from the server; the rest makes
// the Dialer, which becomes cfg.Dialer.
func configure(dsn string, cfg manager.Config, opts []Option) (*Dialer, manager.Config, error) {
	pc, err := parseDSN(dsn)
	if err != nil {
		return nil, cfg, err
	}
	cfg, err = takePoolParams(pc.RuntimeParams).apply(cfg)
	if err != nil {
		return nil, cfg, err
	}
	d, err := newDialer(pc, opts)
	if err != nil {
		return nil, cfg, err
	}
	cfg.Dialer = d
	if cfg.Server == "" {
		cfg.Server = d.ServerKey()
	}
	return d, cfg, nil
}
