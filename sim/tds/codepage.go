package tds

import (
	"encoding/binary"
	"strings"
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
		switch {
		case c < 0x80:
			b.WriteByte(c)
		case c < 0xA0:
			b.WriteRune(cp1252[c-0x80])
		default:
			b.WriteRune(rune(c)) // 0xA0-0xFF: as in Latin-1
		}
	}
	return b.String()
}

// cp1252 maps the bytes 0x80-0x9F of code page 1252; the five it leaves
// undefined become the C1 controls of the same value, as Windows reads them.
var cp1252 = [32]rune{
	'€', 0x81, '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', 0x8D, 'Ž', 0x8F,
	0x90, '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', 0x9D, 'ž', 'Ÿ',
}
