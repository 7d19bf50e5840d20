package tds

// execTranName runs ROLLBACK TRANSACTION [name] and SAVE TRANSACTION name
// (savepoint.go).
func (s *session) execTranName(st stmt, params map[string]any, tb *tokenBuf) (stmtResult, error) {
	res := stmtResult{cmd: cmdRollback}
	ref := tranNameRef{}
	switch st := st.(type) {
	case rollbackStmt:
		ref = st.name
	case saveStmt:
		// SQL Server's CurCmd for SAVE TRANSACTION is not in [MS-TDS] and
		// we had no server to capture: none, as for USE.
		res.cmd, ref = cmdNone, st.name
	}
	name, err := s.resolveTranName(ref, params)
	if err != nil {
		return res, err
	}
	var e *execError
	if _, save := st.(saveStmt); save {
		e = s.saveTran(name)
	} else {
		e = s.rollbackTran(tb, name)
	}
	if e != nil {
		return res, e // not a nil *execError in a non-nil error
	}
	return res, nil
}
