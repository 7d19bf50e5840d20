package tds

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Values in the simulator are plain Go values: nil, uint8 (tinyint), int16,
// int32, int64, float32, float64, bool, string, []byte, or rawValue for types
// it carries but does not interpret (dates, decimals, GUIDs, money).

// rawValue is a parameter value the simulator only echoes: its TYPE_INFO and
// its encoded value, both exactly as the client sent them.
type rawValue struct {
	info []byte
	data []byte
}

// SQL Server type ids used on the wire ([MS-TDS] 2.2.5.4).
const (
	typNull           byte = 0x1F
	typInt1           byte = 0x30
	typBit            byte = 0x32
	typInt2           byte = 0x34
	typInt4           byte = 0x38
	typDateTim4       byte = 0x3A
	typFlt4           byte = 0x3B
	typMoney          byte = 0x3C
	typDateTime       byte = 0x3D
	typFlt8           byte = 0x3E
	typMoney4         byte = 0x7A
	typInt8           byte = 0x7F
	typGUID           byte = 0x24
	typIntN           byte = 0x26
	typDateN          byte = 0x28
	typTimeN          byte = 0x29
	typDateTime2N     byte = 0x2A
	typDateTimeOffset byte = 0x2B
	typBitN           byte = 0x68
	typDecimalN       byte = 0x6A
	typNumericN       byte = 0x6C
	typFltN           byte = 0x6D
	typMoneyN         byte = 0x6E
	typDateTimeN      byte = 0x6F
	typBigVarBin      byte = 0xA5
	typBigVarChar     byte = 0xA7
	typBigBinary      byte = 0xAD
	typBigChar        byte = 0xAF
	typNVarChar       byte = 0xE7
	typNChar          byte = 0xEF
)

const (
	plpNull       = math.MaxUint64
	plpTerminator = 0
	maxShortLen   = 8000
)

// colType is a result column's TYPE_INFO and the encoder of its values.
type colType struct {
	info   []byte
	encode func(dst []byte, v any) []byte
}

// typeFor picks one wire type that can carry every value of a column.
func typeFor(vals []any) colType {
	kind, intSize, maxBytes := "", 0, 0
	var raw *rawValue
	for _, v := range vals {
		k := ""
		switch v := v.(type) {
		case nil:
			continue
		case uint8, int16, int32, int64:
			k = "int"
			intSize = max(intSize, intWidth(v))
		case float32, float64:
			k = "float"
		case bool:
			k = "bool"
		case string:
			k = "string"
			maxBytes = max(maxBytes, 2*ucs2Len(v))
		case []byte:
			k = "binary"
			maxBytes = max(maxBytes, len(v))
		case rawValue:
			k = "raw"
			if raw != nil && string(raw.info) != string(v.info) {
				k = "mixed"
			}
			raw = &v
		}
		if kind != "" && kind != k {
			kind = "mixed"
		}
		if kind != "mixed" {
			kind = k
		}
	}
	switch kind {
	case "int":
		return intType(intSize)
	case "float":
		return colType{info: []byte{typFltN, 8}, encode: encodeFloat}
	case "bool":
		return colType{info: []byte{typBitN, 1}, encode: encodeBit}
	case "string":
		return nvarcharType(maxBytes)
	case "binary":
		return varbinaryType(maxBytes)
	case "raw":
		return colType{info: raw.info, encode: encodeRaw}
	case "mixed":
		strs := make([]any, len(vals))
		for i, v := range vals {
			if v != nil {
				strs[i] = fmt.Sprint(v)
			}
		}
		return typeFor(strs)
	}
	return intType(4)
}

func intWidth(v any) int {
	switch v.(type) {
	case uint8:
		return 1
	case int16:
		return 2
	case int32:
		return 4
	}
	return 8
}

func asInt64(v any) (int64, bool) {
	switch v := v.(type) {
	case uint8:
		return int64(v), true
	case int16:
		return int64(v), true
	case int32:
		return int64(v), true
	case int64:
		return v, true
	}
	return 0, false
}

