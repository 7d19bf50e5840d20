package tds

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// The statements the simulator understands.
type (
	stmt interface{}

	selectStmt struct {
		items []selectItem
		from  *tableName
		where []condition
	}
	selectItem struct {
		e     expr
		alias string
	}
	// BEGIN, SAVE and ROLLBACK TRANSACTION keep their name (savepoint.go);
	// COMMIT's is ignored, as SQL Server ignores it.
	beginStmt    struct{ name tranNameRef }
	commitStmt   struct{}
	rollbackStmt struct{ name tranNameRef }
	saveStmt     struct{ name tranNameRef }
	ifStmt       struct {
		cond []condition
		then stmt
	}
	createTableStmt struct {
		name tableName
		cols []columnDef
	}
	insertStmt struct {
		table tableName
		rows  [][]expr
	}
	waitforStmt struct{ delay expr }
	setStmt     struct {
		option string
		value  string
	}
	// useStmt is USE <database>, which clients given a database at connect
	// may send right after login.
	useStmt struct{ db string }
	// The session state of sessionstate.go: SET CONTEXT_INFO, EXEC
	// sp_set_session_context, EXECUTE AS, REVERT, DBCC USEROPTIONS.
	setContextInfoStmt    struct{ value expr }
	setSessionContextStmt struct{ key, value, readOnly expr }
	executeAsStmt         struct {
		login bool
		name  string
	}
	revertStmt      struct{}
	userOptionsStmt struct{}
)

// tableName is a table as written and the key it is stored under: the last
// part of a dotted name, folded to lower case like a case-insensitive
// collation would.
type tableName struct{ text, key string }

type exprKind int

const (
	exLiteral exprKind = iota
	exParam
	exSysVar
	exFunc
	exCountStar
)

type expr struct {
	kind exprKind
	val  any
	// name is the parameter, system variable or function name, upper case
	// for the latter two and lower case for parameters.
	name string
}

type condition struct {
	left, right expr
	op          string
}

// statementKeywords start a statement; they are never taken as a
// transaction name or a column alias.
var statementKeywords = map[string]bool{
	"SELECT": true, "BEGIN": true, "COMMIT": true, "ROLLBACK": true, "IF": true,
	"CREATE": true, "INSERT": true, "WAITFOR": true, "SET": true, "FROM": true, "USE": true,
	"WHERE": true, "AND": true, "ELSE": true, "EXEC": true, "EXECUTE": true, "REVERT": true, "DBCC": true,
	"SAVE": true,
}

// maxIfDepth bounds IF nesting, so a hostile batch cannot recurse deeply.
const maxIfDepth = 8

// maxExprDepth bounds the nesting of parentheses and function arguments in
// an expression, for the same reason: 100,000 nested parentheses (what the
// token limit lets through) took 32 MB of stack to parse, for one request of
// 200 KB. SQL Server refuses deep nesting too, with error 191.
const maxExprDepth = 32

type parser struct {
	toks      []sqlTok
	pos       int
	depth     int
	exprDepth int
}

