package tds

import (
	"strings"
	"sync"
)

// store holds the tables every session shares. Only committed rows live
// here; a session keeps the rows of its open transaction to itself (see
// session.pending), which gives READ COMMITTED visibility without locks.
type store struct {
	mu     sync.Mutex
	tables map[string]*table
	// limit bounds len(tables): tables are never dropped (a session's
	// temporary ones go all at once), so without it one client's CREATE
	// TABLE loop grew the server without limit. what names the store in the
	// error that refuses a table past it.
	limit int
	what  string
}

type table struct {
	name string
	// cols are the columns CREATE TABLE declared (coltypes.go).
	cols []columnDef
	rows int64
	// byLogin splits rows by the login of the session that inserted them
	// (the session's own login, not an EXECUTE AS), so that tests can tell
	// whose connection carried them.
	byLogin map[string]int64
}

// The stores' limits. SQL Server's own (2,147,483,647 objects in a
// database, tempdb's too) is out of reach of any test; these are the
// simulator's, far above what a test or `idpool tds` session creates.
const (
	maxTables     = 4096 // the server's tables, global temporary ones included
	maxTempTables = 1024 // one session's local temporary tables
)

func newStore(limit int, what string) *store {
	return &store{tables: map[string]*table{}, limit: limit, what: what}
}

func (s *store) create(name tableName, cols []columnDef) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.tables[name.key]; ok {
		return errObjectExists(name.text)
	}
	if len(s.tables) >= s.limit {
		return errTooManyTables(name.text, s.what, s.limit)
	}
	s.tables[name.key] = &table{name: name.text, cols: cols}
	return nil
}

func (s *store) exists(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.tables[key]
	return ok
}

// committed returns a table's committed row count.
func (s *store) committed(key string) (int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tables[key]
	if !ok {
		return 0, false
	}
	return t.rows, true
}

// committedBy returns the committed rows of a table that login's sessions
// inserted.
func (s *store) committedBy(key, login string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.tables[key]; ok {
		return t.byLogin[login]
	}
	return 0
}

// columns returns a table's columns and whether it exists. The slice is
// never modified after CREATE TABLE.
func (s *store) columns(key string) ([]columnDef, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tables[key]
	if !ok {
		return nil, false
	}
	return t.cols, true
}

// apply adds committed rows, inserted by login's session; a table is never
// dropped, so it still exists.
func (s *store) apply(rows map[string]int64, login string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, n := range rows {
		if t, ok := s.tables[k]; ok {
			t.rows += n
			if t.byLogin == nil {
				t.byLogin = map[string]int64{}
			}
			t.byLogin[login] += n
		}
	}
}

// tableKey folds a table name as the parser does: the last dotted part,
// without brackets, in lower case.
func tableKey(name string) string {
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		name = name[i+1:]
	}
	return strings.ToLower(strings.Trim(name, "[]\""))
}
