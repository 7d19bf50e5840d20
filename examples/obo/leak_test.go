package main

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if the example leaves a goroutine running once
// run returns: its HTTP server, the simulated Entra ID and SQL Server, and
// the Manager's actors must all be stopped.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
