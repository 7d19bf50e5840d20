package actors

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
)

// TestPoolFitsItsSizeClass: every identity has a Pool, and Go rounds each
// allocation up to a size class, so a few bytes more can cost a hundred per
// pool: Pool, with the 8-byte header Go puts before each object over 512
// bytes that holds pointers, must stay within the 896-byte class (it was
// 1,416 bytes in the 1,536 class before the wait histogram went compact and
// the flags were packed), poolActor within 160, and conn (one per open
// connection) within 128.
func TestPoolFitsItsSizeClass(t *testing.T) {
	const mallocHeader = 8
	assert.LessOrEqual(t, unsafe.Sizeof(Pool{})+mallocHeader, uintptr(896), "Pool")
	assert.LessOrEqual(t, unsafe.Sizeof(poolActor{}), uintptr(160), "poolActor")
	assert.LessOrEqual(t, unsafe.Sizeof(conn{}), uintptr(128), "conn")
}
