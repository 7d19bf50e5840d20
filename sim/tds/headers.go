package tds

import "fmt"

// ALL_HEADERS header types ([MS-TDS] 2.2.5.3).
const (
	hdrQueryNotify uint16 = 1
	hdrTxDesc      uint16 = 2
	hdrTraceAct    uint16 = 3
)

// allHeaders is what the simulator reads from ALL_HEADERS.
type allHeaders struct {
	// txDesc is the transaction descriptor the client believes is current.
	txDesc uint64
}

// readAllHeaders reads the ALL_HEADERS that starts every SQLBatch, RPC and
// TM request of TDS 7.2 and later.
func readAllHeaders(c *cursor) (allHeaders, error) {
	var h allHeaders
	start := c.off
	total := int64(c.u32())
	if c.err != nil {
		return h, c.err
	}
	if total < 4 || total-4 > int64(c.remaining()) {
		return h, fmt.Errorf("tds: ALL_HEADERS length %d is out of range", total)
	}
	end := start + int(total)
	for c.off < end {
		n := int64(c.u32())
		typ := c.u16()
		if c.err != nil {
			return h, c.err
		}
		if n < 6 || int64(c.off)-6+n > int64(end) {
			return h, fmt.Errorf("tds: ALL_HEADERS header length %d is out of range", n)
		}
		data := c.take(int(n) - 6)
		if typ == hdrTxDesc {
			if len(data) != 12 {
				return h, fmt.Errorf("tds: transaction descriptor header of %d bytes", len(data))
			}
			d := &cursor{b: data}
			h.txDesc = d.u64()
		}
	}
	return h, c.err
}
