package manager

import (
	"database/sql/driver"
	"io"
	"testing"

	"github.com/stretchr/testify/require"
)

func driverTxOptions() driver.TxOptions { return driver.TxOptions{} }

func firstValue(t *testing.T, rows driver.Rows) driver.Value {
	t.Helper()
	defer rows.Close()
	dest := make([]driver.Value, len(rows.Columns()))
	require.NoError(t, rows.Next(dest))
	require.ErrorIs(t, rows.Next(dest), io.EOF)
	return dest[0]
}

func firstInt(t *testing.T, rows driver.Rows) int64 {
	v, ok := firstValue(t, rows).(int64)
	require.True(t, ok)
	return v
}

func firstString(t *testing.T, rows driver.Rows) string {
	switch v := firstValue(t, rows).(type) {
	case string:
		return v
	case []byte:
		return string(v)
	}
	t.Fatal("not a string")
	return ""
}
