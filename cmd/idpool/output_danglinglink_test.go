package main

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A link made before the first run (ln -s /srv/www/bench.html bench.html)
// points at no file yet. os.Create wrote the report through it; the
// write-then-rename replaced the link itself with the report, so the page
// the link was made to publish never appeared and the link was gone. It now
// creates the file the link points to, and the link stays, as for a link
// to a file that exists.
func TestOutputFileThroughALinkToNoFileYet(t *testing.T) {
	dir := t.TempDir()
	www := filepath.Join(dir, "www")
	require.NoError(t, os.Mkdir(www, 0o755))
	target := filepath.Join(www, "bench.html")
	link := filepath.Join(dir, "bench.html")
	mid := filepath.Join(dir, "mid.html") // a link to a relative link
	require.NoError(t, os.Symlink(filepath.Join("www", "bench.html"), mid))
	require.NoError(t, os.Symlink("mid.html", link))

	require.NoError(t, writeFile("report", link, func(w io.Writer) error {
		_, err := io.WriteString(w, "report")
		return err
	}))
	for _, l := range []string{link, mid} {
		st, err := os.Lstat(l)
		require.NoError(t, err)
		assert.NotZero(t, st.Mode()&os.ModeSymlink, "%s is still a link", l)
	}
	got, err := os.ReadFile(target)
	require.NoError(t, err)
	assert.Equal(t, "report", string(got))
}

// A loop of links fails, as os.Create failed on it, and is left as it was:
// renamed onto, its first link would have been replaced by the report.
func TestOutputFileThroughALoopOfLinksFails(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.html"), filepath.Join(dir, "b.html")
	require.NoError(t, os.Symlink("b.html", a))
	require.NoError(t, os.Symlink("a.html", b))
	err := writeFile("report", a, func(w io.Writer) error {
		_, err := io.WriteString(w, "report")
		return err
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "--report: open "+a+": too many levels of symbolic links")
	st, err := os.Lstat(a)
	require.NoError(t, err)
	assert.NotZero(t, st.Mode()&os.ModeSymlink, "the link is left as it was")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 2, "nothing left beside the links")
}
