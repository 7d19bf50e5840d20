package manager

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
)

// sqlServerError stands in for go-mssqldb's mssql.Error: a number and a
// severity, read through the same methods.
type sqlServerError struct {
	number int32
	class  uint8
}

func (e sqlServerError) Error() string         { return fmt.Sprintf("mssql: error %d", e.number) }
func (e sqlServerError) SQLErrorNumber() int32 { return e.number }
func (e sqlServerError) SQLErrorClass() uint8  { return e.class }

// TestAResetRefusedBySQLServerIsABadConnection: error 18059 (the server
// refused to reset the session and ended it, before running the request)
// breaks the lease and comes back as driver.ErrBadConn, still carrying the
// server's error; another fatal error breaks the lease but is not
// ErrBadConn, since its request may have run.
func TestAResetRefusedBySQLServerIsABadConnection(t *testing.T) {
	ctx := context.Background()
	refused := sqlServerError{number: 18059, class: 20}
	l := &Lease{}
	err := l.note(ctx, fmt.Errorf("query: %w", refused))
	assert.True(t, l.broken())
	assert.ErrorIs(t, err, driver.ErrBadConn)
	var se sqlServerError
	assert.True(t, errors.As(err, &se))
	assert.EqualValues(t, 18059, se.number)

	l = &Lease{}
	err = l.note(ctx, sqlServerError{number: 596, class: 21})
	assert.True(t, l.broken(), "a fatal error breaks the lease")
	assert.NotErrorIs(t, err, driver.ErrBadConn, "but its request may have run: no retry")

	l = &Lease{}
	err = l.note(ctx, sqlServerError{number: 18059, class: 16})
	assert.False(t, l.broken(), "the number alone, below the fatal severities, is an ordinary error")
	assert.NotErrorIs(t, err, driver.ErrBadConn)
}
