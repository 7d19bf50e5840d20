package main

import (
	"bytes"
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/sim/entra"
)

// TestExampleRuns runs the demo: each user sees their own SUSER_SNAME(), a
// pool hit costs no exchange, expired and forged tokens get 401, Alice
// keeps working on a new connection after her first token expired, and
// Carol, whom conditional access asks for MFA, gets Entra's claims
// challenge and is served once she signed in with MFA; no more exchanges
// than physical opens.
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
		`carol, MFA required:\s+401 claims=\{"access_token":\{"capolids":\{"essential":true,"values":\["` + entra.MFAPolicyID + `"\]\}\}\}`,
		`carol, after MFA:\s+200 carol@contoso.example`,
		// alice, bob, alice after Evict, carol after MFA: four opens, one
		// exchange each (the one refused counts none).
		`physical opens: 4, token exchanges: 4`,
	} {
		assert.Regexp(t, regexp.MustCompile(want), got)
	}
}
