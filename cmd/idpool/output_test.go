package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An output file whose writing failed halfway (a full disk, a file size
// limit) was left in place, cut off, under the name of a complete report:
// `idpool sim --report r.html` on a full disk exited 1 but left 50 KB of a
// 1 MB page, and a previous complete report under that name was destroyed
// before the new one failed. Now the file appears only once it is
// complete, and a failed write leaves what was there before.
func TestOutputFileIsNeverLeftHalfWritten(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "r.html")
	failHalfway := func(w io.Writer) error {
		_, _ = io.WriteString(w, "<html>the first half")
		return errors.New("no space left on device")
	}

	err := writeFile("report", path, failHalfway)
	require.ErrorContains(t, err, "--report")
	assert.NoFileExists(t, path, "a report cut off halfway must not be left as if complete")

	require.NoError(t, os.WriteFile(path, []byte("the previous report"), 0o644))
	require.Error(t, writeFile("report", path, failHalfway))
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "the previous report", string(got), "a failed write keeps the file that was there")

	require.NoError(t, writeFile("report", path, func(w io.Writer) error {
		_, err := io.WriteString(w, "the new report")
		return err
	}))
	got, err = os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "the new report", string(got))
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.NotZero(t, st.Mode().Perm()&0o044, "readable by others, as os.Create made it (a browser, a CI artefact upload)")

	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary file is left beside the report: %v", entries)
}

// A report path that is a link keeps being one (the report replaces the file
// it points to), and one that is a device is written in place.
func TestOutputFileThroughALinkOrADevice(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target.html")
	link := filepath.Join(dir, "link.html")
	require.NoError(t, os.WriteFile(target, []byte("old"), 0o644))
	require.NoError(t, os.Symlink(target, link))
	require.NoError(t, writeFile("report", link, func(w io.Writer) error {
		_, err := io.WriteString(w, "new")
		return err
	}))
	st, err := os.Lstat(link)
	require.NoError(t, err)
	assert.NotZero(t, st.Mode()&os.ModeSymlink, "the link is still a link")
	got, err := os.ReadFile(target)
	require.NoError(t, err)
	assert.Equal(t, "new", string(got))

	require.NoError(t, writeFile("report", os.DevNull, func(w io.Writer) error {
		_, err := io.WriteString(w, "into the void")
		return err
	}))
	st, err = os.Stat(os.DevNull)
	require.NoError(t, err)
	assert.NotZero(t, st.Mode()&os.ModeDevice, "%s is still a device", os.DevNull)
}

// The same through the command, as a user meets it: a file size limit
// (ulimit -f) stops the HTML report partway.
func TestSimReportCutOffByAFileSizeLimitIsNotLeft(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh to set a file size limit")
	}
	bin := cliBinary(t)
	path := filepath.Join(t.TempDir(), "r.html")
	// ulimit -f counts 512- or 1024-byte blocks: 64 of them is far below
	// the page's embedded chart library.
	cmd := exec.Command(sh, "-c", `ulimit -f 64 && exec "$0" "$@"`, bin,
		"sim", "--mode", "virtual", "--duration", "1s", "--quiet", "--report", path)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, "%s", out)
	assert.Equal(t, exitFailed, ee.ExitCode(), "%s", out)
	assert.Contains(t, string(out), "idpool sim: --report: write "+path+": file too large", "the error names the file the user asked for")
	assert.Contains(t, string(out), "all invariants held", "the summary is still printed")
	assert.NoFileExists(t, path)
}

// failingWriter is a stdout that refuses every write, as /dev/full does.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, syscall.ENOSPC }

// `idpool demo > out.txt` on a full disk (or `> /dev/full`) printed
// nothing and exited 0, as if its figures had been delivered; sim and bench
// fail when their summary cannot be written, and so does demo now.
func TestDemoFailsWhenItsFiguresCannotBeWritten(t *testing.T) {
	var errb bytes.Buffer
	code := run(context.Background(), []string{"demo", "--duration", "100ms", "--identities", "3", "--workers", "2"}, failingWriter{}, &errb)
	assert.Equal(t, exitFailed, code)
	assert.Contains(t, errb.String(), "idpool demo: writing the figures: no space left on device")
}
