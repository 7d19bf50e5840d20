package main

import (
	"bytes"
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestExampleRuns runs the demo: each user sees their own SUSER_SNAME(), a
// pool hit costs no exchange, expired and forged tokens get 401, and Alice
// keeps working on a new connection after her first token expired; no more
// exchanges than physical opens.
func TestExampleRuns(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	require.NoError(t, run(ctx, &out))
	got := out.String()
	for _, want := range []string{
		`alice:\s+200 alice@contoso.example`,
		`bob:\s+200 bob@contoso.example`,
		`bob again \(a pool hit\):\s+200 bob@contoso.example`,
		`an expired token:\s+401`,
		`a forged token:\s+401`,
		`alice, renewed:\s+200 alice@contoso.example`,
		`alice's first token, expired:\s+401`,
		`alice, on a new connection:\s+200 alice@contoso.example`,
		// alice, bob, alice after Evict: three opens, one exchange each.
		`physical opens: 3, token exchanges: 3`,
	} {
		assert.Regexp(t, regexp.MustCompile(want), got)
	}
}
