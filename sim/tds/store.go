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
}

type table struct {
	name string
	rows int64
}

func newStore() *store { return &store{tables: map[string]*table{}} }

func (s *store) create(name tableName) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.tables[name.key]; ok {
		return errObjectExists(name.text)
	}
	s.tables[name.key] = &table{name: name.text}
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

// apply adds committed rows; a table is never dropped, so it still exists.
func (s *store) apply(rows map[string]int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, n := range rows {
		if t, ok := s.tables[k]; ok {
			t.rows += n
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
