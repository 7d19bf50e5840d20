package tds

// beginTran starts a transaction, or nests one level deeper. Only the
// outermost BEGIN sends ENVCHANGE(BeginTran): go-mssqldb takes the 8-byte
// descriptor from it and echoes it in ALL_HEADERS. Only the outermost
// BEGIN's name is kept (savepoint.go).
func (s *session) beginTran(tb *tokenBuf, name string) {
	if s.trancount == 0 {
		s.tranDesc = s.srv.nextDescriptor()
		s.pending = map[string]int64{}
		s.tranName = cutTranName(name)
		tb.envBeginTran(s.tranDesc)
		s.inTx.Store(true)
	}
	s.trancount++
}

// commitTran commits one nesting level, or the whole transaction when all is
// set (a TM commit request). The outermost commit publishes the pending rows.
func (s *session) commitTran(tb *tokenBuf, all bool) error {
	if s.trancount == 0 {
		return errNoBegin(true)
	}
	if all {
		s.trancount = 1
	}
	s.trancount--
	if s.trancount > 0 {
		return nil
	}
	if !s.killed.Load() {
		s.applyRows(s.pending)
	}
	tb.envEndTran(envCommitTran, s.tranDesc)
	s.clearTran()
	return nil
}

// endTran rolls the whole transaction back: ROLLBACK always ends every
// nesting level. Pending rows are dropped.
func (s *session) endTran(tb *tokenBuf) {
	tb.envEndTran(envRollbackTran, s.tranDesc)
	s.clearTran()
}

func (s *session) clearTran() {
	s.trancount, s.tranDesc, s.pending = 0, 0, nil
	s.tranName, s.savepoints = "", nil
	s.inTx.Store(false)
}
