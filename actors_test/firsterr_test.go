package e2e

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// firstErr keeps the first error offered to it, whatever its type, for a
// test whose goroutines may each fail. An atomic.Value cannot: its
// CompareAndSwap panics when the value offered is of another type than the
// one stored, so a second failure of another kind (a timeout after a
// driver error) panicked the whole test binary and hid the first one.
type firstErr struct{ p atomic.Pointer[error] }

// keep stores err unless an error is stored already.
func (f *firstErr) keep(err error) { f.p.CompareAndSwap(nil, &err) }

// err returns the first error kept, or nil.
func (f *firstErr) err() error {
	if p := f.p.Load(); p != nil {
		return *p
	}
	return nil
}

// TestFirstErrKeepsTheFirstOfErrorsOfDifferentTypes: two goroutines' calls
// failing in two ways (here a deadline, then a wrapped driver error) leave
// the first error to report, and no panic.
func TestFirstErrKeepsTheFirstOfErrorsOfDifferentTypes(t *testing.T) {
	var f firstErr
	require.NoError(t, f.err())
	f.keep(context.DeadlineExceeded)
	require.NotPanics(t, func() { f.keep(fmt.Errorf("query: %w", io.ErrUnexpectedEOF)) })
	require.ErrorIs(t, f.err(), context.DeadlineExceeded)
}
