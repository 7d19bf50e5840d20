package tds

import (
	"context"
	"strings"
)

// sp_executesql, however it arrives: as an RPC (rpc.go; how go-mssqldb and
// tedious send every parameterised query) or as EXEC sp_executesql in a
// batch's text (execsqlparse.go). Both come here as a list of arguments,
// each a name (empty when passed by position) and a value, and are bound
// and run alike.

// maxProcNesting is SQL Server's limit on nested procedure calls (error
// 217); here it bounds EXEC sp_executesql run by the text of an
// sp_executesql, and so the recursion a hostile batch can cause.
const maxProcNesting = 32

// executeSQL runs sp_executesql with args: @stmt (also named @statement,
// the name tedious gives it), then @params (the declarations), then the
// values, by position in declaration order or by name. An error in the
// call itself (a missing @stmt, too many arguments, ...) is returned as an
// *execError with nothing sent: it fails the calling statement. The
// statement text runs as a scope of its own: its syntax errors, sent here,
// and its statements' errors fail the call without failing the caller's
// scope, unless they abort the batch (errorscope.go).
func (s *session) executeSQL(ctx context.Context, args []rpcParam, tb *tokenBuf) (scopeEnd, *execError, error) {
	if s.procNesting >= maxProcNesting {
		return scopeEnd{}, errProcNesting(), nil
	}
	text, params, ee := bindExecuteSQL(args)
	if ee != nil {
		return scopeEnd{}, ee, nil
	}
	return s.runProcText(ctx, text, params, tb)
}

// runProcText runs the statement text of sp_executesql or of a prepared
// statement (prepare.go) with its bound parameters, as a scope of its own.
func (s *session) runProcText(ctx context.Context, text string, params map[string]any, tb *tokenBuf) (scopeEnd, *execError, error) {
	stmts, err := parseBatch(text)
	if err != nil {
		ee, _ := err.(*execError)
		if ee == nil {
			ee = errSyntaxMsg(err.Error())
		}
		// A compile error of the nested scope: it never runs.
		tb.message(tokError, ee.e, s.srv.opts.ServerName)
		return scopeEnd{failed: true}, nil, nil
	}
	s.procNesting++
	defer func() { s.procNesting-- }()
	end, err := s.runStatements(ctx, stmts, params, tb, true)
	return end, nil, err
}

// bindExecuteSQL sorts sp_executesql's arguments into the statement text
// and the values of the parameters it declares, with SQL Server's errors
// for the forms it refuses.
func bindExecuteSQL(args []rpcParam) (text string, params map[string]any, ee *execError) {
	var stmt, decls *rpcParam
	var values []rpcParam
	seenNamed := false
	for i := range args {
		a := &args[i]
		name := strings.ToLower(strings.TrimPrefix(a.name, "@"))
		switch {
		case name == "" && seenNamed:
			return "", nil, errPositionalAfterNamed(i + 1)
		case name == "" && i == 0, name == "stmt", name == "statement":
			if stmt != nil {
				return "", nil, errSuppliedTwice("@stmt")
			}
			stmt = a
		case name == "" && i == 1, name == "params":
			if decls != nil {
				return "", nil, errSuppliedTwice("@params")
			}
			decls = a
		default:
			values = append(values, *a)
		}
		seenNamed = seenNamed || name != ""
	}
	if stmt == nil {
		return "", nil, newExecError(201, 16, "Procedure or function 'sp_executesql' expects parameter '@statement', which was not supplied.")
	}
	// Both are Unicode: a VARCHAR is refused, not converted.
	text, ok := stmt.value.(string)
	if !ok || stmt.nonUnicode {
		return "", nil, newExecError(214, 16, "Procedure expects parameter '@statement' of type 'ntext/nchar/nvarchar'.")
	}
	var declText string
	if decls != nil && decls.value != nil {
		if declText, ok = decls.value.(string); !ok || decls.nonUnicode {
			return "", nil, newExecError(214, 16, "Procedure expects parameter '@params' of type 'ntext/nchar/nvarchar'.")
		}
	}
	params, ee = bindValues("sp_executesql", text, declText, values, len(args)-len(values))
	return text, params, ee
}

