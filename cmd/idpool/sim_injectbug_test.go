package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/sim/report"
	"github.com/idpool/idpool/sim/workload"
)

// `idpool sim --mode virtual --inject-bug skip-sent-check` (or
// steal-for-fill), run as docs/SIM.md lists them, failed with "injected bug
// ... was not caught" and nothing more: in the default workload an acquire's
// hop never meets a retirement, and no pool has a MinSize under a MaxTotal,
// so the bug never had its chance, and the checker looked broken. The
// verdict of such a bug not caught names the flags it needs, as a command
// that, run as printed, catches it.
func TestSimInjectedBugNotCaughtSaysWhatItNeeds(t *testing.T) {
	cmdLine := regexp.MustCompile("try `idpool sim ([^`]*)`")
	var hinted int
	for _, bug := range workload.Bugs() {
		if bug.Needs == "" {
			continue
		}
		hinted++
		cfg := workload.Default()
		cfg.InjectBug = bug.Name
		err := verdict(&report.Result{}, cfg) // a run in which nothing was caught
		require.Error(t, err, bug.Name)
		m := cmdLine.FindStringSubmatch(err.Error())
		require.NotNil(t, m, "%s: %v", bug.Name, err)
		assert.Contains(t, m[1], bug.Needs, bug.Name)

		code, _, errOut := runCLI(t, append(strings.Fields(m[1]), "--quiet")...)
		assert.Equal(t, exitOK, code, "%s: the suggested %q did not catch it: %s", bug.Name, m[1], errOut)
	}
	// The two bugs the default workload gives no chance.
	assert.Equal(t, 2, hinted)
}
