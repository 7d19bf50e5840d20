package tds

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestExpressionNestingIsBounded: the parser recursed once per parenthesis
// (and per SESSION_CONTEXT argument), bounded only by the batch's token
// limit, so a 200 KB batch of 100,000 parentheses took 32 MB of stack in
// one request. Past maxExprDepth it now stops with error 191, as SQL Server
// does for statements nested too deeply.
func TestExpressionNestingIsBounded(t *testing.T) {
	nested := func(open, close string, n int) string {
		return "SELECT " + strings.Repeat(open, n) + "1" + strings.Repeat(close, n)
	}
	for _, sql := range []string{
		nested("(", ")", maxExprDepth-1),
		nested("SESSION_CONTEXT(", ")", maxExprDepth-1),
	} {
		_, err := parseBatch(sql)
		require.NoError(t, err, "%.40s...", sql)
	}
	for _, sql := range []string{
		nested("(", ")", maxExprDepth),
		nested("SESSION_CONTEXT(", ")", maxExprDepth),
		"SELECT " + strings.Repeat("(", 99990), // at the token limit, unclosed
	} {
		_, err := parseBatch(sql)
		var ee *execError
		require.True(t, errors.As(err, &ee), "%.40s...: %v", sql, err)
		assert.Equal(t, int32(191), ee.e.Number, "%.40s...", sql)
	}
}
