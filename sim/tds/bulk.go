package tds

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
)

// Bulk load, as go-mssqldb's bulk copy (mssql.CopyIn, Conn.CreateBulk) and
// SQL Server's own bcp clients do it ([MS-TDS] 2.2.6.1, 3.2.5.1):
//
//  1. SET FMTONLY ON, then SELECT * FROM <table> SET FMTONLY OFF: the
//     table's column metadata, no rows (execSelectStar).
//  2. INSERT BULK <table> (<col> <type>, ...) [WITH (...)] in a SQL batch:
//     the server checks the columns and types and awaits the rows
//     (execInsertBulk); the WITH options are accepted and ignored.
//  3. A BULK_LOAD message (packet type 7), the very next message: a
//     COLMETADATA token, one ROW token per row, and a DONE (doBulkLoad).
//     The server answers with a DONE that counts the rows.
//
// The rows of one BULK_LOAD message all go in or none do. Inside a
// transaction they are the transaction's, like an INSERT's: a rollback
// undoes them. The column types that can be loaded are those coltypes.go
// models: tinyint, smallint, int, bigint, bit, real, float, nvarchar(n|max)
// and varbinary(n|max). Values are checked against the table (NULL into a
// NOT NULL column, a string or binary value longer than its column) and then
// counted; the simulator keeps no values. A BULK_LOAD message longer than
// Options.MaxMessageSize is refused whole, like any request, with error
// 50000.
//
// A BULK_LOAD message that does not parse, or that no INSERT BULK asked for,
// is a protocol error (4002; the connection is closed). One that parses but
// does not fit the INSERT BULK before it (another column count or type), its
// own COLMETADATA (a value longer than it says) or the table (a value too
// long, a NULL in a NOT NULL column) gets the error SQL Server sends, and
// the connection stays open.

// insertBulkStmt is INSERT BULK: the table and the columns as declared.
type insertBulkStmt struct {
	table tableName
	cols  []bulkColumn
}

type bulkColumn struct {
	name string
	typ  sqlType
}

// selectStarStmt is SELECT * FROM <table> [WHERE ...].
type selectStarStmt struct {
	table tableName
	where []condition
}

// bulkTarget is an INSERT BULK the server accepted: the BULK_LOAD message
// that follows it must match its columns.
type bulkTarget struct {
	table tableName
	cols  []bulkTargetCol
}

type bulkTargetCol struct {
	declared sqlType
	col      columnDef // the table's column
}

// isInsertBulk tells INSERT BULK <table> from an INSERT into a table named
// bulk (INSERT bulk VALUES ..., INSERT bulk (a) VALUES ...).
func (p *parser) isInsertBulk() bool {
	if !p.isWord("BULK") || p.pos+1 >= len(p.toks) {
		return false
	}
	n := p.toks[p.pos+1]
	u := n.upper()
	return n.kind == tkIdent && !statementKeywords[u] && u != "VALUES" && u != "DEFAULT"
}

// insertBulkRest parses what follows INSERT BULK.
func (p *parser) insertBulkRest() (stmt, error) {
	name, err := p.tableName()
	if err != nil {
		return nil, err
	}
	if err := p.expectPunct("("); err != nil {
		return nil, err
	}
	s := insertBulkStmt{table: name}
	for {
		col := p.next()
		typ := p.next()
		if col.kind != tkIdent || typ.kind != tkIdent {
			p.pos--
			if col.kind != tkIdent {
				p.pos--
			}
			return nil, p.fail()
		}
		args, err := p.typeArgs()
		if err != nil {
			return nil, err
		}
		if p.acceptWord("COLLATE") {
			if t := p.next(); t.kind != tkIdent {
				p.pos--
				return nil, p.fail()
			}
		}
		if len(s.cols) == maxColumns {
			return nil, newExecError(1702, 16, "INSERT BULK failed because column '%s' in table '%s' exceeds the maximum of %d columns.", col.text, name.text, maxColumns)
		}
		s.cols = append(s.cols, bulkColumn{name: col.text, typ: sqlTypeOf(typ.text, args)})
		if p.isPunct(")") {
			p.pos++
			break
		}
		if err := p.expectPunct(","); err != nil {
			return nil, err
		}
	}
	if p.acceptWord("WITH") {
		// The hints (KEEP_NULLS, TABLOCK, ORDER(...), ROWS_PER_BATCH = n,
		// ...) are accepted and change nothing here.
		if err := p.expectPunct("("); err != nil {
			return nil, err
		}
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
	}
	return s, nil
}

