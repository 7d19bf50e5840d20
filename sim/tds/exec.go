package tds

import (
	"context"
	"strconv"
	"strings"
	"time"
)

// stmtResult is what a statement reports in its DONE token.
type stmtResult struct {
	cmd      uint16
	rows     uint64
	hasCount bool
	// proc marks a procedure call (EXEC sp_executesql): its statements
	// send their own DONEINPROC tokens and the call ends with RETURNSTATUS
	// and DONEPROC instead of a DONE.
	proc bool
}

func (s *session) exec(ctx context.Context, st stmt, params map[string]any, tb *tokenBuf) (stmtResult, error) {
	switch st := st.(type) {
	case selectStmt:
		return s.execSelect(st, params, tb)
	case beginStmt:
		name, err := s.resolveTranName(st.name, params)
		if err != nil {
			return stmtResult{cmd: cmdBeginTran}, err
		}
		s.beginTran(tb, name)
		return stmtResult{cmd: cmdBeginTran}, nil
	case commitStmt:
		return stmtResult{cmd: cmdCommit}, s.commitTran(tb, false)
	case rollbackStmt, saveStmt:
		return s.execTranName(st, params, tb)
	case ifStmt:
		ok, err := s.evalConds(st.cond, params)
		if err != nil || !ok {
			return stmtResult{}, err
		}
		return s.exec(ctx, st.then, params, tb)
	case createTableStmt:
		return stmtResult{cmd: cmdCreateTable}, s.tables(st.name.key).create(st.name, st.cols)
	case insertStmt:
		return s.execInsert(st, params)
	case insertBulkStmt:
		return s.execInsertBulk(st)
	case selectStarStmt:
		return s.execSelectStar(st, params, tb)
	case waitforStmt:
		return stmtResult{cmd: cmdWaitfor}, s.execWaitfor(ctx, st, params)
	case setStmt:
		return stmtResult{cmd: cmdSet}, s.execSet(st, tb)
	case useStmt:
		s.execUse(st, tb)
		return stmtResult{cmd: cmdNone}, nil
	case setContextInfoStmt:
		return stmtResult{cmd: cmdSet}, s.execSetContextInfo(st, params)
	case setSessionContextStmt:
		return stmtResult{cmd: cmdNone}, s.execSetSessionContext(st, params)
	case executeAsStmt:
		if err := s.execExecuteAs(st); err != nil {
			return stmtResult{cmd: cmdNone}, err
		}
		return stmtResult{cmd: cmdNone}, nil
	case execSQLStmt:
		return s.execExecuteSQL(ctx, st, params, tb)
	case revertStmt:
		s.execRevert()
		return stmtResult{cmd: cmdNone}, nil
	case userOptionsStmt:
		return s.execUserOptions(tb), nil
	}
	return stmtResult{}, errNotSupported("statement")
}

func (s *session) execSelect(st selectStmt, params map[string]any, tb *tokenBuf) (stmtResult, error) {
	res := stmtResult{cmd: cmdSelect, hasCount: true}
	cols := make([]column, len(st.items))
	row := make([]any, len(st.items))
	var count int64
	if st.from != nil {
		if st.where != nil {
			return res, errNotSupported("WHERE with FROM")
		}
		n, ok := s.tables(st.from.key).committed(st.from.key)
		if !ok {
			return res, errInvalidObject(st.from.text)
		}
		count = n + s.pending[st.from.key]
	}
	for i, it := range st.items {
		var v any
		switch {
		case it.e.kind == exCountStar && st.from != nil:
			v = int32(count)
		case it.e.kind == exCountStar:
			v = int32(1)
		case st.from != nil:
			return res, errNotSupported("a select list other than COUNT(*) with FROM")
		default:
			var err error
			if v, err = s.eval(it.e, params); err != nil {
				return res, err
			}
		}
		row[i] = v
		cols[i] = column{name: it.alias, typ: typeFor([]any{v})}
	}
	ok, err := s.evalConds(st.where, params)
	if err != nil {
		return res, err
	}
	tb.colMetadata(cols)
	if ok && !s.fmtOnly() {
		tb.row(cols, row)
		res.rows = 1
	}
	return res, nil
}

func (s *session) execInsert(st insertStmt, params map[string]any) (stmtResult, error) {
	res := stmtResult{cmd: cmdInsert, hasCount: true}
	if !s.tables(st.table.key).exists(st.table.key) {
		return res, errInvalidObject(st.table.text)
	}
	for _, row := range st.rows {
		for _, e := range row {
			if _, err := s.eval(e, params); err != nil {
				return res, err
			}
		}
	}
	n := int64(len(st.rows))
	if s.fmtOnly() {
		// SET FMTONLY ON: statements are described, not run.
		n = 0
	}
	if s.trancount > 0 {
		s.pending[st.table.key] += n
	} else {
		s.applyRows(map[string]int64{st.table.key: n})
	}
	res.rows = uint64(n)
	return res, nil
}

// maxWaitfor is the longest delay WAITFOR accepts (23:59:59.999 in SQL Server).
const maxWaitfor = 24 * time.Hour

func (s *session) execWaitfor(ctx context.Context, st waitforStmt, params map[string]any) error {
	v, err := s.eval(st.delay, params)
	if err != nil {
		return err
	}
	text, ok := v.(string)
	if !ok {
		return errWaitforTime(strconv.Quote(stringOf(v)))
	}
	d, ok := parseDelay(text)
	if !ok {
		return errWaitforTime(text)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return errAttention
	}
}

// parseDelay reads 'hh:mm[:ss[.mmm]]'.
func parseDelay(s string) (time.Duration, bool) {
	parts := strings.Split(strings.TrimSpace(s), ":")
	if len(parts) < 2 || len(parts) > 3 {
		return 0, false
	}
	var frac time.Duration
	if len(parts) == 3 {
		sec, ms, hasMS := strings.Cut(parts[2], ".")
		parts[2] = sec
		if hasMS {
			if len(ms) == 0 || len(ms) > 3 {
				return 0, false
			}
			n, err := strconv.Atoi(ms)
			if err != nil || n < 0 {
				return 0, false
			}
			for i := len(ms); i < 3; i++ {
				n *= 10
			}
			frac = time.Duration(n) * time.Millisecond
		}
	}
	units := []time.Duration{time.Hour, time.Minute, time.Second}
	limits := []int{23, 59, 59}
	d := frac
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > limits[i] || len(p) > 2 {
			return 0, false
		}
		d += time.Duration(n) * units[i]
	}
	return d, d < maxWaitfor
}

func (s *session) execSet(st setStmt, tb *tokenBuf) error {
	if kept, err := s.setOption(st); kept {
		return err
	}
	switch st.option {
	case "LANGUAGE":
		return s.setLanguage(st.value, tb)
	case "DATEFORMAT":
		return s.setDateFormat(st.value)
	case "NOCOUNT":
		s.nocount = st.value == "ON"
	case "IMPLICIT_TRANSACTIONS":
		if st.value == "ON" {
			return errNotSupported("IMPLICIT_TRANSACTIONS ON")
		}
	case "DEADLOCK_PRIORITY":
		// Accepted for client compatibility; the simulator's behaviour does not depend on it.
	default:
		return newExecError(195, 15, "'%s' is not a recognized SET option.", st.option)
	}
	return nil
}
