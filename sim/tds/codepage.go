package tds

import (
	"encoding/binary"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

// collationUTF8 is the fUTF8 flag of a collation's info DWORD ([MS-TDS]
// 2.2.5.1.2): a _UTF8 collation, whose VARCHAR bytes are UTF-8.
const collationUTF8 = 0x04000000

// decodeVarchar reads a VARCHAR or CHAR value, bytes in the code page of
// its collation coll, as SQL Server does. A _UTF8 collation's bytes are
// UTF-8; any other is read as code page 1252, that of the server's own
// collation (SQL_Latin1_General_CP1_CI_AS), which clients such as tedious
// and FreeTDS encode VARCHAR parameters in. The simulator knows no other
// code page. Bytes that are not valid UTF-8 in a _UTF8 collation become
// U+FFFD.
func decodeVarchar(coll, data []byte) string {
	if len(coll) == len(collation) && binary.LittleEndian.Uint32(coll)&collationUTF8 != 0 {
		return strings.ToValidUTF8(string(data), "\uFFFD")
	}
	var b strings.Builder
	b.Grow(len(data))
	for _, c := range data {
		r := charmap.Windows1252.DecodeByte(c)
		if r == utf8.RuneError {
			// One of the five bytes code page 1252 leaves undefined:
			// Windows reads it as the C1 control of the same value.
			r = rune(c)
		}
		b.WriteRune(r)
	}
	return b.String()
}
