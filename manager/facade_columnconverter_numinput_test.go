package manager

import (
	"context"
	"database/sql/driver"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/actors"
	"github.com/idpool/idpool/sim/memdb"
)

// numInputConverterDialer is converterDialer whose statements report
// numInput placeholders instead of one.
type numInputConverterDialer struct {
	converterDialer
	numInput int
}

func (d numInputConverterDialer) Dial(ctx context.Context, req actors.DialRequest) (driver.Conn, error) {
	c, err := d.converterDialer.Dial(ctx, req)
	if err != nil {
		return nil, err
	}
	return numInputConverterConn{c.(converterConn), d.numInput}, nil
}

type numInputConverterConn struct {
	converterConn
	numInput int
}

func (c numInputConverterConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	s, err := c.converterConn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	return numInputConverterStmt{s.(converterStmt), c.numInput}, nil
}

type numInputConverterStmt struct {
	converterStmt
	numInput int
}

func (s numInputConverterStmt) NumInput() int { return s.numInput }

// A statement that is a ColumnConverter is asked to convert an argument
// only for the placeholders it reports: with NumInput 0, for none (the
// call is refused by its count), and with NumInput -1 ("not known"), for
// every argument, as database/sql's ccChecker does. (Kills the mutants
// that turn columnConvert's want >= 0 into want > 0, which asked a
// statement of no placeholders to convert its column 0, and that drop it,
// which left the arguments of a statement of unknown placeholders
// unconverted.)
func TestFacadeStatementColumnConverterWithNoOrUnknownPlaceholders(t *testing.T) {
	for _, tc := range []struct {
		numInput int
		wantErr  string
		asked    int64
		ran      any
	}{
		{numInput: 0, wantErr: "sql: expected 0 arguments, got 1"},
		{numInput: -1, asked: 1, ran: "col0:7"},
	} {
		var asked atomic.Int64
		var lastArg atomic.Value
		d := numInputConverterDialer{converterDialer{db: memdb.New(), asked: &asked, lastArg: &lastArg}, tc.numInput}
		m, _ := newManager(t, Config{MaxSize: 1, Dialer: d})
		db := openFacade(t, m)
		st, err := db.PrepareContext(as("alice"), "SELECT 1")
		require.NoError(t, err)
		_, err = st.ExecContext(as("alice"), 7)
		if tc.wantErr != "" {
			assert.EqualError(t, err, tc.wantErr, "NumInput %d", tc.numInput)
		} else {
			assert.NoError(t, err, "NumInput %d", tc.numInput)
		}
		assert.Equal(t, tc.asked, asked.Load(), "NumInput %d: ColumnConverter asked for how many columns", tc.numInput)
		assert.Equal(t, tc.ran, lastArg.Load(), "NumInput %d: the argument the statement ran with", tc.numInput)
		require.NoError(t, st.Close())
	}
}
