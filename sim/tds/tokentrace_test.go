package tds

import (
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// traceTokens renders a reply as one line per token, so that a test can
// pin the whole sequence a client reads: "ERROR 3903", "DONE more|error
// cmd=0xD6 rows=0", "COLMETADATA 1", "ROW 1", "RETURNSTATUS 0",
// "ENVCHANGE 10", "RETURNVALUE @handle 1". Result columns and return
// values must be integers (INTN), which is all the tests that use it select.
func traceTokens(t *testing.T, b []byte) []string {
	t.Helper()
	var out []string
	var cols []byte // the INTN size of each column
	for len(b) > 0 {
		tok := b[0]
		b = b[1:]
		switch tok {
		case tokDone, tokDoneProc, tokDoneInProc:
			require.GreaterOrEqual(t, len(b), 12)
			name := map[byte]string{tokDone: "DONE", tokDoneProc: "DONEPROC", tokDoneInProc: "DONEINPROC"}[tok]
			status := binary.LittleEndian.Uint16(b)
			out = append(out, fmt.Sprintf("%s %s cmd=0x%02X rows=%d", name, doneStatusText(status),
				binary.LittleEndian.Uint16(b[2:]), binary.LittleEndian.Uint64(b[4:])))
			b = b[12:]
		case tokReturnStatus:
			require.GreaterOrEqual(t, len(b), 4)
			out = append(out, fmt.Sprintf("RETURNSTATUS %d", int32(binary.LittleEndian.Uint32(b))))
			b = b[4:]
		case tokError, tokInfo, tokEnvChange:
			require.GreaterOrEqual(t, len(b), 3)
			n := int(binary.LittleEndian.Uint16(b))
			require.GreaterOrEqual(t, len(b), 2+n)
			switch tok {
			case tokEnvChange:
				out = append(out, fmt.Sprintf("ENVCHANGE %d", b[2]))
			case tokError:
				out = append(out, fmt.Sprintf("ERROR %d", binary.LittleEndian.Uint32(b[2:])))
			default:
				out = append(out, fmt.Sprintf("INFO %d", binary.LittleEndian.Uint32(b[2:])))
			}
			b = b[2+n:]
		case tokReturnValue:
			// Ordinal, name, status, UserType, flags, then an INTN.
			require.GreaterOrEqual(t, len(b), 3)
			b = b[2:]
			name, _ := ucs2ToString(b[1 : 1+2*int(b[0])])
			b = b[1+2*int(b[0]):]
			require.GreaterOrEqual(t, len(b), 10)
			require.Equal(t, typIntN, b[7], "traceTokens reads integer return values only")
			b = b[9:]
			require.Equal(t, byte(4), b[0])
			out = append(out, fmt.Sprintf("RETURNVALUE %s %d", name, int32(binary.LittleEndian.Uint32(b[1:]))))
			b = b[5:]
		case tokColMetadata:
			n := int(binary.LittleEndian.Uint16(b))
			b = b[2:]
			cols = cols[:0]
			for range n {
				require.GreaterOrEqual(t, len(b), 8)
				require.Equal(t, typIntN, b[6], "traceTokens reads integer columns only")
				cols = append(cols, b[7])
				b = b[8:]
				b = b[1+2*int(b[0]):] // the column name
			}
			out = append(out, fmt.Sprintf("COLMETADATA %d", n))
		case tokRow:
			var vals []string
			for range cols {
				size := int(b[0])
				v := int64(0)
				switch size {
				case 4:
					v = int64(int32(binary.LittleEndian.Uint32(b[1:])))
				case 8:
					v = int64(binary.LittleEndian.Uint64(b[1:]))
				default:
					t.Fatalf("traceTokens: an INTN value of %d bytes", size)
				}
				vals = append(vals, fmt.Sprint(v))
				b = b[1+size:]
			}
			out = append(out, "ROW "+strings.Join(vals, " "))
		default:
			t.Fatalf("traceTokens: unexpected token 0x%02X after %q", tok, out)
		}
	}
	return out
}

// doneStatusText names a DONE status's bits; "final" is none.
func doneStatusText(s uint16) string {
	var names []string
	for _, b := range []struct {
		bit  uint16
		name string
	}{{doneMore, "more"}, {doneError, "error"}, {doneInXact, "inxact"}, {doneCount, "count"}, {doneAttn, "attn"}, {doneSrvError, "srverror"}} {
		if s&b.bit != 0 {
			names = append(names, b.name)
		}
	}
	if len(names) == 0 {
		return "final"
	}
	return strings.Join(names, "|")
}
