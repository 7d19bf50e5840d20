package tds

import (
	"encoding/hex"
	"strings"
)

// Parsing of the statements that set the session state of sessionstate.go.

// execRest parses what follows EXEC or EXECUTE: AS USER | LOGIN = 'name', or
// a call of [sys.]sp_set_session_context. No other procedure exists here, so
// a call of one fails as on a server that does not have it.
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
	if name.key != "sp_set_session_context" {
		return nil, errProcNotFound(name.text)
	}
	return p.sessionContextArgs()
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
