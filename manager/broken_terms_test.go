package manager_test

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/idpool/idpool/manager"
)

// Each term of IsBroken's documented list, bare and wrapped, and an
// ordinary error that is none of them. (Kills the mutants that drop any
// one term; most are masked elsewhere, by note's ctx check, say.)
func TestIsBrokenOnEachDocumentedError(t *testing.T) {
	for name, err := range map[string]error{
		"ErrBadConn":       driver.ErrBadConn,
		"Canceled":         context.Canceled,
		"DeadlineExceeded": context.DeadlineExceeded,
		"EOF":              io.EOF,
		"UnexpectedEOF":    io.ErrUnexpectedEOF,
		"net.Error":        &net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset by peer")},
	} {
		assert.True(t, manager.IsBroken(err), name)
		assert.True(t, manager.IsBroken(fmt.Errorf("query: %w", err)), "wrapped "+name)
	}
	assert.False(t, manager.IsBroken(errors.New("syntax error")))
	assert.False(t, manager.IsBroken(nil))
}
