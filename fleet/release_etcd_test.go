package fleet_test

import (
	"testing"
	"time"

	"github.com/idpool/idpool/fleet"
	"github.com/idpool/idpool/internal/etcdtest"
	"github.com/stretchr/testify/assert"
)

// TestUnmatchedReleaseMakesNoPermit: a Release with no permit in use (a
// caller's double release) is ignored. Counted, it left the budget one
// permit below zero in use, and the next TryAcquire calls handed out one
// permit more than etcd records for the process: the fleet passed its cap.
func TestUnmatchedReleaseMakesNoPermit(t *testing.T) {
	cli := etcdtest.StartClient(t, 1)
	b := newBudget(t, cli, fleet.Config{Prefix: "/t/release/", Cap: 2, Batch: 1, IdleReturn: time.Hour})
	takeN(t, b, 2)
	b.Want(2) // keep both permits at hand
	b.Release()
	b.Release()
	b.Release() // one too many
	assert.Zero(t, b.Stats().InUse)
	took := 0
	for range 3 {
		if b.TryAcquire() {
			took++
		}
	}
	assert.Equal(t, 2, took, "permits taken beyond the 2 etcd records for the process")
	b.Want(0)
	for range took {
		b.Release()
	}
}