// bindValues binds the values for a statement's declared parameters
// (sp_executesql's after its @stmt and @params, sp_execute's after its
// handle): by position in declaration order, then as @name = value,
// whatever the names, so a parameter may be called @stmt or @handle.
// skipped is how many of the procedure's own arguments came before them,
// for the argument numbers errors give.
func bindValues(proc, text, declText string, values []rpcParam, skipped int) (map[string]any, *execError) {
	declared, ee := parseDeclarations(declText)
	if ee != nil {
		return nil, ee
	}
	params := map[string]any{}
	seenNamed := false
	for i, v := range values {
		name := strings.ToLower(strings.TrimPrefix(v.name, "@"))
		switch {
		case name == "" && seenNamed:
			return nil, errPositionalAfterNamed(skipped + i + 1)
		case name == "" && i >= len(declared):
			return nil, newExecError(8144, 16, "Procedure or function %s has too many arguments specified.", proc)
		case name == "":
			params[declared[i]] = v.value
			continue
		}
		seenNamed = true
		if _, dup := params[name]; dup {
			return nil, errSuppliedTwice("@" + name)
		}
		// A value for a name the declarations lack is kept, as go-mssqldb
		// and tedious never send one; SQL Server's answer to it is not
		// modelled.
		params[name] = v.value
	}
	for _, name := range declared {
		if _, ok := params[name]; !ok {
			return nil, newExecError(8178, 16, "The parameterized query '(%s)%s' expects the parameter '@%s', which was not supplied.",
				truncate(declText, 100), truncate(text, 100), name)
		}
	}
	return params, nil
}

// parseDeclarations reads sp_executesql's @params string, such as
// "@p1 bigint,@p2 nvarchar(10) OUTPUT": the names it declares, lower case,
// without '@'. Each declaration is a name then its type; the type itself
// is not checked (values keep the type they were sent with).
func parseDeclarations(decls string) ([]string, *execError) {
	var out []string
	seen := map[string]bool{}
	parts, ok := splitTopLevel(decls)
	if !ok {
		return nil, errSyntaxNear(truncate(decls, 64))
	}
	if len(parts) == 1 && strings.TrimSpace(parts[0]) == "" {
		return nil, nil
	}
	for _, part := range parts {
		f := strings.Fields(part)
		if len(f) == 0 {
			return nil, errSyntaxNear(",")
		}
		name, ok := strings.CutPrefix(f[0], "@")
		if !ok || !validVarName(name) {
			return nil, errSyntaxNear(truncate(f[0], 64))
		}
		if len(f) < 2 {
			return nil, errSyntaxEnd()
		}
		name = strings.ToLower(name)
		if seen[name] {
			return nil, newExecError(134, 15, "The variable name '@%s' has already been declared. Variable names must be unique within a query batch or stored procedure.", name)
		}
		if len(out) == maxRPCParams {
			return nil, newExecError(8003, 16, "The incoming request has too many parameters. The server supports a maximum of %d parameters. Reduce the number of parameters and resend the request.", maxRPCParams)
		}
		seen[name] = true
		out = append(out, name)
	}
	return out, nil
}

// splitTopLevel splits s at the commas outside parentheses, as in
// "@p decimal(10, 2), @q int"; it reports false for unbalanced parentheses.
func splitTopLevel(s string) ([]string, bool) {
	var parts []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			if depth--; depth < 0 {
				return nil, false
			}
		case ',':
			if depth == 0 {
				parts = append(parts, s[start:i])
				start = i + 1
			}
		}
	}
	return append(parts, s[start:]), depth == 0
}

func validVarName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		if !isIdentChar(name[i]) || name[i] == '#' {
			return false
		}
	}
	return true
}

// truncate shortens s for an error message, on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "..."
}
