package tds

import (
	"encoding/hex"
	"strconv"
	"strings"
)

// Parsing of the statements that set the session state of sessionstate.go.

// execRest parses what follows EXEC or EXECUTE: AS USER | LOGIN = 'name', or
// a call of [sys.]sp_set_session_context or [sys.]sp_executesql. No other
// procedure exists here, so a call of one fails as on a server that does
// not have it.
func (p *parser) execRest() (stmt, error) {
	if p.acceptWord("AS") {
		var st executeAsStmt
		switch {
		case p.acceptWord("LOGIN"):
			st.login = true
		case p.acceptWord("USER"):
		default:
			return nil, p.fail()
		}
		if err := p.expectPunct("="); err != nil {
			return nil, err
		}
		t := p.next()
		if t.kind != tkString || t.text == "" {
			p.pos--
			return nil, p.fail()
		}
		st.name = t.text
		return st, nil
	}
	name, err := p.tableName()
	if err != nil {
		return nil, err
	}
	switch name.key {
	case "sp_set_session_context":
		return p.sessionContextArgs()
	case "sp_executesql":
		return p.execSQLArgs()
	}
	return nil, errProcNotFound(name.text)
}

// sessionContextArgs parses sp_set_session_context's arguments: @key,
// @value and @read_only, by position or by name.
func (p *parser) sessionContextArgs() (stmt, error) {
	order := []string{"key", "value", "read_only"}
	args := map[string]expr{}
	for i := 0; ; i++ {
		if i == 0 && (p.peek().kind == tkEOF || p.isPunct(";")) {
			break
		}
		var slot string
		if t := p.peek(); t.kind == tkVar && p.pos+1 < len(p.toks) && p.toks[p.pos+1].kind == tkPunct && p.toks[p.pos+1].text == "=" {
			slot = strings.ToLower(t.text)
			p.pos += 2
		} else if i < len(order) {
			slot = order[i]
		} else {
			return nil, newExecError(8144, 16, "Procedure or function sp_set_session_context has too many arguments specified.")
		}
		switch slot {
		case "key", "value", "read_only":
		default:
			return nil, newExecError(8145, 16, "@%s is not a parameter for procedure sp_set_session_context.", slot)
		}
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		args[slot] = e
		if !p.isPunct(",") {
			break
		}
		p.pos++
	}
	key, ok := args["key"]
	if !ok {
		return nil, newExecError(201, 16, "Procedure or function 'sp_set_session_context' expects parameter '@key', which was not supplied.")
	}
	st := setSessionContextStmt{key: key, value: expr{kind: exLiteral}, readOnly: expr{kind: exLiteral, val: int32(0)}}
	if v, ok := args["value"]; ok {
		st.value = v
	}
	if v, ok := args["read_only"]; ok {
		st.readOnly = v
	}
	return st, nil
}

// binaryLiteral is a binary constant 0x...: an odd number of digits reads
// as if a 0 led them, as in SQL Server.
func binaryLiteral(digits string) (expr, error) {
	if len(digits)%2 == 1 {
		digits = "0" + digits
	}
	b, err := hex.DecodeString(digits)
	if err != nil {
		return expr{}, errSyntaxNear("0x" + digits)
	}
	return expr{kind: exLiteral, val: b}, nil
}

// sessionContextRPC makes a call of sp_set_session_context sent as an RPC by
// name (go-mssqldb sends a query that is a bare procedure name so) into the
// statement its EXEC form parses to: named parameters by name, unnamed ones
// by position.
func sessionContextRPC(ps []rpcParam) (stmt, error) {
	toks := []sqlTok{}
	for i, p := range ps {
		if i > 0 {
			toks = append(toks, sqlTok{kind: tkPunct, text: ","})
		}
		if name := strings.TrimPrefix(p.name, "@"); name != "" {
			toks = append(toks, sqlTok{kind: tkVar, text: name}, sqlTok{kind: tkPunct, text: "="})
		}
		// The value goes in as a parameter of its own, so any type passes.
		toks = append(toks, sqlTok{kind: tkVar, text: rpcArgName(i)})
	}
	p := &parser{toks: append(toks, sqlTok{kind: tkEOF})}
	return p.sessionContextArgs()
}

// rpcArgName names an RPC call's i-th value among the parameters of its
// statement; '#' keeps it apart from any name a client can send.
func rpcArgName(i int) string { return "#arg" + strconv.Itoa(i) }
