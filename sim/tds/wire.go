package tds

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf16"
)

// errShort is what every parser returns when the bytes end too early; a
// truncated message from the network is a protocol error, never a panic.
var errShort = errors.New("tds: message truncated")

// cursor reads little-endian values from a message. The first out-of-bounds
// read sets err and makes every later read return zero, so a parser can read a
// whole structure and check err once.
type cursor struct {
	b   []byte
	off int
	err error
}

func (c *cursor) take(n int) []byte {
	if c.err != nil {
		return nil
	}
	if n < 0 || n > len(c.b)-c.off {
		c.err = errShort
		return nil
	}
	p := c.b[c.off : c.off+n]
	c.off += n
	return p
}

func (c *cursor) u8() byte {
	p := c.take(1)
	if p == nil {
		return 0
	}
	return p[0]
}

func (c *cursor) u16() uint16 {
	p := c.take(2)
	if p == nil {
		return 0
	}
	return binary.LittleEndian.Uint16(p)
}

func (c *cursor) u32() uint32 {
	p := c.take(4)
	if p == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(p)
}

func (c *cursor) u64() uint64 {
	p := c.take(8)
	if p == nil {
		return 0
	}
	return binary.LittleEndian.Uint64(p)
}

func (c *cursor) rest() []byte { return c.take(len(c.b) - c.off) }

func (c *cursor) remaining() int { return len(c.b) - c.off }

// bVarChar reads a B_VARCHAR: a character count byte and UTF-16LE text.
func (c *cursor) bVarChar() string {
	n := int(c.u8())
	s, err := ucs2ToString(c.take(2 * n))
	if err != nil && c.err == nil {
		c.err = err
	}
	return s
}

// ucs2ToString decodes UTF-16LE; unpaired surrogates become U+FFFD as in Go's
// utf16 package. An odd byte count is malformed.
func ucs2ToString(b []byte) (string, error) {
	if len(b)%2 != 0 {
		return "", fmt.Errorf("tds: odd UTF-16 byte count %d", len(b))
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u)), nil
}

// appendUCS2 appends s as UTF-16LE.
func appendUCS2(dst []byte, s string) []byte {
	for _, u := range utf16.Encode([]rune(s)) {
		dst = binary.LittleEndian.AppendUint16(dst, u)
	}
	return dst
}

// ucs2Len is the number of UTF-16 code units of s.
func ucs2Len(s string) int { return len(utf16.Encode([]rune(s))) }

// appendBVarChar appends a B_VARCHAR, cutting s to the 255 code units the
// length byte can describe.
func appendBVarChar(dst []byte, s string) []byte {
	u := utf16.Encode([]rune(s))
	if len(u) > 255 {
		u = u[:255]
	}
	dst = append(dst, byte(len(u)))
	for _, c := range u {
		dst = binary.LittleEndian.AppendUint16(dst, c)
	}
	return dst
}

// appendUsVarChar appends a US_VARCHAR, cut to 65535 code units.
func appendUsVarChar(dst []byte, s string) []byte {
	u := utf16.Encode([]rune(s))
	if len(u) > 0xffff {
		u = u[:0xffff]
	}
	dst = binary.LittleEndian.AppendUint16(dst, uint16(len(u)))
	for _, c := range u {
		dst = binary.LittleEndian.AppendUint16(dst, c)
	}
	return dst
}
