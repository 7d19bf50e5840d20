package tds

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
)

// preloginTLSConn is the transport under a TDS 7.x TLS handshake ([MS-TDS]
// 3.3.5.2). During the handshake the TLS records travel inside PRELOGIN
// (0x12) packets: reads unwrap them and every write, one TLS flight, becomes
// one PRELOGIN message. Once the handshake is over (passthrough), TLS records
// go on the socket as they are.
type preloginTLSConn struct {
	net.Conn
	r io.Reader
	// pending is the unread payload of the last PRELOGIN packet.
	pending []byte
	// passthrough is set after the handshake.
	passthrough bool
	// recLeft and recHdr bound passthrough reads to one TLS record at a
	// time, so the TLS layer never reads past the record it needs: after a
	// login-only handshake the bytes behind it are plain TDS.
	recLeft int
	recHdr  []byte
}

// tlsRecordHeaderLen is a TLS record's header: type, version, length.
const tlsRecordHeaderLen = 5

func newPreloginTLSConn(c net.Conn, r io.Reader) *preloginTLSConn {
	return &preloginTLSConn{Conn: c, r: r}
}

func (c *preloginTLSConn) Read(p []byte) (int, error) {
	if c.passthrough {
		return c.readRecord(p)
	}
	for len(c.pending) == 0 {
		var hdr [headerLen]byte
		if _, err := io.ReadFull(c.r, hdr[:]); err != nil {
			return 0, err
		}
		if hdr[0] != pktPrelogin {
			return 0, fmt.Errorf("tds: packet type 0x%02x during the TLS handshake, want PRELOGIN", hdr[0])
		}
		size := int(binary.BigEndian.Uint16(hdr[2:4]))
		if size < headerLen {
			return 0, fmt.Errorf("tds: packet length %d is shorter than its header", size)
		}
		c.pending = make([]byte, size-headerLen)
		if _, err := io.ReadFull(c.r, c.pending); err != nil {
			return 0, cutShort(err)
		}
	}
	n := copy(p, c.pending)
	c.pending = c.pending[n:]
	return n, nil
}

// readRecord reads at most to the end of the current TLS record.
func (c *preloginTLSConn) readRecord(p []byte) (int, error) {
	if c.recLeft == 0 && len(c.recHdr) == 0 {
		hdr := make([]byte, tlsRecordHeaderLen)
		if _, err := io.ReadFull(c.r, hdr); err != nil {
			return 0, err
		}
		c.recHdr = hdr
		c.recLeft = int(binary.BigEndian.Uint16(hdr[3:5]))
	}
	if len(c.recHdr) > 0 {
		n := copy(p, c.recHdr)
		c.recHdr = c.recHdr[n:]
		return n, nil
	}
	if len(p) > c.recLeft {
		p = p[:c.recLeft]
	}
	n, err := c.r.Read(p)
	c.recLeft -= n
	return n, err
}

func (c *preloginTLSConn) Write(p []byte) (int, error) {
	if c.passthrough {
		return c.Conn.Write(p)
	}
	// The packet size is not negotiated yet: the client reads 4096.
	if _, err := c.Conn.Write(appendPackets(nil, pktPrelogin, 0, defaultPacketSize, p)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// firstPacketReader is the transport of a login-only encrypted connection:
// the first packet (of LOGIN7) is read through TLS, everything after it from
// the socket in clear.
type firstPacketReader struct {
	tls, plain io.Reader
	r          io.Reader
}

func (f *firstPacketReader) Read(p []byte) (int, error) {
	if f.r == nil {
		pkt := make([]byte, headerLen)
		if _, err := io.ReadFull(f.tls, pkt); err != nil {
			return 0, err
		}
		size := int(binary.BigEndian.Uint16(pkt[2:4]))
		if size < headerLen {
			return 0, fmt.Errorf("tds: packet length %d is shorter than its header", size)
		}
		pkt = append(pkt, make([]byte, size-headerLen)...)
		if _, err := io.ReadFull(f.tls, pkt[headerLen:]); err != nil {
			return 0, cutShort(err)
		}
		f.r = io.MultiReader(bytes.NewReader(pkt), f.plain)
	}
	return f.r.Read(p)
}
