package tds

import (
	"encoding/binary"
	"fmt"
)

const (
	login7HeaderLen = 94
	// fExtension in OptionFlags3 says ibExtension points at the FeatureExt offset.
	fExtension byte = 0x10
	// Feature extension ids ([MS-TDS] 2.2.6.4).
	featFedAuth    byte = 0x02
	featTerminator byte = 0xFF
	// FEDAUTH libraries.
	fedAuthLibSecurityToken byte = 0x01
	fedAuthLibADAL          byte = 0x02
	// maxFeatures bounds the FeatureExt list.
	maxFeatures = 64
)

// TDS versions a client may ask for in LOGIN7.
const (
	tdsVersion74 uint32 = 0x74000004
	tdsVersion80 uint32 = 0x08000000
)

// login7 is the part of a LOGIN7 record the simulator acts on.
type login7 struct {
	tdsVersion uint32
	packetSize uint32
	hostName   string
	userName   string
	// password is the SQL login's password, unscrambled. It never leaves the
	// login handler: not in errors, not in logs.
	password   string
	appName    string
	serverName string
	ctlIntName string
	database   string
	// fedAuth is set when the client sent the FEDAUTH feature extension.
	fedAuth *fedAuthExt
}

// fedAuthExt is a FEDAUTH feature extension.
type fedAuthExt struct {
	library byte
	echo    bool
	// token is the security token (library 0x01); secret.
	token string
	// workflow is the ADAL workflow (library 0x02).
	workflow byte
}

// parseLogin7 reads a LOGIN7 record ([MS-TDS] 2.2.6.4). Every (offset, length)
// pair is checked against the message before it is used.
func parseLogin7(b []byte) (login7, error) {
	var l login7
	if len(b) < login7HeaderLen {
		return l, fmt.Errorf("tds: LOGIN7 is %d bytes, shorter than its %d-byte header", len(b), login7HeaderLen)
	}
	le := binary.LittleEndian
	l.tdsVersion = le.Uint32(b[4:])
	l.packetSize = le.Uint32(b[8:])
	flags3 := b[27]
	str := func(at int, what string) (string, error) {
		off, n := int(le.Uint16(b[at:])), int(le.Uint16(b[at+2:]))
		if n == 0 {
			return "", nil
		}
		if off+2*n > len(b) {
			return "", fmt.Errorf("tds: LOGIN7 %s points past the message", what)
		}
		return ucs2ToString(b[off : off+2*n])
	}
	var err error
	fields := []struct {
		at   int
		name string
		dst  *string
	}{
		{36, "HostName", &l.hostName},
		{40, "UserName", &l.userName},
		{48, "AppName", &l.appName},
		{52, "ServerName", &l.serverName},
		{60, "CltIntName", &l.ctlIntName},
		{68, "Database", &l.database},
	}
	for _, f := range fields {
		if *f.dst, err = str(f.at, f.name); err != nil {
			return l, err
		}
	}
	if l.password, err = loginPassword(b); err != nil {
		return l, err
	}
	if flags3&fExtension != 0 {
		if l.fedAuth, err = parseFeatureExt(b); err != nil {
			return l, err
		}
	}
	return l, nil
}

// loginPassword unscrambles the password: the client swapped the nibbles of
// every byte and XORed it with 0xA5 ([MS-TDS] 2.2.6.4).
func loginPassword(b []byte) (string, error) {
	le := binary.LittleEndian
	off, n := int(le.Uint16(b[44:])), int(le.Uint16(b[46:]))
	if off+2*n > len(b) {
		return "", fmt.Errorf("tds: LOGIN7 Password points past the message")
	}
	p := make([]byte, 2*n)
	for i, c := range b[off : off+2*n] {
		c ^= 0xA5
		p[i] = c<<4 | c>>4
	}
	return ucs2ToString(p)
}

// parseFeatureExt follows ibExtension to the FeatureExt block and returns the
// FEDAUTH feature, if any. Unknown features are skipped.
func parseFeatureExt(b []byte) (*fedAuthExt, error) {
	le := binary.LittleEndian
	ib, cb := int(le.Uint16(b[56:])), int(le.Uint16(b[58:]))
	if cb < 4 || ib+4 > len(b) {
		return nil, fmt.Errorf("tds: LOGIN7 extension offset is out of range")
	}
	c := &cursor{b: b, off: int(le.Uint32(b[ib:]))}
	if c.off < login7HeaderLen || c.off > len(b) {
		return nil, fmt.Errorf("tds: LOGIN7 FeatureExt offset is out of range")
	}
	var fa *fedAuthExt
	for i := 0; ; i++ {
		if i == maxFeatures {
			return nil, fmt.Errorf("tds: LOGIN7 has more than %d features", maxFeatures)
		}
		id := c.u8()
		if c.err != nil {
			return nil, c.err
		}
		if id == featTerminator {
			return fa, nil
		}
		n := c.u32()
		if c.err == nil && int64(n) > int64(c.remaining()) {
			return nil, fmt.Errorf("tds: LOGIN7 feature 0x%02x is longer than the message", id)
		}
		data := c.take(int(n))
		if c.err != nil {
			return nil, c.err
		}
		if id != featFedAuth {
			continue
		}
		if fa != nil {
			return nil, fmt.Errorf("tds: LOGIN7 repeats the FEDAUTH feature")
		}
		var err error
		if fa, err = parseFedAuth(data); err != nil {
			return nil, err
		}
	}
}

func parseFedAuth(data []byte) (*fedAuthExt, error) {
	c := &cursor{b: data}
	opts := c.u8()
	fa := &fedAuthExt{library: opts >> 1, echo: opts&1 != 0}
	switch fa.library {
	case fedAuthLibSecurityToken:
		n := c.u32()
		if c.err == nil && int64(n) > int64(c.remaining()) {
			return nil, fmt.Errorf("tds: FEDAUTH token length is longer than the feature")
		}
		tok, err := ucs2ToString(c.take(int(n)))
		if c.err != nil {
			return nil, c.err
		}
		if err != nil {
			return nil, err
		}
		fa.token = tok
		// An optional 32-byte nonce may follow; nothing else may.
		if r := c.remaining(); r != 0 && r != 32 {
			return nil, fmt.Errorf("tds: FEDAUTH has %d trailing bytes", r)
		}
	case fedAuthLibADAL:
		fa.workflow = c.u8()
	default:
		// Reserved libraries are parsed but refused at login.
	}
	if c.err != nil {
		return nil, c.err
	}
	return fa, nil
}
