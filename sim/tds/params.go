package tds

import (
	"encoding/binary"
	"fmt"
	"math"
)

// unsupportedError marks well-formed input the simulator does not implement:
// it is answered with an ERROR token and the connection stays open.
type unsupportedError struct{ what string }

func (e *unsupportedError) Error() string { return "tds: unsupported " + e.what }

// readTypedValue reads a TYPE_INFO and the value that follows it, as in RPC
// parameters ([MS-TDS] 2.2.6.6).
func readTypedValue(c *cursor) (any, error) {
	start := c.off
	id := c.u8()
	if c.err != nil {
		return nil, c.err
	}
	switch id {
	case typNull:
		return nil, nil
	case typInt1, typBit, typInt2, typInt4, typInt8, typFlt4, typFlt8,
		typDateTim4, typDateTime, typMoney, typMoney4:
		return readFixed(c, id)
	case typIntN, typBitN, typFltN, typMoneyN, typDateTimeN, typGUID,
		typDecimalN, typNumericN, typDateN, typTimeN, typDateTime2N, typDateTimeOffset:
		return readByteLen(c, id, start)
	case typBigVarBin, typBigVarChar, typBigBinary, typBigChar, typNVarChar, typNChar:
		return readShortLen(c, id)
	}
	return nil, &unsupportedError{what: fmt.Sprintf("parameter type 0x%02X", id)}
}

func readFixed(c *cursor, id byte) (any, error) {
	var v any
	switch id {
	case typInt1:
		v = c.u8()
	case typBit:
		v = c.u8() != 0
	case typInt2:
		v = int16(c.u16())
	case typInt4:
		v = int32(c.u32())
	case typInt8:
		v = int64(c.u64())
	case typFlt4:
		v = math.Float32frombits(c.u32())
	case typFlt8:
		v = math.Float64frombits(c.u64())
	case typDateTim4, typMoney4:
		v = rawValue{info: []byte{id}, data: c.take(4)}
	default: // typDateTime, typMoney
		v = rawValue{info: []byte{id}, data: c.take(8)}
	}
	return v, c.err
}

// readByteLen reads the BYTELEN types: TYPE_INFO with a size (and precision,
// scale where they apply), then a length byte and the value.
func readByteLen(c *cursor, id byte, start int) (any, error) {
	size := -1
	switch id {
	case typDateN:
		size = 3
	case typTimeN, typDateTime2N, typDateTimeOffset:
		if scale := c.u8(); scale > 7 {
			return nil, fmt.Errorf("tds: time scale %d is out of range", scale)
		}
		size = 10
	case typDecimalN, typNumericN:
		size = int(c.u8())
		c.take(2) // precision, scale
	default:
		size = int(c.u8())
	}
	info := c.b[start:c.off]
	n := int(c.u8())
	data := c.take(n)
	if c.err != nil {
		return nil, c.err
	}
	if n > size {
		return nil, fmt.Errorf("tds: value of %d bytes in a type of %d", n, size)
	}
	if n == 0 {
		return nil, nil
	}
	switch id {
	case typIntN:
		switch n {
		case 1:
			return data[0], nil
		case 2:
			return int16(binary.LittleEndian.Uint16(data)), nil
		case 4:
			return int32(binary.LittleEndian.Uint32(data)), nil
		case 8:
			return int64(binary.LittleEndian.Uint64(data)), nil
		}
		return nil, fmt.Errorf("tds: INTN value of %d bytes", n)
	case typBitN:
		return data[0] != 0, nil
	case typFltN:
		switch n {
		case 4:
			return math.Float32frombits(binary.LittleEndian.Uint32(data)), nil
		case 8:
			return math.Float64frombits(binary.LittleEndian.Uint64(data)), nil
		}
		return nil, fmt.Errorf("tds: FLTN value of %d bytes", n)
	}
	enc := append([]byte{byte(n)}, data...)
	return rawValue{info: append([]byte(nil), info...), data: enc}, nil
}

// readShortLen reads the USHORTLEN types, including their (MAX) forms, which
// travel as PLP.
func readShortLen(c *cursor, id byte) (any, error) {
	maxLen := c.u16()
	var coll []byte
	if id == typBigVarChar || id == typBigChar || id == typNVarChar || id == typNChar {
		coll = c.take(len(collation))
	}
	var data []byte
	null := false
	if maxLen == 0xFFFF {
		data, null = readPLP(c)
	} else {
		n := c.u16()
		if n == 0xFFFF {
			null = true
		} else {
			if n > maxLen {
				return nil, fmt.Errorf("tds: value of %d bytes in a type of %d", n, maxLen)
			}
			data = c.take(int(n))
		}
	}
	if c.err != nil {
		return nil, c.err
	}
	if null {
		return nil, nil
	}
	switch id {
	case typNVarChar, typNChar:
		return ucs2ToString(data)
	case typBigVarChar, typBigChar:
		return decodeVarchar(coll, data), nil
	}
	return append([]byte(nil), data...), nil
}

func readPLP(c *cursor) (data []byte, null bool) {
	total := c.u64()
	if total == plpNull {
		return nil, true
	}
	data = []byte{}
	for c.err == nil {
		n := c.u32()
		if n == plpTerminator {
			break
		}
		data = append(data, c.take(int(n))...)
	}
	return data, false
}
