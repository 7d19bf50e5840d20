package actors

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

type causeKey struct{}

// TestAnAnsweredAcquireLeavesNoCtxBehind: answered takes an acquire's ctx
// out of the queue of causes, and the slot its removal frees at the end of
// the slice (kept for the next wait) is cleared: a ctx left there would keep
// the caller's request values (and what they reference) alive for as long
// as the pool stays busy. Kills the mutant that drops that clear.
func TestAnAnsweredAcquireLeavesNoCtxBehind(t *testing.T) {
	a := &poolActor{}
	a.waiting = []waitingCause{
		{1, context.WithValue(context.Background(), causeKey{}, 1)},
		{2, context.WithValue(context.Background(), causeKey{}, 2)},
	}
	a.answered(1)
	require.Len(t, a.waiting, 1)
	require.EqualValues(t, 2, a.waiting[0].id)
	require.Nil(t, a.waiting[:cap(a.waiting)][1].ctx, "the freed slot keeps the answered acquire's ctx")
}
