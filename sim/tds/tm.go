package tds

import "fmt"

// Transaction manager request types ([MS-TDS] 2.2.6.9).
const (
	tmBeginXact    uint16 = 5
	tmCommitXact   uint16 = 7
	tmRollbackXact uint16 = 8
	// tmSaveXact sets a savepoint; its payload is the name alone, a
	// B_VARBYTE that MUST be nonempty ([MS-TDS] 2.2.6.9). tedious's
	// saveTransaction sends it, and so does its transaction() helper when
	// a transaction is already open.
	tmSaveXact uint16 = 9
	// fBeginXact on commit/rollback starts a new transaction afterwards.
	tmFlagBeginXact byte = 0x01
)

// tmRequest is a parsed TM request.
type tmRequest struct {
	typ       uint16
	isolation byte
	// name is XACT_NAME: the transaction's for a begin, the savepoint's
	// for a save, and for a rollback the savepoint or transaction to roll
	// back to (savepoint.go); a commit's is ignored, as COMMIT
	// TRANSACTION's is.
	name  string
	flags byte
	// beginName names the transaction fBeginXact starts.
	beginName string
}

// parseTM reads a TM request: ALL_HEADERS, the request type and its payload.
func parseTM(b []byte) (tmRequest, error) {
	var r tmRequest
	c := &cursor{b: b}
	if _, err := readAllHeaders(c); err != nil {
		return r, err
	}
	r.typ = c.u16()
	switch r.typ {
	case tmBeginXact:
		r.isolation = c.u8()
		r.name = c.xactName()
	case tmCommitXact, tmRollbackXact:
		r.name = c.xactName()
		r.flags = c.u8()
		if r.flags&tmFlagBeginXact != 0 {
			r.isolation = c.u8()
			r.beginName = c.xactName()
		}
	case tmSaveXact:
		r.name = c.xactName()
	default:
		if c.err == nil {
			return r, &unsupportedError{what: fmt.Sprintf("transaction manager request %d", r.typ)}
		}
	}
	return r, c.err
}

// doTM runs BeginTx/Commit/Rollback as go-mssqldb sends them, and the
// named begin, save and rollback tedious sends. The reply is the ENVCHANGE
// that tells the driver the new transaction descriptor (or that the
// transaction ended; none for a save or a rollback to a savepoint, after
// which the transaction goes on) and a DONE.
func (s *session) doTM(req *request, tb *tokenBuf) error {
	r, err := parseTM(req.msg.data)
	if err != nil {
		if ue, ok := err.(*unsupportedError); ok {
			tb.message(tokError, newExecError(40517, 16, "%s.", ue.Error()).e, s.srv.opts.ServerName)
			tb.done(tokDone, doneError, cmdNone, 0)
			return nil
		}
		return malformed(err)
	}
	var e *execError
	switch r.typ {
	case tmBeginXact:
		s.beginIsolation(r.isolation)
		s.beginTran(tb, r.name)
	case tmCommitXact:
		if err := s.commitTran(tb, true); err != nil {
			e = err.(*execError)
		}
	case tmRollbackXact:
		e = s.rollbackTran(tb, cutTranName(r.name))
	case tmSaveXact:
		e = s.saveTran(cutTranName(r.name))
	}
	if e == nil && r.typ != tmBeginXact && r.flags&tmFlagBeginXact != 0 {
		s.beginIsolation(r.isolation)
		s.beginTran(tb, r.beginName)
	}
	if e != nil {
		tb.message(tokError, e.e, s.srv.opts.ServerName)
		tb.done(tokDone, doneError, cmdNone, 0)
		return nil
	}
	tb.done(tokDone, doneFinal, cmdNone, 0)
	return nil
}

// xactName reads a TM request's transaction name: a B_VARBYTE ([MS-TDS]
// 2.2.6.9), its length a count of bytes, of UTF-16LE text, as tedious and
// SqlClient send it. (Not a B_VARCHAR, counted in characters: go-mssqldb
// writes one, but only ever empty, where the two agree.)
func (c *cursor) xactName() string {
	n := int(c.u8())
	s, err := ucs2ToString(c.take(n))
	if err != nil && c.err == nil {
		c.err = err
	}
	return s
}
