package tds

import (
	"context"
	"strings"
)

// Prepared statements: the RPCs sp_prepare (procedure id 11), sp_execute
// (12) and sp_unprepare (15), by name or by id, which the JDBC driver and
// older ODBC drivers prepare statements with. sp_prepare compiles a
// statement and its parameter declarations and returns a handle, an int,
// in its @handle OUTPUT parameter (a RETURNVALUE token, [MS-TDS]
// 2.2.7.19); sp_execute runs the statement with values for its
// parameters, bound as sp_executesql binds its values; sp_unprepare
// drops it. A handle the session does not hold is error 8179.
//
// Sources: sp_prepare, sp_execute and sp_unprepare (Transact-SQL),
// Microsoft Learn (their arguments: @handle OUTPUT, @params, @stmt,
// @options; handle then values; handle); [MS-TDS] 2.2.6.6 for the
// procedure ids. The 8179 wording and that handles count up from 1 in a
// session are SQL Server's as we remember them, not re-checked on a server.
//
// @options (RETURN_METADATA) is read in preparemeta.go. Not modelled:
// what sp_reset_connection does to handles (they are kept).

// Procedure ids of the prepared-statement RPCs ([MS-TDS] 2.2.6.6).
const (
	procPrepare   uint16 = 11
	procExecute   uint16 = 12
	procUnprepare uint16 = 15
)

// maxPrepared bounds a session's prepared statements, so that a client
// that never calls sp_unprepare cannot grow the server without limit; the
// simulator's own limit (SQL Server documents none).
const maxPrepared = 1024

// preparedStmt is what sp_prepare compiled: the statement's text and its
// parameter declarations, bound again on each sp_execute.
type preparedStmt struct {
	text, decls string
}

// isRPC reports whether r calls the system procedure name, by name or by
// its procedure id.
func isRPC(r rpcRequest, id uint16, name string) bool {
	if r.procName == "" {
		return r.procID == id
	}
	return isProc(r, name)
}

// procArg is one argument of a system procedure, found by name or
// position, with its position in the request (RETURNVALUE's ParamOrdinal).
type procArg struct {
	p       *rpcParam
	ordinal int
}

// procArgs sorts ps into the procedure's parameters, named in order
// (lower case, with '@').
func procArgs(proc string, ps []rpcParam, names []string) (map[string]procArg, *execError) {
	out := map[string]procArg{}
	seenNamed := false
	for i := range ps {
		name := strings.ToLower(ps[i].name)
		switch {
		case name == "" && seenNamed:
			return nil, errPositionalAfterNamed(i + 1)
		case name == "" && i < len(names):
			out[names[i]] = procArg{&ps[i], i}
			continue
		case name == "":
			return nil, newExecError(8144, 16, "Procedure or function %s has too many arguments specified.", proc)
		}
		seenNamed = true
		known := false
		for _, n := range names {
			known = known || n == name
		}
		if !known {
			return nil, newExecError(8145, 16, "%s is not a parameter for procedure %s.", ps[i].name, proc)
		}
		if _, dup := out[name]; dup {
			return nil, errSuppliedTwice(name)
		}
		out[name] = procArg{&ps[i], i}
	}
	return out, nil
}

func errNotSupplied(proc, param string) *execError {
	return newExecError(201, 16, "Procedure or function '%s' expects parameter '%s', which was not supplied.", proc, param)
}

// errNoPrepared is error 8179: a handle the session holds no prepared
// statement for.
func errNoPrepared(h int64) *execError {
	return newExecError(8179, 16, "Could not find prepared statement with handle %d.", h)
}

// preparedHandle reads a @handle argument.
func preparedHandle(proc string, a procArg, ok bool) (int32, *execError) {
	if !ok {
		return 0, errNotSupplied(proc, "@handle")
	}
	h, isInt := asInt64(a.p.value)
	if !isInt || h != int64(int32(h)) {
		return 0, newExecError(214, 16, "Procedure expects parameter '@handle' of type 'int'.")
	}
	return int32(h), nil
}

