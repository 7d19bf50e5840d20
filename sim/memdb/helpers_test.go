package memdb_test

import (
	"context"
	"database/sql/driver"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/actors"
	"github.com/idpool/idpool/sim/memdb"
	"github.com/idpool/idpool/tokens"
)

// dial opens a conn for a managed identity with a token.
func dial(t *testing.T, db *memdb.DB, disc, tok string) *memdb.Conn {
	t.Helper()
	c, err := db.Dial(context.Background(), actors.DialRequest{
		Key:   tokens.NewKey("srv", disc),
		Token: tokens.Token{Value: tok, ExpiresOn: time.Unix(1_700_000_000, 0)},
	})
	require.NoError(t, err)
	return c.(*memdb.Conn)
}

// query runs q on c and returns its single value (nil for no rows).
func query(t *testing.T, c *memdb.Conn, q string) (driver.Value, error) {
	t.Helper()
	rows, err := c.QueryContext(context.Background(), q, nil)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	dest := make([]driver.Value, len(rows.Columns()))
	if err := rows.Next(dest); err == io.EOF {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	require.Equal(t, io.EOF, rows.Next(dest), "at most one row")
	return dest[0], nil
}

func exec(t *testing.T, c *memdb.Conn, q string) error {
	t.Helper()
	_, err := c.ExecContext(context.Background(), q, nil)
	return err
}

func count(t *testing.T, c *memdb.Conn, table string) int64 {
	t.Helper()
	v, err := query(t, c, "SELECT COUNT "+table)
	require.NoError(t, err)
	return v.(int64)
}

// dialReq is a request for worker w's own managed identity.
func dialReq(w int) actors.DialRequest {
	return actors.DialRequest{
		Key:   tokens.NewKey("srv", fmt.Sprintf("msi:%d", w)),
		Token: tokens.Token{Value: fmt.Sprintf("tok-%d", w)},
	}
}
