package main

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// TestAStartThatFailsLeavesNothingRunning: when the API's listener cannot
// be opened, the last step of start, start returns its error with the
// simulated Entra ID and SQL Server and the Manager it had already started
// all stopped, not running on with nothing to stop them.
func TestAStartThatFailsLeavesNothingRunning(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	defer func(addr string) { listenAddr = addr }(listenAddr)
	listenAddr = "127.0.0.1:-1" // no such port
	r, err := start()
	require.Error(t, err)
	require.Nil(t, r)
}
