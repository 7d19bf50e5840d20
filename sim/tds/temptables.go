package tds

import "strings"

// Temporary tables: a name starting with one # (#t, [#t]) is the session's
// own, as in SQL Server: no other session sees it, and the session's reset
// (sp_reset_connection, the RESETCONNECTION bit) or its end drops it. Names
// starting with ## are global temporary tables, shared like ordinary ones.
// A session holds at most maxTempTables of its own (store.go).

// isLocalTemp reports whether a table key names a local temporary table.
func isLocalTemp(key string) bool {
	return strings.HasPrefix(key, "#") && !strings.HasPrefix(key, "##")
}

// tables returns the store that holds the table with key: the session's
// temporary tables (created on first use) or the server's.
func (s *session) tables(key string) *store {
	if !isLocalTemp(key) {
		return s.srv.store
	}
	if s.temps == nil {
		s.temps = newStore(maxTempTables, "temporary tables in this session")
	}
	return s.temps
}

// applyRows publishes committed row counts, each to its table's store.
func (s *session) applyRows(rows map[string]int64) {
	for k, n := range rows {
		s.tables(k).apply(map[string]int64{k: n}, s.login)
	}
}

// dropTemps drops the session's temporary tables.
func (s *session) dropTemps() { s.temps = nil }
