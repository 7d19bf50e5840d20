package tds

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
)

// Table columns. CREATE TABLE keeps each column's name, type and
// nullability, for what needs them: SELECT * under SET FMTONLY ON (the
// column metadata go-mssqldb's bulk copy asks for) and INSERT BULK. Rows
// themselves are still only counted (store.go). A column whose type the
// simulator does not model is kept as kindOther: CREATE TABLE accepts it, as
// before, but SELECT * and INSERT BULK on its table are refused.

// colKind is the family of a column type the simulator models.
type colKind uint8

const (
	kindOther colKind = iota
	kindInt
	kindBit
	kindFloat
	kindNVarChar
	kindVarBinary
)

// sqlType is a declared column type.
type sqlType struct {
	kind colKind
	// name is the type's base name in lower case, as written (int, nvarchar, ...).
	name string
	// size is the width in bytes of an integer (1, 2, 4, 8) or float (4,
	// 8), the maximum length of an nvarchar (characters) or varbinary
	// (bytes), 0 for (MAX); unused for bit and kindOther.
	size int
}

// String writes the type as T-SQL declares it.
func (t sqlType) String() string {
	switch t.kind {
	case kindNVarChar, kindVarBinary:
		if t.size == 0 {
			return t.name + "(max)"
		}
		return fmt.Sprintf("%s(%d)", t.name, t.size)
	}
	return t.name
}

// columnDef is a table column as CREATE TABLE declared it.
type columnDef struct {
	name    string
	typ     sqlType
	notNull bool
}

// maxColumns is SQL Server's limit on the columns of a (non-wide) table.
const maxColumns = 1024

// Types SQL Server caps: an nvarchar of at most 4,000 characters, a
// varbinary of at most 8,000 bytes, beyond which (MAX) is needed.
const (
	maxNVarCharLen  = 4000
	maxVarBinaryLen = 8000
)

// sqlTypeOf maps a type name and its arguments (nil when none were written;
// "MAX" in upper case for (MAX)) to a sqlType.
func sqlTypeOf(name string, args []string) sqlType {
	name = strings.ToLower(name)
	t := sqlType{name: name}
	ints := map[string]int{"tinyint": 1, "smallint": 2, "int": 4, "bigint": 8}
	if n, ok := ints[name]; ok && len(args) == 0 {
		t.kind, t.size = kindInt, n
		return t
	}
	switch name {
	case "bit":
		if len(args) == 0 {
			t.kind = kindBit
		}
	case "real":
		if len(args) == 0 {
			t.kind, t.size = kindFloat, 4
		}
	case "float":
		// float(n): 1-24 is real, 25-53 float.
		switch {
		case len(args) == 0:
			t.kind, t.size = kindFloat, 8
		case len(args) == 1:
			if n, err := strconv.Atoi(args[0]); err == nil && n >= 1 && n <= 53 {
				t.kind, t.size = kindFloat, 8
				if n <= 24 {
					t.kind, t.size = kindFloat, 4
				}
				if t.size == 4 {
					t.name = "real"
				}
			}
		}
	case "nvarchar", "varbinary":
		limit, kind := maxNVarCharLen, kindNVarChar
		if name == "varbinary" {
			limit, kind = maxVarBinaryLen, kindVarBinary
		}
		switch {
		case len(args) == 0:
			// SQL Server's default length in a column definition.
			t.kind, t.size = kind, 1
		case len(args) == 1 && args[0] == "MAX":
			t.kind, t.size = kind, 0
		case len(args) == 1:
			if n, err := strconv.Atoi(args[0]); err == nil && n >= 1 && n <= limit {
				t.kind, t.size = kind, n
			}
		}
	}
	return t
}