// parseBatch compiles a batch. Like SQL Server, a syntax error anywhere means
// no statement of the batch runs.
func parseBatch(sql string) ([]stmt, error) {
	toks, err := lexSQL(sql)
	if err != nil {
		return nil, errSyntaxMsg(err.Error())
	}
	p := &parser{toks: toks}
	var out []stmt
	for {
		for p.isPunct(";") {
			p.pos++
		}
		if p.peek().kind == tkEOF {
			return out, nil
		}
		s, err := p.statement()
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
}

// peek returns the current token; past the end it keeps returning EOF.
func (p *parser) peek() sqlTok {
	if p.pos >= len(p.toks) {
		return p.toks[len(p.toks)-1]
	}
	return p.toks[p.pos]
}

// next consumes a token. It always advances, even over EOF, so that a caller
// can undo it with p.pos--.
func (p *parser) next() sqlTok {
	t := p.peek()
	p.pos++
	return t
}

func (p *parser) isPunct(s string) bool {
	t := p.peek()
	return t.kind == tkPunct && t.text == s
}

func (p *parser) isWord(w string) bool {
	t := p.peek()
	return t.kind == tkIdent && t.upper() == w
}

func (p *parser) acceptWord(w string) bool {
	if p.isWord(w) {
		p.pos++
		return true
	}
	return false
}

func (p *parser) fail() error {
	t := p.peek()
	switch t.kind {
	case tkEOF:
		return errSyntaxEnd()
	case tkVar: // its text lacks the '@' SQL Server quotes
		return errSyntaxNear("@" + t.text)
	case tkSysVar:
		return errSyntaxNear("@@" + t.text)
	}
	return errSyntaxNear(t.text)
}

func (p *parser) expectWord(w string) error {
	if !p.acceptWord(w) {
		return p.fail()
	}
	return nil
}

func (p *parser) expectPunct(s string) error {
	if !p.isPunct(s) {
		return p.fail()
	}
	p.pos++
	return nil
}

func (p *parser) statement() (stmt, error) {
	t := p.peek()
	if t.kind != tkIdent {
		return nil, p.fail()
	}
	switch t.upper() {
	case "SELECT":
		p.pos++
		return p.selectRest()
	case "BEGIN":
		p.pos++
		if !p.acceptWord("TRAN") && !p.acceptWord("TRANSACTION") {
			return nil, p.fail()
		}
		name, _, err := p.optionalTranName()
		if err != nil {
			return nil, err
		}
		return beginStmt{name: name}, nil
	case "SAVE":
		p.pos++
		if !p.acceptWord("TRAN") && !p.acceptWord("TRANSACTION") {
			return nil, p.fail()
		}
		name, ok, err := p.optionalTranName()
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, p.fail()
		}
		return saveStmt{name: name}, nil
	case "COMMIT", "ROLLBACK":
		p.pos++
		var name tranNameRef
		if p.acceptWord("TRAN") || p.acceptWord("TRANSACTION") {
			var err error
			if name, _, err = p.optionalTranName(); err != nil {
				return nil, err
			}
		} else {
			// ROLLBACK [ WORK ] and COMMIT [ WORK ] take no name (ROLLBACK
			// WORK, Microsoft Learn): a word after them starts the next
			// statement, so "ROLLBACK foo" is error 102 near 'foo'.
			p.acceptWord("WORK")
		}
		if t.upper() == "COMMIT" {
			return commitStmt{}, nil
		}
		return rollbackStmt{name: name}, nil
	case "IF":
		p.pos++
		return p.ifRest()
	case "CREATE":
		p.pos++
		return p.createRest()
	case "INSERT":
		p.pos++
		return p.insertRest()
	case "WAITFOR":
		p.pos++
		if err := p.expectWord("DELAY"); err != nil {
			return nil, err
		}
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		return waitforStmt{delay: e}, nil
	case "SET":
		p.pos++
		return p.setRest()
	case "EXEC", "EXECUTE":
		p.pos++
		return p.execRest()
	case "REVERT":
		p.pos++
		return revertStmt{}, nil
	case "DBCC":
		p.pos++
		if err := p.expectWord("USEROPTIONS"); err != nil {
			return nil, err
		}
		return userOptionsStmt{}, nil
	case "USE":
		p.pos++
		db := p.next()
		if db.kind != tkIdent || db.text == "" {
			p.pos--
			return nil, p.fail()
		}
		return useStmt{db: db.text}, nil
	}
	return nil, p.fail()
}

// optionalTranName reads a transaction or savepoint name, an identifier or
// a variable, if one follows. A written name longer than maxNameChars is
// a compile error (errNameTooLong); a variable's value is cut when it runs.
func (p *parser) optionalTranName() (tranNameRef, bool, error) {
	t := p.peek()
	switch {
	case t.kind == tkVar:
		p.pos++
		return tranNameRef{param: strings.ToLower(t.text)}, true, nil
	case t.kind == tkIdent && !statementKeywords[t.upper()]:
		if utf8.RuneCountInString(t.text) > maxNameChars {
			return tranNameRef{}, false, errNameTooLong(t.text)
		}
		p.pos++
		return tranNameRef{text: t.text}, true, nil
	}
	return tranNameRef{}, false, nil
}

func (p *parser) selectRest() (stmt, error) {
	if p.isPunct("*") {
		return p.selectStarRest()
	}
	var s selectStmt
	for {
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		item := selectItem{e: e}
		if p.acceptWord("AS") {
			t := p.next()
			if t.kind != tkIdent && t.kind != tkString {
				p.pos--
				return nil, p.fail()
			}
			item.alias = t.text
		} else if t := p.peek(); t.kind == tkIdent && !statementKeywords[t.upper()] {
			item.alias = p.next().text
		}
		s.items = append(s.items, item)
		if !p.isPunct(",") {
			break
		}
		p.pos++
	}
	if p.acceptWord("FROM") {
		name, err := p.tableName()
		if err != nil {
			return nil, err
		}
		s.from = &name
	}
	if p.acceptWord("WHERE") {
		conds, err := p.conditions()
		if err != nil {
			return nil, err
		}
		s.where = conds
	}
	return s, nil
}

