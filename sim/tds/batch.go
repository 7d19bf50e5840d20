package tds

// doBatch runs a SQLBatch: ALL_HEADERS, then the SQL text in UTF-16LE.
func (s *session) doBatch(req *request, tb *tokenBuf) error {
	c := &cursor{b: req.msg.data}
	if _, err := readAllHeaders(c); err != nil {
		return malformed(err)
	}
	text, err := ucs2ToString(c.rest())
	if err != nil {
		return malformed(err)
	}
	stmts, err := parseBatch(text)
	if err != nil {
		ee, _ := err.(*execError)
		if ee == nil {
			ee = errSyntaxMsg(err.Error())
		}
		tb.message(tokError, ee.e, s.srv.opts.ServerName)
		tb.done(tokDone, doneError, cmdNone, 0)
		return nil
	}
	_, err = s.runStatements(req.ctx, stmts, nil, tb, false)
	return err
}
