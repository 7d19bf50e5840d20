package tds

import "strings"

// sp_prepare's @options. Its one documented value, 0x0001 RETURN_METADATA,
// "returns a description of the cursor result set columns" (sp_prepare,
// Microsoft Learn); FreeTDS sets it on every sp_prepare it sends. The
// reply then carries the statement's result set as a COLMETADATA token,
// no rows, and a DONEINPROC, before sp_prepare's RETURNSTATUS, RETURNVALUE
// and DONEPROC. That token order is ours: we found no capture of SQL
// Server's reply, and send what a described SELECT inside a procedure
// sends here (SET FMTONLY ON). A statement whose first statement returns
// no result set (an INSERT, say) is described by nothing.
//
// What the simulator can describe without running the statement: SELECT
// of literals, parameters (as their declarations type them), system
// functions and COUNT(*), and SELECT * of a table. A parameter of a type
// it does not model cannot be described, and sp_prepare is refused with
// error 50000 saying so rather than describing it wrongly; so is an
// @options value sp_prepare does not document (SQL Server's answer to one
// is not documented either).

// optReturnMetadata is sp_prepare's RETURN_METADATA option.
const optReturnMetadata = 0x0001

// prepareOptions reads sp_prepare's @options: absent or NULL is none.
func prepareOptions(a procArg, ok bool) (int64, *execError) {
	if !ok || a.p.value == nil {
		return 0, nil
	}
	v, isInt := asInt64(a.p.value)
	if !isInt {
		return 0, newExecError(214, 16, "Procedure expects parameter '@options' of type 'int'.")
	}
	if v != 0 && v != optReturnMetadata {
		return 0, newExecError(50000, 16, "sp_prepare was not run: @options %d is not one the simulated server knows; sp_prepare documents only 1 (RETURN_METADATA).", v)
	}
	return v, nil
}

// describePrepared returns the COLMETADATA token describing the result set
// of stmts' first statement, or nil when it returns none.
func (s *session) describePrepared(stmts []stmt, decls string) ([]byte, *execError) {
	if len(stmts) == 0 {
		return nil, nil
	}
	var err error
	var meta []byte
	switch st := stmts[0].(type) {
	case selectStarStmt:
		meta, err = s.starMetadata(st)
	case selectStmt:
		meta, err = s.describeSelect(st, decls)
	default:
		return nil, nil
	}
	if err != nil {
		if ee, ok := err.(*execError); ok {
			return nil, ee
		}
		return nil, errNotDescribable(err.Error())
	}
	return meta, nil
}

// describeSelect types a SELECT's columns as execSelect would, with each
// parameter typed by its declaration instead of by a value.
func (s *session) describeSelect(st selectStmt, decls string) ([]byte, error) {
	declared := declaredTypes(decls)
	placeholders := map[string]any{}
	for name, t := range declared {
		placeholders[name] = t.zero()
	}
	if st.from != nil && !s.tables(st.from.key).exists(st.from.key) {
		return nil, errInvalidObject(st.from.text)
	}
	cols := make([]column, len(st.items))
	for i, it := range st.items {
		cols[i].name = it.alias
		switch {
		case it.e.kind == exCountStar:
			cols[i].typ = intType(4)
		case st.from != nil:
			return nil, errNotSupported("a select list other than COUNT(*) with FROM")
		case it.e.kind == exParam:
			t, ok := declared[it.e.name]
			if !ok {
				return nil, errMustDeclare(it.e.name)
			}
			info, ok := t.typeInfo()
			if !ok {
				return nil, errNotDescribable("parameter @" + it.e.name + " of type " + t.String())
			}
			cols[i].typ = colType{info: info}
		default:
			v, err := s.eval(it.e, placeholders)
			if err != nil {
				return nil, err
			}
			cols[i].typ = typeFor([]any{v})
		}
	}
	var tb tokenBuf
	tb.colMetadata(cols)
	return tb.b, nil
}

// declaredTypes maps sp_prepare's declarations ("@a int, @b nvarchar(10)
// OUTPUT") to each parameter's type, by lower-case name without '@'. The
// declarations already passed parseDeclarations.
func declaredTypes(decls string) map[string]sqlType {
	out := map[string]sqlType{}
	parts, _ := splitTopLevel(decls)
	for _, part := range parts {
		toks, err := lexSQL(part)
		if err != nil || len(toks) < 2 || toks[0].kind != tkVar {
			continue
		}
		// A declaration reads as a column definition: name type[(args)].
		toks[0].kind = tkIdent
		if c, ok := columnDefOf(toks[:len(toks)-1]); ok { // without EOF
			out[strings.ToLower(c.name)] = c.typ
		}
	}
	return out
}

// zero is a value of type t, for typing an expression that uses a
// parameter of that type; nil for a type the simulator does not model.
func (t sqlType) zero() any {
	switch t.kind {
	case kindInt:
		switch t.size {
		case 1:
			return uint8(0)
		case 2:
			return int16(0)
		case 4:
			return int32(0)
		}
		return int64(0)
	case kindBit:
		return false
	case kindFloat:
		if t.size == 4 {
			return float32(0)
		}
		return float64(0)
	case kindNVarChar:
		return ""
	case kindVarBinary:
		return []byte{}
	}
	return nil
}

// errNotDescribable refuses RETURN_METADATA for what the simulator cannot
// describe: its own limit, error 50000 like the others.
func errNotDescribable(what string) *execError {
	return newExecError(50000, 16, "sp_prepare was not run: the simulated server cannot describe %s for RETURN_METADATA.", what)
}
