package tds

import (
	"fmt"
	"strings"
)

// Well-known procedure ids of the RPC ProcIDSwitch form.
const (
	procExecuteSQL uint16 = 10
	// maxRPCParams is SQL Server's limit on parameters per request.
	maxRPCParams = 2100
	// RPC parameter status flags.
	paramByRef     byte = 0x01
	paramEncrypted byte = 0x08
)

var procNames = map[uint16]string{
	1: "sp_cursor", 2: "sp_cursoropen", 3: "sp_cursorprepare", 4: "sp_cursorexecute",
	5: "sp_cursorprepexec", 6: "sp_cursorunprepare", 7: "sp_cursorfetch", 8: "sp_cursoroption",
	9: "sp_cursorclose", 10: "sp_executesql", 11: "sp_prepare", 12: "sp_execute",
	13: "sp_prepexec", 14: "sp_prepexecrpc", 15: "sp_unprepare",
}

// rpcRequest is one RPC call ([MS-TDS] 2.2.6.6).
type rpcRequest struct {
	procID   uint16
	procName string
	flags    uint16
	params   []rpcParam
}

type rpcParam struct {
	name   string
	status byte
	value  any
}

// parseRPC reads an RPC request. A malformed request returns a plain error;
// well-formed input the simulator does not implement returns
// *unsupportedError.
func parseRPC(b []byte) (rpcRequest, error) {
	var r rpcRequest
	c := &cursor{b: b}
	if _, err := readAllHeaders(c); err != nil {
		return r, err
	}
	n := c.u16()
	if n == 0xFFFF {
		r.procID = c.u16()
	} else {
		s, err := ucs2ToString(c.take(2 * int(n)))
		if err != nil {
			return r, err
		}
		r.procName = s
	}
	r.flags = c.u16()
	if c.err != nil {
		return r, c.err
	}
	for c.remaining() > 0 {
		switch c.b[c.off] {
		case 0xFF, 0xFE, 0x80:
			// BatchFlag / NoExecFlag: several RPCs in one message.
			return r, &unsupportedError{what: "batched RPC requests"}
		}
		if len(r.params) == maxRPCParams {
			return r, fmt.Errorf("tds: RPC has more than %d parameters", maxRPCParams)
		}
		p := rpcParam{name: c.bVarChar(), status: c.u8()}
		if c.err != nil {
			return r, c.err
		}
		if p.status&paramEncrypted != 0 {
			return r, &unsupportedError{what: "encrypted parameters"}
		}
		v, err := readTypedValue(c)
		if err != nil {
			return r, err
		}
		p.value = v
		r.params = append(r.params, p)
	}
	return r, nil
}

// doRPC runs an RPC request. Only sp_executesql is implemented; any other
// procedure gets error 2812 as on a server that does not have it.
func (s *session) doRPC(req *request, tb *tokenBuf) error {
	r, err := parseRPC(req.msg.data)
	if err != nil {
		if ue, ok := err.(*unsupportedError); ok {
			tb.message(tokError, errRPCStream(ue.Error()).e, s.srv.opts.ServerName)
			tb.done(tokDoneProc, doneError, cmdNone, 0)
			return nil
		}
		return malformed(err)
	}
	if isProc(r, "sp_set_session_context") {
		return s.rpcSetSessionContext(r.params, tb)
	}
	if !isExecuteSQL(r) {
		name := r.procName
		if name == "" {
			name = procNames[r.procID]
			if name == "" {
				name = fmt.Sprintf("procedure id %d", r.procID)
			}
		}
		tb.message(tokError, errProcNotFound(name).e, s.srv.opts.ServerName)
		tb.done(tokDoneProc, doneError, cmdNone, 0)
		return nil
	}
	failed, err := s.executeSQL(req, r.params, tb)
	if err != nil {
		return err
	}
	if failed {
		tb.done(tokDoneProc, doneError, cmdNone, 0)
		return nil
	}
	tb.returnStatus(0)
	tb.done(tokDoneProc, doneFinal, cmdNone, 0)
	return nil
}

