package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The output file's directory, checked before the run, can be gone (or
// read-only) by its end: a CI job cleaning up, a bench run of minutes. The
// error named the temporary file renameio tried to create
// ("open /gone/.r.html5577006791947779410: no such file or directory"), a
// name the user never gave; it names the user's path.
func TestOutputFileErrorNamesTheUsersPathNotTheTemporaryOne(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "gone")
	path := filepath.Join(dir, "r.html")
	ran := false
	err := writeFile("report", path, func(w io.Writer) error {
		ran = true
		_, err := io.WriteString(w, "report")
		return err
	})
	require.Error(t, err)
	assert.False(t, ran)
	assert.Contains(t, err.Error(), "--report: ")
	assert.Contains(t, err.Error(), path, "the error names the user's path")
	assert.NotContains(t, err.Error(), ".r.html", "the error names no temporary file")
	assert.ErrorIs(t, err, os.ErrNotExist)
}

// The temporary file is written beside the output file, as writeFile says:
// renameio's default put it in $TMPDIR whenever that was on the same file
// system, where a killed run leaves it, and where its name came into
// errors.
func TestOutputFileTemporaryIsBesideIt(t *testing.T) {
	root := t.TempDir()
	tmp := filepath.Join(root, "tmp")
	dir := filepath.Join(root, "out")
	require.NoError(t, os.Mkdir(tmp, 0o755))
	require.NoError(t, os.Mkdir(dir, 0o755))
	t.Setenv("TMPDIR", tmp)
	path := filepath.Join(dir, "r.html")
	var beside []string
	require.NoError(t, writeFile("report", path, func(w io.Writer) error {
		entries, err := os.ReadDir(dir)
		require.NoError(t, err)
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".r.html") {
				beside = append(beside, e.Name())
			}
		}
		_, err = io.WriteString(w, "report")
		return err
	}))
	assert.Len(t, beside, 1, "the temporary file is beside the output file")
	left, err := os.ReadDir(tmp)
	require.NoError(t, err)
	assert.Empty(t, left, "nothing in $TMPDIR")
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "report", string(got))
}
