package postgres

import (
	"github.com/jackc/pgx/v5"

	"github.com/idpool/idpool/manager"
)

var _ manager.StatementCacher = (*Dialer)(nil)

// CachesStatements reports whether the DSN leaves pgx's query execution mode
// at its default, QueryExecModeCacheStatement (statement_cache_capacity
// above zero), so that each physical connection prepares a query text once
// and reuses it. Then a *sql.Stmt of the facade prepares nothing itself and
// runs through that cache (see manager.StatementCacher); with any other mode
// (default_query_exec_mode=simple_protocol for PgBouncer, say) statements are
// prepared by pgx's database/sql driver as usual.
//
// The cache and the session reset agree: the deferred reset keeps the
// server's statements of pgx's cache (see resetSQL), so a query text is
// parsed once per connection, across leases; a release that needs the full
// reset (DISCARD ALL) clears pgx's cache with the server's statements; with
// WithoutSessionReset nothing is discarded, on either side. The cache goes
// with the connection when it closes.
func (d *Dialer) CachesStatements() bool {
	cfg := d.cfg()
	return cfg.DefaultQueryExecMode == pgx.QueryExecModeCacheStatement && cfg.StatementCacheCapacity > 0
}