// rpcPrepare runs sp_prepare: it compiles the statement and its
// declarations, so that their errors come now, as in SQL Server, and
// returns the new handle. The reply is RETURNSTATUS, RETURNVALUE, DONEPROC,
// after the statement's description when @options asks for it.
func (s *session) rpcPrepare(r rpcRequest, tb *tokenBuf) *execError {
	args, ee := procArgs("sp_prepare", r.params, []string{"@handle", "@params", "@stmt", "@options"})
	if ee != nil {
		return ee
	}
	handle, ok := args["@handle"]
	if !ok {
		return errNotSupplied("sp_prepare", "@handle")
	}
	stmt, ok := args["@stmt"]
	if !ok {
		return errNotSupplied("sp_prepare", "@stmt")
	}
	text, isText := stmt.p.value.(string)
	if !isText || stmt.p.nonUnicode {
		return newExecError(214, 16, "Procedure expects parameter '@stmt' of type 'ntext/nchar/nvarchar'.")
	}
	var decls string
	if d, ok := args["@params"]; ok && d.p.value != nil {
		if decls, isText = d.p.value.(string); !isText || d.p.nonUnicode {
			return newExecError(214, 16, "Procedure expects parameter '@params' of type 'ntext/nchar/nvarchar'.")
		}
	}
	if _, ee := parseDeclarations(decls); ee != nil {
		return ee
	}
	stmts, err := parseBatch(text)
	if err != nil {
		if ee, ok := err.(*execError); ok {
			return ee
		}
		return errSyntaxMsg(err.Error())
	}
	o, ok := args["@options"]
	options, ee := prepareOptions(o, ok)
	if ee != nil {
		return ee
	}
	var meta []byte
	if options&optReturnMetadata != 0 {
		if meta, ee = s.describePrepared(stmts, decls); ee != nil {
			return ee
		}
	}
	if len(s.prepared) >= maxPrepared {
		return newExecError(50000, 16, "sp_prepare was not run: the simulated server keeps at most %d prepared statements in a session; call sp_unprepare first.", maxPrepared)
	}
	if s.prepared == nil {
		s.prepared = map[int32]preparedStmt{}
	}
	s.lastHandle++
	s.prepared[s.lastHandle] = preparedStmt{text: text, decls: decls}
	name := handle.p.name
	if name == "" {
		name = "@handle"
	}
	if meta != nil {
		tb.b = append(tb.b, meta...)
		tb.done(tokDoneInProc, doneMore|doneCount, cmdSelect, 0)
	}
	tb.returnStatus(0)
	tb.returnValueInt(uint16(handle.ordinal), name, s.lastHandle)
	tb.done(tokDoneProc, doneFinal, cmdNone, 0)
	return nil
}

// execPrepared runs sp_execute: the prepared statement's text as a scope
// of its own, as sp_executesql runs its text. Its first argument is the
// handle, taken by position whatever its name, as SQL Server takes an
// extended procedure's arguments in order (sp_execute, Microsoft Learn);
// the rest are the statement's values, bound by bindValues to its own
// parameters, so that one named @stmt, @params or @handle is no
// argument of sp_execute's.
func (s *session) execPrepared(ctx context.Context, r rpcRequest, tb *tokenBuf) (scopeEnd, *execError, error) {
	if len(r.params) == 0 {
		return scopeEnd{}, errNotSupplied("sp_execute", "@handle"), nil
	}
	h, ee := preparedHandle("sp_execute", procArg{&r.params[0], 0}, true)
	if ee != nil {
		return scopeEnd{}, ee, nil
	}
	p, ok := s.prepared[h]
	if !ok {
		return scopeEnd{}, errNoPrepared(int64(h)), nil
	}
	params, ee := bindValues("sp_execute", p.text, p.decls, r.params[1:], 1)
	if ee != nil {
		return scopeEnd{}, ee, nil
	}
	return s.runProcText(ctx, p.text, params, tb)
}

// rpcUnprepare runs sp_unprepare.
func (s *session) rpcUnprepare(r rpcRequest, tb *tokenBuf) *execError {
	args, ee := procArgs("sp_unprepare", r.params, []string{"@handle"})
	if ee != nil {
		return ee
	}
	a, ok := args["@handle"]
	h, ee := preparedHandle("sp_unprepare", a, ok)
	if ee != nil {
		return ee
	}
	if _, ok := s.prepared[h]; !ok {
		return errNoPrepared(int64(h))
	}
	delete(s.prepared, h)
	tb.returnStatus(0)
	tb.done(tokDoneProc, doneFinal, cmdNone, 0)
	return nil
}
