package manager

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFacadeSkipsANilOption: an option chosen at run time and left unset
// (var opt FacadeOption; if ... { opt = WithDefaultIdentity(id) }) is nil,
// and OpenDB, NewConnector and Open panicked on it with a nil dereference,
// where the package's other option lists (drivers/postgres's OpenOption
// and Option, the tokens constructors') skip a nil one.
func TestFacadeSkipsANilOption(t *testing.T) {
	m, _ := newManager(t, Config{MaxSize: 1})
	var unset FacadeOption
	require.NotPanics(t, func() {
		db := OpenDB(m, unset, WithDefaultIdentity(identity("alice")), nil)
		defer db.Close()
		var who string
		require.NoError(t, db.QueryRowContext(t.Context(), "SELECT IDENTITY").Scan(&who))
		assert.Equal(t, "test:alice", who, "the options around the nil one still apply")
	})
}
