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
// The cache and the session reset agree: DISCARD ALL ends the server's
// statements on every release and resetSession clears pgx's cache with them,
// so the first run of a query text in the next lease prepares it again (one
// Parse per query text per lease on that connection), and the cache goes with
// the connection when it closes.
func (d *Dialer) CachesStatements() bool {
	cfg := d.cfg()
	return cfg.DefaultQueryExecMode == pgx.QueryExecModeCacheStatement && cfg.StatementCacheCapacity > 0
}
