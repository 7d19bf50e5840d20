package tds

import (
	"encoding/binary"
	"strconv"
)

// Response token types ([MS-TDS] 2.2.7).
const (
	tokReturnStatus  byte = 0x79
	tokReturnValue   byte = 0xAC
	tokColMetadata   byte = 0x81
	tokError         byte = 0xAA
	tokInfo          byte = 0xAB
	tokLoginAck      byte = 0xAD
	tokFeatureExtAck byte = 0xAE
	tokRow           byte = 0xD1
	tokEnvChange     byte = 0xE3
	tokDone          byte = 0xFD
	tokDoneProc      byte = 0xFE
	tokDoneInProc    byte = 0xFF
)

// DONE status bits.
const (
	doneFinal    uint16 = 0x00
	doneMore     uint16 = 0x01
	doneError    uint16 = 0x02
	doneInXact   uint16 = 0x04
	doneCount    uint16 = 0x10
	doneAttn     uint16 = 0x20
	doneSrvError uint16 = 0x100
)

// DONE CurCmd values, as SQL Server reports them.
const (
	cmdNone        uint16 = 0
	cmdSelect      uint16 = 0xC1
	cmdInsert      uint16 = 0xC3
	cmdCreateTable uint16 = 0xC6
	cmdBeginTran   uint16 = 0xD4
	cmdCommit      uint16 = 0xD5
	cmdRollback    uint16 = 0xD6
	cmdWaitfor     uint16 = 0xBD
	cmdSet         uint16 = 0xB9
)

// ENVCHANGE types.
const (
	envDatabase     byte = 1
	envLanguage     byte = 2
	envPacketSize   byte = 4
	envCollation    byte = 7
	envBeginTran    byte = 8
	envCommitTran   byte = 9
	envRollbackTran byte = 10
	envResetAck     byte = 18
)

// collation is SQL_Latin1_General_CP1_CI_AS: LCID 0x0409 with the
// case-insensitive, accent-sensitive flags, and sort id 52. go-mssqldb insists
// on exactly five bytes.
var collation = [5]byte{0x09, 0x04, 0xD0, 0x00, 0x34}

// tokenBuf accumulates the tokens of one reply message.
type tokenBuf struct{ b []byte }

// withLen16 appends a token whose body starts with a USHORT length.
func (t *tokenBuf) withLen16(tok byte, body func([]byte) []byte) {
	t.b = append(t.b, tok, 0, 0)
	start := len(t.b)
	t.b = body(t.b)
	binary.LittleEndian.PutUint16(t.b[start-2:], uint16(len(t.b)-start))
}

func (t *tokenBuf) envString(typ byte, newVal, oldVal string) {
	t.withLen16(tokEnvChange, func(b []byte) []byte {
		b = append(b, typ)
		b = appendBVarChar(b, newVal)
		return appendBVarChar(b, oldVal)
	})
}

func (t *tokenBuf) envBytes(typ byte, newVal, oldVal []byte) {
	t.withLen16(tokEnvChange, func(b []byte) []byte {
		b = append(b, typ, byte(len(newVal)))
		b = append(b, newVal...)
		b = append(b, byte(len(oldVal)))
		return append(b, oldVal...)
	})
}

func (t *tokenBuf) envPacketSize(n int) {
	t.envString(envPacketSize, strconv.Itoa(n), strconv.Itoa(defaultPacketSize))
}

func descriptorBytes(d uint64) []byte { return binary.LittleEndian.AppendUint64(nil, d) }

func (t *tokenBuf) envBeginTran(desc uint64) { t.envBytes(envBeginTran, descriptorBytes(desc), nil) }

func (t *tokenBuf) envEndTran(typ byte, desc uint64) { t.envBytes(typ, nil, descriptorBytes(desc)) }

func (t *tokenBuf) loginAck(progName string) {
	t.withLen16(tokLoginAck, func(b []byte) []byte {
		b = append(b, 1) // interface: SQL_TSQL
		b = binary.BigEndian.AppendUint32(b, tdsVersion74)
		b = appendBVarChar(b, progName)
		return append(b, serverVersion[:]...)
	})
}

// featureExtAckFedAuth acknowledges a security-token FEDAUTH feature: no nonce
// was sent, so the acknowledgement carries no data.
func (t *tokenBuf) featureExtAckFedAuth() {
	t.b = append(t.b, tokFeatureExtAck, featFedAuth, 0, 0, 0, 0, featTerminator)
}

// sqlError is one ERROR (or INFO) token's content.
type sqlError struct {
	Number int32
	State  byte
	Class  byte
	Msg    string
}

func (t *tokenBuf) message(tok byte, e sqlError, server string) {
	t.withLen16(tok, func(b []byte) []byte {
		b = binary.LittleEndian.AppendUint32(b, uint32(e.Number))
		b = append(b, e.State, e.Class)
		b = appendUsVarChar(b, e.Msg)
		b = appendBVarChar(b, server)
		b = appendBVarChar(b, "")
		return binary.LittleEndian.AppendUint32(b, 1)
	})
}

func (t *tokenBuf) done(tok byte, status, curCmd uint16, rows uint64) {
	t.b = append(t.b, tok)
	t.b = binary.LittleEndian.AppendUint16(t.b, status)
	t.b = binary.LittleEndian.AppendUint16(t.b, curCmd)
	t.b = binary.LittleEndian.AppendUint64(t.b, rows)
}

func (t *tokenBuf) returnStatus(v int32) {
	t.b = append(t.b, tokReturnStatus)
	t.b = binary.LittleEndian.AppendUint32(t.b, uint32(v))
}

// returnValueInt sends an int OUTPUT parameter's value: RETURNVALUE
// ([MS-TDS] 2.2.7.19) with the parameter's position in the request, its
// name, status 0x01 (an output parameter), UserType 0, flags fNullable,
// and INTN(4).
func (t *tokenBuf) returnValueInt(ordinal uint16, name string, v int32) {
	t.b = append(t.b, tokReturnValue)
	t.b = binary.LittleEndian.AppendUint16(t.b, ordinal)
	t.b = appendBVarChar(t.b, name)
	t.b = append(t.b, 0x01, 0, 0, 0, 0)
	t.b = binary.LittleEndian.AppendUint16(t.b, 0x0001)
	t.b = append(t.b, typIntN, 4, 4)
	t.b = binary.LittleEndian.AppendUint32(t.b, uint32(v))
}

// column is one result column: its name and wire type.
type column struct {
	name string
	typ  colType
}

func (t *tokenBuf) colMetadata(cols []column) {
	t.b = append(t.b, tokColMetadata)
	t.b = binary.LittleEndian.AppendUint16(t.b, uint16(len(cols)))
	for _, c := range cols {
		t.b = append(t.b, 0, 0, 0, 0) // UserType
		t.b = binary.LittleEndian.AppendUint16(t.b, 0x0001)
		t.b = append(t.b, c.typ.info...)
		t.b = appendBVarChar(t.b, c.name)
	}
}

func (t *tokenBuf) row(cols []column, vals []any) {
	t.b = append(t.b, tokRow)
	for i, c := range cols {
		t.b = c.typ.encode(t.b, vals[i])
	}
}
