package actors

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
)

// TestPoolFitsItsSizeClass: every identity has a Pool, and Go rounds each
// allocation up to a size class, so a few bytes more can cost a hundred per
// pool: Pool, with the 8-byte header Go puts before each object over 512
// bytes that holds pointers, must stay within the 704-byte class (it was
// 1,416 bytes in the 1,536 class before the wait histogram went compact,
// the flags were packed, the rare state moved behind a pointer and the
// configuration became shared),
// poolActor within 128 (it was 176), and conn (one per open connection) within 128.
func TestPoolFitsItsSizeClass(t *testing.T) {
	const mallocHeader = 8
	assert.LessOrEqual(t, unsafe.Sizeof(Pool{})+mallocHeader, uintptr(704), "Pool")
	assert.LessOrEqual(t, unsafe.Sizeof(poolActor{}), uintptr(128), "poolActor")
	assert.LessOrEqual(t, unsafe.Sizeof(conn{}), uintptr(128), "conn")
}