func intType(size int) colType {
	return colType{info: []byte{typIntN, byte(size)}, encode: func(dst []byte, v any) []byte {
		n, ok := asInt64(v)
		if !ok {
			return append(dst, 0)
		}
		dst = append(dst, byte(size))
		switch size {
		case 1:
			return append(dst, byte(n))
		case 2:
			return binary.LittleEndian.AppendUint16(dst, uint16(n))
		case 4:
			return binary.LittleEndian.AppendUint32(dst, uint32(n))
		}
		return binary.LittleEndian.AppendUint64(dst, uint64(n))
	}}
}

func encodeFloat(dst []byte, v any) []byte {
	var f float64
	switch v := v.(type) {
	case float32:
		f = float64(v)
	case float64:
		f = v
	default:
		return append(dst, 0)
	}
	return binary.LittleEndian.AppendUint64(append(dst, 8), math.Float64bits(f))
}

func encodeBit(dst []byte, v any) []byte {
	b, ok := v.(bool)
	if !ok {
		return append(dst, 0)
	}
	if b {
		return append(dst, 1, 1)
	}
	return append(dst, 1, 0)
}

func encodeRaw(dst []byte, v any) []byte {
	r, ok := v.(rawValue)
	if !ok {
		return append(dst, 0)
	}
	return append(dst, r.data...)
}

// nvarcharType is NVARCHAR(n) sized to the longest value (go-mssqldb reads
// into a buffer of the declared size), or NVARCHAR(MAX) beyond 4000 characters.
func nvarcharType(maxBytes int) colType {
	maxBytes = max(maxBytes, 2)
	info := []byte{typNVarChar}
	if maxBytes > maxShortLen {
		info = append(info, 0xFF, 0xFF)
		info = append(info, collation[:]...)
		return colType{info: info, encode: func(dst []byte, v any) []byte {
			s, ok := v.(string)
			if !ok {
				return appendPLP(dst, nil, true)
			}
			return appendPLP(dst, appendUCS2(nil, s), false)
		}}
	}
	info = binary.LittleEndian.AppendUint16(info, uint16(maxBytes))
	info = append(info, collation[:]...)
	return colType{info: info, encode: func(dst []byte, v any) []byte {
		s, ok := v.(string)
		if !ok {
			return binary.LittleEndian.AppendUint16(dst, 0xFFFF)
		}
		dst = binary.LittleEndian.AppendUint16(dst, uint16(2*ucs2Len(s)))
		return appendUCS2(dst, s)
	}}
}

func varbinaryType(maxBytes int) colType {
	maxBytes = max(maxBytes, 1)
	if maxBytes > maxShortLen {
		return colType{info: []byte{typBigVarBin, 0xFF, 0xFF}, encode: func(dst []byte, v any) []byte {
			b, ok := v.([]byte)
			return appendPLP(dst, b, !ok)
		}}
	}
	info := binary.LittleEndian.AppendUint16([]byte{typBigVarBin}, uint16(maxBytes))
	return colType{info: info, encode: func(dst []byte, v any) []byte {
		b, ok := v.([]byte)
		if !ok {
			return binary.LittleEndian.AppendUint16(dst, 0xFFFF)
		}
		dst = binary.LittleEndian.AppendUint16(dst, uint16(len(b)))
		return append(dst, b...)
	}}
}

// appendPLP writes a partially length-prefixed value as one chunk.
func appendPLP(dst, data []byte, null bool) []byte {
	if null {
		return binary.LittleEndian.AppendUint64(dst, plpNull)
	}
	dst = binary.LittleEndian.AppendUint64(dst, uint64(len(data)))
	if len(data) > 0 {
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(data)))
		dst = append(dst, data...)
	}
	return binary.LittleEndian.AppendUint32(dst, plpTerminator)
}