// typeArgs reads a type's optional (n), (MAX) or (p, s).
func (p *parser) typeArgs() ([]string, error) {
	if !p.isPunct("(") {
		return nil, nil
	}
	p.pos++
	var args []string
	for {
		t := p.next()
		switch {
		case t.kind == tkNumber:
			args = append(args, t.text)
		case t.kind == tkIdent && t.upper() == "MAX":
			args = append(args, "MAX")
		default:
			p.pos--
			return nil, p.fail()
		}
		if p.isPunct(")") {
			p.pos++
			return args, nil
		}
		if err := p.expectPunct(","); err != nil {
			return nil, err
		}
	}
}

// selectStarRest parses SELECT * FROM <table> [WHERE ...], the star not yet
// consumed.
func (p *parser) selectStarRest() (stmt, error) {
	p.pos++
	if err := p.expectWord("FROM"); err != nil {
		return nil, err
	}
	name, err := p.tableName()
	if err != nil {
		return nil, err
	}
	s := selectStarStmt{table: name}
	if p.acceptWord("WHERE") {
		if s.where, err = p.conditions(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *session) fmtOnly() bool { return s.state.on["FMTONLY"] }

// execSelectStar answers SELECT * with the table's column metadata. The
// simulator keeps no values, so it sends rows only when there are none to
// send: under SET FMTONLY ON, when the WHERE clause is false (WHERE 1 = 0,
// the other usual metadata query) or when the table is empty; otherwise it
// refuses.
func (s *session) execSelectStar(st selectStarStmt, params map[string]any, tb *tokenBuf) (stmtResult, error) {
	res := stmtResult{cmd: cmdSelect, hasCount: true}
	meta, err := s.starMetadata(st)
	if err != nil {
		return res, err
	}
	key := st.table.key
	match, err := s.evalConds(st.where, params)
	if err != nil {
		return res, err
	}
	n, _ := s.tables(key).committed(key)
	if match && !s.fmtOnly() && n+s.pending[key] > 0 {
		return res, errNotSupported("SELECT * of a table's rows (the simulated server keeps no values)")
	}
	tb.b = append(tb.b, meta...)
	return res, nil
}

// starMetadata is the COLMETADATA token of SELECT * FROM the statement's
// table: its columns as CREATE TABLE declared them.
func (s *session) starMetadata(st selectStarStmt) ([]byte, error) {
	key := st.table.key
	cols, ok := s.tables(key).columns(key)
	if !ok {
		return nil, errInvalidObject(st.table.text)
	}
	if len(cols) == 0 {
		return nil, errNotSupported("SELECT * on a table whose column definitions the simulator could not read")
	}
	meta := []byte{tokColMetadata}
	meta = binary.LittleEndian.AppendUint16(meta, uint16(len(cols)))
	for _, c := range cols {
		info, ok := c.typ.typeInfo()
		if !ok {
			return nil, errNotSupported(fmt.Sprintf("SELECT * on column '%s' of type %s", c.name, c.typ.name))
		}
		flags := uint16(0x0001) // nullable
		if c.notNull {
			flags = 0
		}
		meta = append(meta, 0, 0, 0, 0) // UserType
		meta = binary.LittleEndian.AppendUint16(meta, flags)
		meta = append(meta, info...)
		meta = appendBVarChar(meta, c.name)
	}
	return meta, nil
}

// execInsertBulk checks INSERT BULK against the table and makes the session
// await its BULK_LOAD message.
func (s *session) execInsertBulk(st insertBulkStmt) (stmtResult, error) {
	res := stmtResult{cmd: cmdInsert}
	key := st.table.key
	cols, ok := s.tables(key).columns(key)
	if !ok {
		return res, errInvalidObject(st.table.text)
	}
	t := &bulkTarget{table: st.table}
	seen := map[string]bool{}
	for _, d := range st.cols {
		k := strings.ToLower(d.name)
		if seen[k] {
			return res, newExecError(264, 16, "The column name '%s' is specified more than once in the SET clause or column list of an INSERT. A column cannot be assigned more than one value in the same clause. Modify the clause to make sure that a column is updated only once.", d.name)
		}
		seen[k] = true
		var col *columnDef
		for i := range cols {
			if strings.ToLower(cols[i].name) == k {
				col = &cols[i]
				break
			}
		}
		if col == nil {
			return res, newExecError(207, 16, "Invalid column name '%s'.", d.name)
		}
		if d.typ.kind == kindOther {
			return res, errNotSupported("INSERT BULK of type " + d.typ.String())
		}
		if !bulkConvertible(d.typ, col.typ) {
			return res, errImplicitConversion(d.typ, col.typ)
		}
		t.cols = append(t.cols, bulkTargetCol{declared: d.typ, col: *col})
	}
	if s.fmtOnly() {
		// Described, not run.
		return res, nil
	}
	s.bulk = t
	return res, nil
}

// bulkConvertible reports whether values declared as from fit a column of
// type to: the same family, and for numbers the same width (the simulator
// converts nothing).
func bulkConvertible(from, to sqlType) bool {
	if from.kind != to.kind || from.kind == kindOther {
		return false
	}
	if from.kind == kindInt || from.kind == kindFloat {
		return from.size == to.size
	}
	return true
}

func errImplicitConversion(from, to sqlType) *execError {
	return newExecError(257, 16, "Implicit conversion from data type %s to %s is not allowed. Use the CONVERT function to run this query.", from.name, to.name)
}

// doBulkLoad runs a BULK_LOAD message against the INSERT BULK before it.
func (s *session) doBulkLoad(req *request, t *bulkTarget, tb *tokenBuf) error {
	if t == nil {
		return malformed(errors.New("tds: BULK_LOAD message without an INSERT BULK before it"))
	}
	n, ee, err := runBulkLoad(t, req.msg.data)
	if err != nil {
		return malformed(err)
	}
	key := t.table.key
	if ee == nil && !s.tables(key).exists(key) {
		// A reset on this very message dropped the temporary table.
		ee = errInvalidObject(t.table.text)
	}
	if ee != nil {
		tb.message(tokError, ee.e, s.srv.opts.ServerName)
		tb.done(tokDone, doneError, cmdInsert, 0)
		return nil
	}
	if n > 0 {
		if s.trancount > 0 {
			s.pending[key] += n
		} else {
			s.applyRows(map[string]int64{key: n})
		}
	}
	tb.done(tokDone, doneCount, cmdInsert, uint64(n))
	return nil
}

// bulkLoad is a parsed BULK_LOAD message: its columns and how many rows it
// carries. The rows themselves are not kept (see parseBulkLoad).
type bulkLoad struct {
	cols []bulkWireCol
	rows int64
}

// bulkRowFunc is given each row of a BULK_LOAD as it is read: its index
// from 0 and its values, nil (NULL), int64, bool, float64, or []byte for
// nvarchar (UTF-16LE, still to check) and varbinary. row, and the []byte
// values, are valid only during the call.
type bulkRowFunc func(cols []bulkWireCol, r int64, row []any)

// runBulkLoad reads a BULK_LOAD message and checks it against the INSERT
// BULK t it follows, row by row as it reads, and returns how many rows it
// loads, or the error that refuses it whole (ee), or, for a malformed
// message, err. A malformed message is refused as such even after a row
// that does not fit, as the whole message is read first on SQL Server.
func runBulkLoad(t *bulkTarget, b []byte) (n int64, ee *execError, err error) {
	colsChecked := false
	l, err := parseBulkLoad(b, func(cols []bulkWireCol, r int64, row []any) {
		if !colsChecked {
			ee, colsChecked = checkBulkColumns(t, cols), true
		}
		if ee == nil {
			ee = checkBulkRow(t, cols, r, row)
		}
	})
	if err != nil {
		return 0, nil, err
	}
	if !colsChecked {
		ee = checkBulkColumns(t, l.cols)
	}
	if ee != nil {
		return 0, ee, nil
	}
	return l.rows, nil, nil
}

// bulkWireCol is a column as the client's COLMETADATA describes it.
type bulkWireCol struct {
	name string
	// typ is the TYPE_INFO type id; size is the fixed or maximum length
	// from it (0xFFFF: a (MAX) type, whose values are PLP).
	typ  byte
	size int
}

// parseBulkLoad reads a BULK_LOAD message: COLMETADATA, ROWs, then DONE and
// nothing after it, or the message's end right after a ROW (or after
// COLMETADATA). [MS-TDS] 2.2.6.1 asks for the DONE, but FreeTDS (freebcp,
// db-lib's bcp) never sends one and SQL Server loads its rows all the same.
// Only the types the simulator models are accepted; another type is a parse
// error, as the rows that follow could not be read. Each row goes to each as
// it is read, in one slice used again for the next: keeping the rows would
// make a message of two-byte rows cost some 60 times its size.
func parseBulkLoad(b []byte, each bulkRowFunc) (bulkLoad, error) {
	var l bulkLoad
	c := &cursor{b: b}
	if tok := c.u8(); tok != tokColMetadata {
		if c.err != nil {
			return l, c.err
		}
		return l, fmt.Errorf("tds: BULK_LOAD message starts with token 0x%02X, not COLMETADATA", tok)
	}
	n := int(c.u16())
	if c.err != nil {
		return l, c.err
	}
	if n == 0 || n == 0xFFFF || n > maxColumns {
		return l, fmt.Errorf("tds: BULK_LOAD COLMETADATA has %d columns", n)
	}
	for range n {
		c.u32() // UserType
		c.u16() // Flags
		col, err := readBulkTypeInfo(c)
		if err != nil {
			return l, err
		}
		col.name = c.bVarChar()
		if c.err != nil {
			return l, c.err
		}
		l.cols = append(l.cols, col)
	}
	var row []any
	for {
		if c.remaining() == 0 {
			return l, nil // FreeTDS's end: no DONE
		}
		switch tok := c.u8(); tok {
		case tokRow:
			if row == nil {
				row = make([]any, len(l.cols))
			}
			for i, col := range l.cols {
				v, err := readBulkValue(c, col)
				if err != nil {
					return l, fmt.Errorf("tds: BULK_LOAD row %d, column %d: %w", l.rows+1, i+1, err)
				}
				row[i] = v
			}
			each(l.cols, l.rows, row)
			l.rows++
		case tokDone:
			c.take(2 + 2 + 8) // status, curcmd, row count: the client's are meaningless
			if c.err != nil {
				return l, c.err
			}
			if c.remaining() != 0 {
				return l, fmt.Errorf("tds: %d bytes after the DONE of a BULK_LOAD message", c.remaining())
			}
			return l, nil
		default:
			return l, fmt.Errorf("tds: unexpected token 0x%02X in a BULK_LOAD message", tok)
		}
	}
}

// readBulkTypeInfo reads one column's TYPE_INFO in a BULK_LOAD COLMETADATA.
func readBulkTypeInfo(c *cursor) (bulkWireCol, error) {
	col := bulkWireCol{typ: c.u8()}
	switch col.typ {
	case typInt1, typBit:
		col.size = 1
	case typInt2:
		col.size = 2
	case typInt4, typFlt4:
		col.size = 4
	case typInt8, typFlt8:
		col.size = 8
	case typIntN, typBitN, typFltN:
		col.size = int(c.u8())
		ok := false
		switch col.typ {
		case typIntN:
			ok = col.size == 1 || col.size == 2 || col.size == 4 || col.size == 8
		case typBitN:
			ok = col.size == 1
		case typFltN:
			ok = col.size == 4 || col.size == 8
		}
		if c.err == nil && !ok {
			return col, fmt.Errorf("tds: type 0x%02X of size %d", col.typ, col.size)
		}
	case typNVarChar, typBigVarBin:
		col.size = int(c.u16())
		if col.typ == typNVarChar {
			c.take(len(collation))
		}
		if c.err == nil && (col.size == 0 || col.typ == typNVarChar && col.size != 0xFFFF && col.size%2 != 0) {
			return col, fmt.Errorf("tds: type 0x%02X of size %d", col.typ, col.size)
		}
	default:
		if c.err == nil {
			return col, fmt.Errorf("tds: BULK_LOAD column type 0x%02X is not one the simulator loads", col.typ)
		}
	}
	return col, c.err
}

// readBulkValue reads one value of col in a ROW token.
func readBulkValue(c *cursor, col bulkWireCol) (any, error) {
	switch col.typ {
	case typInt1, typBit, typInt2, typInt4, typInt8, typFlt4, typFlt8:
		// The fixed-length types: no length, never NULL.
		data := c.take(col.size)
		if c.err != nil {
			return nil, c.err
		}
		return bulkNumber(col.typ, data), nil
	case typIntN, typBitN, typFltN:
		n := int(c.u8())
		data := c.take(n)
		if c.err != nil {
			return nil, c.err
		}
		if n == 0 {
			return nil, nil
		}
		if n != col.size && !(col.typ == typIntN && n <= col.size && (n == 1 || n == 2 || n == 4)) {
			return nil, fmt.Errorf("value of %d bytes in a column of %d", n, col.size)
		}
		return bulkNumber(col.typ, data), nil
	}
	// nvarchar, varbinary
	if col.size == 0xFFFF {
		data, null := readPLP(c)
		if c.err != nil {
			return nil, c.err
		}
		if null {
			return nil, nil
		}
		return data, nil
	}
	n := int(c.u16())
	if n == 0xFFFF {
		return nil, c.err
	}
	// A value longer than its COLMETADATA says is still read: SQL Server
	// answers it with error 4815 (checkBulkRow), which go-mssqldb's bulk
	// copy meets when a string is longer than its column.
	data := c.take(n)
	return data, c.err
}

// bulkNumber decodes a number of a fixed or N type; len(data) is valid for it.
func bulkNumber(typ byte, data []byte) any {
	switch typ {
	case typBit, typBitN:
		return data[0] != 0
	case typFlt4, typFlt8, typFltN:
		if len(data) == 4 {
			return float64(math.Float32frombits(binary.LittleEndian.Uint32(data)))
		}
		return math.Float64frombits(binary.LittleEndian.Uint64(data))
	}
	switch len(data) {
	case 1:
		return int64(data[0])
	case 2:
		return int64(int16(binary.LittleEndian.Uint16(data)))
	case 4:
		return int64(int32(binary.LittleEndian.Uint32(data)))
	}
	return int64(binary.LittleEndian.Uint64(data))
}

// wireKind is the column family of a BULK_LOAD column type.
func (c bulkWireCol) kind() colKind {
	switch c.typ {
	case typInt1, typInt2, typInt4, typInt8, typIntN:
		return kindInt
	case typBit, typBitN:
		return kindBit
	case typFlt4, typFlt8, typFltN:
		return kindFloat
	case typNVarChar:
		return kindNVarChar
	}
	return kindVarBinary
}

// checkBulkColumns checks a BULK_LOAD's columns against the INSERT BULK it
// follows.
func checkBulkColumns(t *bulkTarget, cols []bulkWireCol) *execError {
	for i := range max(len(cols), len(t.cols)) {
		if i >= len(cols) || i >= len(t.cols) {
			return errBulkColumnType(i + 1)
		}
		w, d := cols[i], t.cols[i].declared
		if w.kind() != d.kind || (d.kind == kindInt || d.kind == kindFloat) && w.size != d.size {
			return errBulkColumnType(i + 1)
		}
	}
	return nil
}

// checkBulkRow checks row r (from 0) of a BULK_LOAD whose columns passed
// checkBulkColumns against the table's columns.
func checkBulkRow(t *bulkTarget, cols []bulkWireCol, r int64, row []any) *execError {
	for i, v := range row {
		col := t.cols[i].col
		if v == nil {
			if col.notNull {
				return newExecError(515, 16, "Cannot insert the value NULL into column '%s', table '%s'; column does not allow nulls. INSERT fails.", col.name, t.table.text)
			}
			continue
		}
		b, ok := v.([]byte)
		if !ok {
			continue
		}
		switch w := cols[i]; {
		case col.typ.kind == kindNVarChar && len(b)%2 != 0,
			w.size != 0xFFFF && len(b) > w.size:
			return errBulkColumnLength(i + 1)
		case col.typ.kind == kindNVarChar && col.typ.size > 0 && len(b) > 2*col.typ.size,
			col.typ.kind == kindVarBinary && col.typ.size > 0 && len(b) > col.typ.size:
			return newExecError(4815, 16, "Received an invalid column length from the bcp client for colid %d (row %d: %d bytes for %s).", i+1, r+1, len(b), col.typ)
		}
	}
	return nil
}

// errBulkColumnType is SQL Server's error for a BULK_LOAD column whose type
// (or presence) does not match what INSERT BULK declared.
func errBulkColumnType(colid int) *execError {
	return newExecError(4816, 16, "Invalid column type from bcp client for colid %d.", colid)
}

func errBulkColumnLength(colid int) *execError {
	return newExecError(4815, 16, "Received an invalid column length from the bcp client for colid %d.", colid)
}
