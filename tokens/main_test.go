package tokens_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/idpool/idpool/sim/entra"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	tenant = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
	sqlAud = "https://database.windows.net/"
	pgAud  = "https://ossrdbms-aad.database.windows.net/"
)

// startEntra runs a local Entra ID for the test.
func startEntra(t *testing.T) *entra.Server {
	t.Helper()
	s, err := entra.New(entra.Config{})
	require.NoError(t, err)
	t.Cleanup(s.Close)
	return s
}

func testCtx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}