func (p *parser) ifRest() (stmt, error) {
	if p.depth >= maxIfDepth {
		return nil, p.fail()
	}
	conds, err := p.conditions()
	if err != nil {
		return nil, err
	}
	p.depth++
	then, err := p.statement()
	p.depth--
	if err != nil {
		return nil, err
	}
	return ifStmt{cond: conds, then: then}, nil
}

func (p *parser) createRest() (stmt, error) {
	if err := p.expectWord("TABLE"); err != nil {
		return nil, err
	}
	name, err := p.tableName()
	if err != nil {
		return nil, err
	}
	if err := p.expectPunct("("); err != nil {
		return nil, err
	}
	// Column definitions are read leniently (coltypes.go).
	start := p.pos
	for depth := 1; depth > 0; {
		t := p.next()
		switch {
		case t.kind == tkEOF:
			return nil, errSyntaxEnd()
		case t.kind == tkPunct && t.text == "(":
			depth++
		case t.kind == tkPunct && t.text == ")":
			depth--
		}
	}
	cols, err := columnDefs(name.text, p.toks[start:p.pos-1])
	if err != nil {
		return nil, err
	}
	return createTableStmt{name: name, cols: cols}, nil
}

func (p *parser) insertRest() (stmt, error) {
	if p.isInsertBulk() {
		p.pos++
		return p.insertBulkRest()
	}
	p.acceptWord("INTO")
	name, err := p.tableName()
	if err != nil {
		return nil, err
	}
	s := insertStmt{table: name}
	cols := -1
	if p.isPunct("(") {
		p.pos++
		cols = 0
		for {
			if t := p.next(); t.kind != tkIdent {
				p.pos--
				return nil, p.fail()
			}
			cols++
			if p.isPunct(")") {
				p.pos++
				break
			}
			if err := p.expectPunct(","); err != nil {
				return nil, err
			}
		}
	}
	if p.acceptWord("DEFAULT") {
		if err := p.expectWord("VALUES"); err != nil {
			return nil, err
		}
		s.rows = [][]expr{nil}
		return s, nil
	}
	if err := p.expectWord("VALUES"); err != nil {
		return nil, err
	}
	for {
		if err := p.expectPunct("("); err != nil {
			return nil, err
		}
		var row []expr
		for {
			e, err := p.expr()
			if err != nil {
				return nil, err
			}
			row = append(row, e)
			if p.isPunct(")") {
				p.pos++
				break
			}
			if err := p.expectPunct(","); err != nil {
				return nil, err
			}
		}
		if cols >= 0 && len(row) != cols {
			return nil, errInsertColumns(len(row) > cols)
		}
		s.rows = append(s.rows, row)
		if !p.isPunct(",") {
			return s, nil
		}
		p.pos++
	}
}

func (p *parser) setRest() (stmt, error) {
	t := p.next()
	if t.kind != tkIdent {
		p.pos--
		return nil, p.fail()
	}
	opt := t.upper()
	if opt == "TRANSACTION" {
		// SET TRANSACTION ISOLATION LEVEL <words>: accepted, not enforced.
		if err := p.expectWord("ISOLATION"); err != nil {
			return nil, err
		}
		if err := p.expectWord("LEVEL"); err != nil {
			return nil, err
		}
		var words []string
		for p.peek().kind == tkIdent && !statementKeywords[p.peek().upper()] {
			words = append(words, p.next().upper())
		}
		if len(words) == 0 {
			return nil, p.fail()
		}
		return setStmt{option: opt, value: strings.Join(words, " ")}, nil
	}
	if opt == "CONTEXT_INFO" {
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		return setContextInfoStmt{value: e}, nil
	}
	if opt == "LANGUAGE" || opt == "DATEFORMAT" {
		// SET LANGUAGE us_english | 'us_english' | [us_english]; SET DATEFORMAT mdy | 'mdy'.
		v := p.next()
		if (v.kind != tkIdent && v.kind != tkString) || v.text == "" {
			p.pos--
			return nil, p.fail()
		}
		return setStmt{option: opt, value: v.text}, nil
	}
	v := p.next()
	switch {
	case v.kind == tkIdent && (v.upper() == "ON" || v.upper() == "OFF"):
		return setStmt{option: opt, value: v.upper()}, nil
	case v.kind == tkNumber:
		return setStmt{option: opt, value: v.text}, nil
	case v.kind == tkPunct && v.text == "-" && p.peek().kind == tkNumber:
		return setStmt{option: opt, value: "-" + p.next().text}, nil
	}
	p.pos--
	return nil, p.fail()
}

