package manager_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/idpool/idpool/manager"
)

// severityError is a SQL Server error as go-mssqldb's mssql.Error presents
// its severity.
type severityError uint8

func (e severityError) Error() string        { return fmt.Sprintf("severity %d", uint8(e)) }
func (e severityError) SQLErrorClass() uint8 { return uint8(e) }

// TestIsBrokenOnFatalSQLServerErrors: a SQL Server error of severity 20 or
// more (the server may end the session after it) breaks the connection,
// wrapped or not; a lesser one does not.
func TestIsBrokenOnFatalSQLServerErrors(t *testing.T) {
	assert.False(t, manager.IsBroken(severityError(16)))
	assert.False(t, manager.IsBroken(severityError(19)))
	assert.True(t, manager.IsBroken(severityError(20)))
	assert.True(t, manager.IsBroken(fmt.Errorf("query: %w", severityError(25))))
}
