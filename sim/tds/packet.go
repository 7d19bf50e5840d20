package tds

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
)

// Packet types ([MS-TDS] 2.2.3.1.1).
const (
	pktSQLBatch  byte = 0x01
	pktRPC       byte = 0x03
	pktReply     byte = 0x04
	pktAttention byte = 0x06
	pktBulkLoad  byte = 0x07
	pktFedAuth   byte = 0x08
	pktTM        byte = 0x0E
	pktLogin7    byte = 0x10
	pktSSPI      byte = 0x11
	pktPrelogin  byte = 0x12
)

// Packet status bits ([MS-TDS] 2.2.3.1.2).
const (
	statusEOM               byte = 0x01
	statusIgnore            byte = 0x02
	statusResetConn         byte = 0x08
	statusResetConnSkipTran byte = 0x10
)

const (
	headerLen = 8
	// defaultPacketSize is what a client reads before LOGIN7 negotiates one.
	defaultPacketSize = 4096
	minPacketSize     = 512
	maxPacketSize     = 32767
	// defaultMaxMessage bounds one client message so a hostile length chain
	// cannot make the server buffer without limit.
	defaultMaxMessage = 4 << 20
)

// message is one client request, reassembled from its packets.
type message struct {
	typ byte
	// status is the first packet's status byte: it carries the reset bits.
	status byte
	data   []byte
}

// messageReader reassembles packets into messages ([MS-TDS] 2.2.3.1).
type messageReader struct {
	r   io.Reader
	max int
	hdr [headerLen]byte
}

func newMessageReader(r io.Reader, maxMessage int) *messageReader {
	if maxMessage <= 0 {
		maxMessage = defaultMaxMessage
	}
	return &messageReader{r: r, max: maxMessage}
}

// messageTooLargeError is returned for a message longer than the reader's
// limit. The reader has read that message to its end, keeping none of it, so
// the stream is still in step: after login the server answers it with an
// ERROR that names the limit, where closing the connection would leave the
// client with nothing but a reset connection to go on.
type messageTooLargeError struct{ size, limit int }

func (e *messageTooLargeError) Error() string {
	return fmt.Sprintf("tds: message of %d bytes exceeds the size limit of %d bytes", e.size, e.limit)
}

// readMessage reads packets until one carries EOM. A message the client marked
// with the ignore bit is dropped, as the spec asks, and the next one is read.
func (mr *messageReader) readMessage() (message, error) {
	for {
		m, ignore, err := mr.readOne()
		if err != nil || !ignore {
			return m, err
		}
	}
}

func (mr *messageReader) readOne() (m message, ignore bool, err error) {
	first := true
	size := 0 // the message's body bytes so far, kept or not
	for {
		if _, err := io.ReadFull(mr.r, mr.hdr[:]); err != nil {
			if !first && err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return message{}, false, err
		}
		typ, status := mr.hdr[0], mr.hdr[1]
		n := int(binary.BigEndian.Uint16(mr.hdr[2:4]))
		if n < headerLen {
			return message{}, false, fmt.Errorf("tds: packet length %d is shorter than its header", n)
		}
		if first {
			m.typ, m.status = typ, status
		} else if typ != m.typ {
			return message{}, false, fmt.Errorf("tds: packet type changed from 0x%02x to 0x%02x inside a message", m.typ, typ)
		}
		body := n - headerLen
		size += body
		if size > mr.max {
			// Past the limit: read on to the message's end, keeping nothing.
			m.data = nil
			if _, err := io.CopyN(io.Discard, mr.r, int64(body)); err != nil {
				return message{}, false, cutShort(err)
			}
		} else {
			start := len(m.data)
			m.data = append(m.data, make([]byte, body)...)
			if _, err := io.ReadFull(mr.r, m.data[start:]); err != nil {
				return message{}, false, cutShort(err)
			}
		}
		first = false
		if status&statusEOM == 0 {
			continue
		}
		ignore = status&statusIgnore != 0
		if size > mr.max && !ignore {
			return m, false, &messageTooLargeError{size: size, limit: mr.max}
		}
		return m, ignore, nil
	}
}

// cutShort is the error of a packet body read: io.EOF there means a header
// arrived without its body, a cut packet, not the connection's clean end
// (which messageReader reports only before a packet begins).
func cutShort(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// parseMessages splits a captured byte stream into messages; it exists for the
// fuzz target and for tests that inspect what a client sent.
func parseMessages(b []byte, maxMessage int) ([]message, error) {
	mr := newMessageReader(bytes.NewReader(b), maxMessage)
	var out []message
	for {
		m, err := mr.readMessage()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, m)
	}
}

// appendPackets frames payload as one message of packets no longer than
// packetSize, the size the client negotiated: go-mssqldb rejects any longer
// packet.
func appendPackets(dst []byte, typ byte, spid uint16, packetSize int, payload []byte) []byte {
	if packetSize < minPacketSize {
		packetSize = minPacketSize
	}
	room := packetSize - headerLen
	id := byte(1)
	for {
		n := min(room, len(payload))
		status := byte(0)
		if n == len(payload) {
			status = statusEOM
		}
		dst = append(dst, typ, status)
		dst = binary.BigEndian.AppendUint16(dst, uint16(n+headerLen))
		dst = binary.BigEndian.AppendUint16(dst, spid)
		dst = append(dst, id, 0)
		dst = append(dst, payload[:n]...)
		payload = payload[n:]
		id++
		if status == statusEOM {
			return dst
		}
	}
}