func (p *parser) tableName() (tableName, error) {
	var parts []string
	for {
		t := p.next()
		if t.kind != tkIdent {
			p.pos--
			return tableName{}, p.fail()
		}
		parts = append(parts, t.text)
		if !p.isPunct(".") {
			break
		}
		p.pos++
	}
	if len(parts) > 3 {
		return tableName{}, p.fail()
	}
	text := strings.Join(parts, ".")
	return tableName{text: text, key: strings.ToLower(parts[len(parts)-1])}, nil
}

func (p *parser) conditions() ([]condition, error) {
	var out []condition
	for {
		l, err := p.expr()
		if err != nil {
			return nil, err
		}
		op := p.next()
		switch {
		case op.kind == tkPunct && (op.text == "=" || op.text == "<>" || op.text == "!=" ||
			op.text == "<" || op.text == ">" || op.text == "<=" || op.text == ">="):
		default:
			p.pos--
			return nil, p.fail()
		}
		r, err := p.expr()
		if err != nil {
			return nil, err
		}
		out = append(out, condition{left: l, op: op.text, right: r})
		if !p.acceptWord("AND") {
			return out, nil
		}
	}
}

func (p *parser) expr() (expr, error) {
	if p.exprDepth >= maxExprDepth {
		return expr{}, errNestedTooDeeply()
	}
	p.exprDepth++
	defer func() { p.exprDepth-- }()
	t := p.next()
	switch t.kind {
	case tkNumber:
		return numberLiteral(t.text, false)
	case tkString:
		return expr{kind: exLiteral, val: t.text}, nil
	case tkBinary:
		return binaryLiteral(t.text)
	case tkVar:
		return expr{kind: exParam, name: strings.ToLower(t.text)}, nil
	case tkSysVar:
		switch u := t.upper(); u {
		case "SPID", "TRANCOUNT", "VERSION", "SERVERNAME", "LOCK_TIMEOUT":
			return expr{kind: exSysVar, name: u}, nil
		}
	case tkPunct:
		switch t.text {
		case "-":
			if n := p.peek(); n.kind == tkNumber {
				p.pos++
				return numberLiteral(n.text, true)
			}
		case "(":
			e, err := p.expr()
			if err != nil {
				return expr{}, err
			}
			return e, p.expectPunct(")")
		}
	case tkIdent:
		u := t.upper()
		if u == "NULL" {
			return expr{kind: exLiteral}, nil
		}
		if !p.isPunct("(") {
			break
		}
		p.pos++
		switch u {
		case "COUNT":
			if err := p.expectPunct("*"); err != nil {
				return expr{}, err
			}
			return expr{kind: exCountStar, name: u}, p.expectPunct(")")
		case "SUSER_SNAME", "SUSER_NAME", "DB_NAME", "USER_NAME", "CONTEXT_INFO":
			return expr{kind: exFunc, name: u}, p.expectPunct(")")
		case "SESSION_CONTEXT":
			key, err := p.expr()
			if err != nil {
				return expr{}, err
			}
			return expr{kind: exFunc, name: u, val: key}, p.expectPunct(")")
		}
		p.pos--
	}
	p.pos--
	return expr{}, p.fail()
}

// numberLiteral types a numeric literal as SQL Server does for the common
// cases: int when it fits, bigint beyond, float with a decimal point.
func numberLiteral(text string, neg bool) (expr, error) {
	if neg {
		text = "-" + text
	}
	if strings.Contains(text, ".") {
		f, err := strconv.ParseFloat(text, 64)
		if err != nil {
			return expr{}, errSyntaxNear(text)
		}
		return expr{kind: exLiteral, val: f}, nil
	}
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		return expr{}, errArithmeticOverflow()
	}
	if n >= -1<<31 && n < 1<<31 {
		return expr{kind: exLiteral, val: int32(n)}, nil
	}
	return expr{kind: exLiteral, val: n}, nil
}
