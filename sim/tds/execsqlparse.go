package tds

import (
	"context"
	"strings"
)

// EXEC sp_executesql in a batch's text, such as
//
//	EXEC sp_executesql N'SELECT @p', N'@p int', @p = 1
//
// parsed into the arguments an RPC call of sp_executesql carries, so that
// both forms bind and run alike (executesql.go).

// execSQLStmt is EXEC sp_executesql and its arguments, in the order written.
type execSQLStmt struct{ args []execArg }

// execArg is one argument: a name when written @name = value, and the value.
type execArg struct {
	name string
	e    expr
	// nonUnicode: e is a string literal written without N.
	nonUnicode bool
}

// execSQLArgs parses the arguments after EXEC sp_executesql: none, or values
// separated by commas, each a literal (N'...' strings with their quotes
// doubled, numbers, NULL, 0x...) or a variable of the scope, by position or
// as @name = value. As in SQL Server, once one is named the rest must be
// (error 119, found when the batch is compiled, so none of it runs).
func (p *parser) execSQLArgs() (stmt, error) {
	var st execSQLStmt
	if t := p.peek(); t.kind == tkEOF || p.isPunct(";") || t.kind == tkIdent && statementKeywords[t.upper()] {
		return st, nil
	}
	for {
		var a execArg
		if t := p.peek(); t.kind == tkVar && p.pos+1 < len(p.toks) && p.toks[p.pos+1].kind == tkPunct && p.toks[p.pos+1].text == "=" {
			a.name = "@" + strings.ToLower(t.text)
			p.pos += 2
		} else if len(st.args) > 0 && st.args[len(st.args)-1].name != "" {
			return nil, errPositionalAfterNamed(len(st.args) + 1)
		}
		first := p.peek()
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		a.nonUnicode = e.kind == exLiteral && first.kind == tkString && first.nonUnicode
		if p.isWord("OUTPUT") || p.isWord("OUT") {
			return nil, errNotSupported("OUTPUT parameters of sp_executesql")
		}
		a.e = e
		st.args = append(st.args, a)
		if len(st.args) > maxRPCParams {
			return nil, newExecError(8003, 16, "The incoming request has too many parameters. The server supports a maximum of %d parameters. Reduce the number of parameters and resend the request.", maxRPCParams)
		}
		if !p.isPunct(",") {
			return st, nil
		}
		p.pos++
	}
}

// execExecuteSQL runs EXEC sp_executesql from a batch: the arguments are
// evaluated in the calling scope, then bound and run as an RPC's are. The
// call ends with DONEPROC (runStatements); an error raised inside the
// called text has been sent already and is reported as a *scopeError.
func (s *session) execExecuteSQL(ctx context.Context, st execSQLStmt, params map[string]any, tb *tokenBuf) (stmtResult, error) {
	res := stmtResult{cmd: cmdNone, proc: true}
	args := make([]rpcParam, len(st.args))
	for i, a := range st.args {
		v, err := s.eval(a.e, params)
		if err != nil {
			return res, err
		}
		args[i] = rpcParam{name: a.name, value: v, nonUnicode: a.nonUnicode}
	}
	end, ee, err := s.executeSQL(ctx, args, tb)
	switch {
	case err != nil:
		return res, err
	case ee != nil:
		return res, ee
	case end.failed:
		return res, &scopeError{aborted: end.aborted}
	}
	return res, nil
}
