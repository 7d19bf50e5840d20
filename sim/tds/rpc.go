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
	// nonUnicode: the value is a VARCHAR or CHAR (a string literal
	// without N in a batch's text), which sp_executesql refuses for its
	// statement and declarations.
	nonUnicode bool
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
		if c.remaining() > 0 {
			id := c.b[c.off]
			p.nonUnicode = id == typBigVarChar || id == typBigChar
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

// doRPC runs an RPC request. sp_executesql, sp_set_session_context and the
// prepared-statement procedures (prepare.go) are implemented; any other
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
	var (
		end scopeEnd
		ee  *execError
	)
	switch {
	case isRPC(r, procPrepare, "sp_prepare"):
		if ee = s.rpcPrepare(r, tb); ee == nil {
			return nil
		}
	case isRPC(r, procUnprepare, "sp_unprepare"):
		if ee = s.rpcUnprepare(r, tb); ee == nil {
			return nil
		}
	case isRPC(r, procExecute, "sp_execute"):
		end, ee, err = s.execPrepared(req.ctx, r, tb)
	case isExecuteSQL(r):
		end, ee, err = s.executeSQL(req.ctx, r.params, tb)
	default:
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
	if err != nil {
		return err
	}
	if ee != nil {
		tb.message(tokError, ee.e, s.srv.opts.ServerName)
		if s.rollsBack(ee) && s.trancount > 0 {
			s.endTran(tb)
		}
		end.failed = true
	}
	if end.failed {
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
