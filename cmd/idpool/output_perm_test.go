package main

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A report the user kept private (chmod 600) or shared with a group (664)
// kept that mode when os.Create rewrote it; written beside it and renamed
// onto it, it came back 0644: a private report readable by every user of the
// machine. The new file now takes the mode of the one it replaces.
func TestOutputFileKeepsTheModeOfTheFileItReplaces(t *testing.T) {
	for _, mode := range []os.FileMode{0o600, 0o640, 0o664} {
		path := filepath.Join(t.TempDir(), "r.html")
		require.NoError(t, os.WriteFile(path, []byte("old"), 0o600))
		require.NoError(t, os.Chmod(path, mode))
		require.NoError(t, writeFile("report", path, func(w io.Writer) error {
			_, err := io.WriteString(w, "new")
			return err
		}))
		st, err := os.Stat(path)
		require.NoError(t, err)
		assert.Equal(t, mode, st.Mode().Perm(), "the report's mode, as the user set it")
	}
}