// typeInfo is the column's TYPE_INFO in a COLMETADATA token, the nullable
// wire form of its type, as SQL Server describes such a column.
func (t sqlType) typeInfo() ([]byte, bool) {
	switch t.kind {
	case kindInt:
		return []byte{typIntN, byte(t.size)}, true
	case kindBit:
		return []byte{typBitN, 1}, true
	case kindFloat:
		return []byte{typFltN, byte(t.size)}, true
	case kindNVarChar:
		n := uint16(0xFFFF)
		if t.size > 0 {
			n = uint16(2 * t.size)
		}
		b := binary.LittleEndian.AppendUint16([]byte{typNVarChar}, n)
		return append(b, collation[:]...), true
	case kindVarBinary:
		n := uint16(0xFFFF)
		if t.size > 0 {
			n = uint16(t.size)
		}
		return binary.LittleEndian.AppendUint16([]byte{typBigVarBin}, n), true
	}
	return nil, false
}

// tableConstraintWords start a table constraint, not a column, in CREATE
// TABLE's list.
var tableConstraintWords = map[string]bool{
	"CONSTRAINT": true, "PRIMARY": true, "UNIQUE": true, "CHECK": true, "FOREIGN": true, "INDEX": true, "PERIOD": true,
}

// columnDefs reads the column definitions of CREATE TABLE from its list's
// tokens (between the parentheses). It is lenient, as the simulator always
// was with CREATE TABLE: a definition it cannot read names no column, and a
// type it does not model is kindOther. It refuses only what SQL Server
// would: a column named twice (error 2705) and more than 1,024 columns
// (error 1702).
func columnDefs(table string, toks []sqlTok) ([]columnDef, error) {
	var out []columnDef
	seen := map[string]bool{}
	for len(toks) > 0 {
		// One definition: up to the next comma outside parentheses.
		end, depth := len(toks), 0
		for i, t := range toks {
			if t.kind != tkPunct {
				continue
			}
			switch t.text {
			case "(":
				depth++
			case ")":
				depth--
			case ",":
				if depth == 0 {
					end = i
				}
			}
			if end != len(toks) {
				break
			}
		}
		def := toks[:end]
		if end < len(toks) {
			end++
		}
		toks = toks[end:]
		c, ok := columnDefOf(def)
		if !ok {
			continue
		}
		key := strings.ToLower(c.name)
		if seen[key] {
			return nil, newExecError(2705, 16, "Column names in each table must be unique. Column name '%s' in table '%s' is specified more than once.", c.name, table)
		}
		if len(out) == maxColumns {
			return nil, newExecError(1702, 16, "CREATE TABLE failed because column '%s' in table '%s' exceeds the maximum of %d columns.", c.name, table, maxColumns)
		}
		seen[key] = true
		out = append(out, c)
	}
	return out, nil
}

// columnDefOf reads one definition: name type[(args)] and the constraints
// after it, of which only NOT NULL matters here.
func columnDefOf(def []sqlTok) (columnDef, bool) {
	if len(def) < 2 || def[0].kind != tkIdent || def[1].kind != tkIdent || tableConstraintWords[def[0].upper()] {
		return columnDef{}, false
	}
	c := columnDef{name: def[0].text}
	rest := def[2:]
	var args []string
	if len(rest) > 0 && rest[0].kind == tkPunct && rest[0].text == "(" {
		i := 1
		for ; i < len(rest); i++ {
			t := rest[i]
			if t.kind == tkPunct && t.text == ")" {
				break
			}
			switch {
			case t.kind == tkNumber:
				args = append(args, t.text)
			case t.kind == tkIdent && t.upper() == "MAX":
				args = append(args, "MAX")
			case t.kind == tkPunct && t.text == ",":
			default:
				args = append(args, "?")
			}
		}
		if i == len(rest) {
			return columnDef{}, false
		}
		rest = rest[i+1:]
		if args == nil {
			args = []string{"?"}
		}
	}
	c.typ = sqlTypeOf(def[1].text, args)
	if def[1].upper() == "AS" {
		// A computed column: no type of its own here.
		c.typ = sqlType{name: "computed"}
	}
	for i, t := range rest {
		switch {
		case t.kind != tkIdent:
		case t.upper() == "PRIMARY":
			// A PRIMARY KEY column is NOT NULL.
			c.notNull = true
		case t.upper() == "NOT" && i+1 < len(rest) && rest[i+1].kind == tkIdent && rest[i+1].upper() == "NULL":
			c.notNull = true
		}
	}
	return c, true
}
