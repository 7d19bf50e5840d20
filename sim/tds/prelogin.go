package tds

import (
	"encoding/binary"
	"fmt"
)

// PRELOGIN option tokens ([MS-TDS] 2.2.6.5).
const (
	preVersion         byte = 0x00
	preEncryption      byte = 0x01
	preInstOpt         byte = 0x02
	preThreadID        byte = 0x03
	preMARS            byte = 0x04
	preTraceID         byte = 0x05
	preFedAuthRequired byte = 0x06
	preNonce           byte = 0x07
	preTerminator      byte = 0xFF
)

// Encryption values of the PRELOGIN ENCRYPTION option.
const (
	encryptOff    byte = 0x00
	encryptOn     byte = 0x01
	encryptNotSup byte = 0x02
	encryptReq    byte = 0x03
	encryptStrict byte = 0x04
)

// maxPreloginOptions bounds the option table: the spec defines eight.
const maxPreloginOptions = 32

// prelogin is what the server uses from a client's PRELOGIN.
type prelogin struct {
	encryption    byte
	hasEncryption bool
	// fedAuthRequired is set when the client sent FEDAUTHREQUIRED: it will log
	// in with a token, and the server must echo the option.
	fedAuthRequired bool
	options         map[byte][]byte
}

// parsePrelogin reads the option table and the data it points at.
func parsePrelogin(b []byte) (prelogin, error) {
	p := prelogin{options: map[byte][]byte{}}
	for i := 0; ; i++ {
		if i == maxPreloginOptions {
			return p, fmt.Errorf("tds: PRELOGIN has more than %d options", maxPreloginOptions)
		}
		at := i * 5
		if at >= len(b) {
			return p, errShort
		}
		tok := b[at]
		if tok == preTerminator {
			break
		}
		if at+5 > len(b) {
			return p, errShort
		}
		off := int(binary.BigEndian.Uint16(b[at+1:]))
		n := int(binary.BigEndian.Uint16(b[at+3:]))
		if off+n > len(b) {
			return p, fmt.Errorf("tds: PRELOGIN option 0x%02x points past the message", tok)
		}
		if _, dup := p.options[tok]; dup {
			return p, fmt.Errorf("tds: PRELOGIN option 0x%02x repeated", tok)
		}
		p.options[tok] = b[off : off+n]
	}
	if v, ok := p.options[preEncryption]; ok {
		if len(v) != 1 {
			return p, fmt.Errorf("tds: PRELOGIN ENCRYPTION has length %d", len(v))
		}
		p.encryption, p.hasEncryption = v[0], true
	}
	if v, ok := p.options[preFedAuthRequired]; ok {
		if len(v) != 1 {
			return p, fmt.Errorf("tds: PRELOGIN FEDAUTHREQUIRED has length %d", len(v))
		}
		p.fedAuthRequired = true
	}
	return p, nil
}

// serverVersion is what the simulator claims to be: SQL Server 2022 (16.0).
var serverVersion = [4]byte{16, 0, 0x10, 0x00}

// negotiateEncryption is the server's ENCRYPTION answer to a TDS 7.x client
// ([MS-TDS] 2.2.6.5): what the client asked for, met by what the server
// offers. A client that sent no ENCRYPTION option is treated as ENCRYPT_OFF,
// and ENCRYPT_STRICT outside TLS-first as ENCRYPT_ON.
func negotiateEncryption(client byte, mode Encryption) byte {
	switch mode {
	case EncryptionUnsupported:
		return encryptNotSup
	case EncryptionRequired:
		if client == encryptOn || client == encryptStrict {
			return encryptOn
		}
		return encryptReq
	}
	switch client {
	case encryptNotSup:
		return encryptNotSup
	case encryptOn, encryptReq, encryptStrict:
		return encryptOn
	}
	return encryptOff
}

// buildPreloginReply answers a PRELOGIN. encryption is the negotiated
// ENCRYPTION value (ENCRYPT_ON once TDS 8.0 TLS already protects the
// connection).
func buildPreloginReply(p prelogin, encryption byte) []byte {
	type opt struct {
		tok  byte
		data []byte
	}
	opts := []opt{
		{preVersion, []byte{serverVersion[0], serverVersion[1], serverVersion[2], serverVersion[3], 0, 0}},
		{preEncryption, []byte{encryption}},
		{preInstOpt, []byte{0}},
		{preThreadID, nil},
		{preMARS, []byte{0}},
	}
	if p.fedAuthRequired {
		// go-mssqldb fails token logins when the server does not echo it.
		opts = append(opts, opt{preFedAuthRequired, []byte{1}})
	}
	off := len(opts)*5 + 1
	var out []byte
	for _, o := range opts {
		out = append(out, o.tok)
		out = binary.BigEndian.AppendUint16(out, uint16(off))
		out = binary.BigEndian.AppendUint16(out, uint16(len(o.data)))
		off += len(o.data)
	}
	out = append(out, preTerminator)
	for _, o := range opts {
		out = append(out, o.data...)
	}
	return out
}
