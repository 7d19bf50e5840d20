package pgtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReapOrphansStopsServersOfDeadProcesses(t *testing.T) {
	orphan := Start(t)
	alive := Start(t)

	// A pid that surely belongs to no process any more.
	cmd := exec.Command("true")
	require.NoError(t, cmd.Run())
	dead := cmd.Process.Pid
	require.NoError(t, os.WriteFile(filepath.Join(orphan.dir, ownerFile), []byte(strconv.Itoa(dead)), 0o644))

	reapOrphans(orphan.bin, orphan.as)

	_, err := os.Stat(orphan.dir)
	assert.True(t, os.IsNotExist(err), "orphan's directory removed")
	_, err = connect(t, orphan.AdminDSN())
	assert.Error(t, err, "orphan stopped")
	_, err = connect(t, alive.AdminDSN())
	assert.NoError(t, err, "a live process's server is left alone")
	orphan.mu.Lock()
	orphan.running, orphan.closed = false, true // already gone: nothing for Cleanup to do
	orphan.mu.Unlock()
}

// recordingTB records Skip and Fatal instead of ending the goroutine.
type recordingTB struct {
	testing.TB
	skipped, fatal string
}

func (r *recordingTB) Helper()                  {}
func (r *recordingTB) Skipf(f string, a ...any) { r.skipped = fmt.Sprintf(f, a...) }
func (r *recordingTB) Fatal(a ...any)           { r.fatal = fmt.Sprint(a...) }

func TestMissingBinariesSkipUnlessRequired(t *testing.T) {
	missing := fmt.Errorf("%w; looked in /nowhere", ErrNotInstalled)

	t.Setenv(requireEnv, "")
	r := &recordingTB{TB: t}
	skipOrFail(r, missing)
	assert.Contains(t, r.skipped, "apt-get install postgresql-15")
	assert.Empty(t, r.fatal)

	t.Setenv(requireEnv, "1")
	r = &recordingTB{TB: t}
	skipOrFail(r, missing)
	assert.Empty(t, r.skipped)
	assert.Contains(t, r.fatal, "apt-get install postgresql-15")

	t.Setenv(requireEnv, "")
	r = &recordingTB{TB: t}
	skipOrFail(r, fmt.Errorf("pgtest: initdb failed"))
	assert.Empty(t, r.skipped, "other errors never skip")
	assert.NotEmpty(t, r.fatal)
}

func TestFindBinariesHonoursBindirOverride(t *testing.T) {
	t.Setenv("PGTEST_BINDIR", t.TempDir()) // empty: falls through to the others
	b, err := findBinaries()
	if err != nil {
		skipOrFail(t, err)
	}
	assert.True(t, isExecutable(b.initdb))
	assert.True(t, isExecutable(b.pgCtl))
	assert.True(t, isExecutable(b.postgres))

	t.Setenv("PGTEST_BINDIR", filepath.Dir(b.initdb))
	b2, err := findBinaries()
	require.NoError(t, err)
	assert.Equal(t, b, b2)
}