func isExecuteSQL(r rpcRequest) bool {
	if r.procName == "" {
		return r.procID == procExecuteSQL
	}
	return isProc(r, "sp_executesql")
}

// isProc reports whether an RPC by name calls the system procedure name,
// written as [master.][sys.]name, brackets or not, in any case.
func isProc(r rpcRequest, name string) bool {
	n := strings.ToLower(strings.NewReplacer("[", "", "]", "").Replace(r.procName))
	n = strings.TrimPrefix(strings.TrimPrefix(n, "master."), "sys.")
	return n == name || n == "."+name
}

// rpcSetSessionContext runs sp_set_session_context called as an RPC.
func (s *session) rpcSetSessionContext(ps []rpcParam, tb *tokenBuf) error {
	st, err := sessionContextRPC(ps)
	if err == nil {
		params := map[string]any{}
		for i, p := range ps {
			params[rpcArgName(i)] = p.value
		}
		err = s.execSetSessionContext(st.(setSessionContextStmt), params)
	}
	if ee, ok := err.(*execError); ok {
		tb.message(tokError, ee.e, s.srv.opts.ServerName)
		tb.done(tokDoneProc, doneError, cmdNone, 0)
		return nil
	}
	if err != nil {
		return err
	}
	tb.returnStatus(0)
	tb.done(tokDoneProc, doneFinal, cmdNone, 0)
	return nil
}

// executeSQL is sp_executesql: @stmt, then @params (the declarations), then
// the values. go-mssqldb names every value (@p1...); an unnamed value takes
// the name declared at its position.
func (s *session) executeSQL(req *request, ps []rpcParam, tb *tokenBuf) (failed bool, err error) {
	fail := func(e *execError) (bool, error) {
		tb.message(tokError, e.e, s.srv.opts.ServerName)
		return true, nil
	}
	if len(ps) == 0 {
		return fail(newExecError(201, 16, "Procedure or function 'sp_executesql' expects parameter '@statement', which was not supplied."))
	}
	text, ok := ps[0].value.(string)
	if !ok {
		return fail(newExecError(214, 16, "Procedure expects parameter '@statement' of type 'ntext/nchar/nvarchar'."))
	}
	var declared []string
	if len(ps) > 1 {
		decls, ok := ps[1].value.(string)
		if !ok && ps[1].value != nil {
			return fail(newExecError(214, 16, "Procedure expects parameter '@params' of type 'ntext/nchar/nvarchar'."))
		}
		declared = declaredNames(decls)
	}
	params := map[string]any{}
	for i, p := range ps[min(2, len(ps)):] {
		name := strings.ToLower(strings.TrimPrefix(p.name, "@"))
		if name == "" {
			if i >= len(declared) {
				return fail(newExecError(8178, 16, "The parameterized query expects a parameter which was not supplied."))
			}
			name = declared[i]
		}
		params[name] = p.value
	}
	stmts, err := parseBatch(text)
	if err != nil {
		ee, _ := err.(*execError)
		if ee == nil {
			ee = errSyntaxMsg(err.Error())
		}
		return fail(ee)
	}
	return s.runStatements(req.ctx, stmts, params, tb, true)
}

// declaredNames lists the parameter names of an sp_executesql declaration
// string such as "@p1 bigint,@p2 nvarchar(10)", lower case, without '@'.
func declaredNames(decls string) []string {
	var out []string
	depth, start := 0, 0
	flush := func(part string) {
		f := strings.Fields(part)
		if len(f) > 0 && strings.HasPrefix(f[0], "@") {
			out = append(out, strings.ToLower(f[0][1:]))
		}
	}
	for i, r := range decls {
		switch r {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				flush(decls[start:i])
				start = i + 1
			}
		}
	}
	flush(decls[start:])
	return out
}
