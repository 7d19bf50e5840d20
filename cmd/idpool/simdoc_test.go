package main

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/idpool/idpool/internal/doctest"
	"github.com/idpool/idpool/sim/workload"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// simDocSection returns the text of docs/SIM.md from the heading
// "## "+title to the next "## " heading, its runs of white space (line
// breaks included) made single spaces.
func simDocSection(t *testing.T, title string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "docs", "SIM.md"))
	require.NoError(t, err)
	s, ok := doctest.Section(string(b), title)
	require.True(t, ok, "section %q", title)
	return strings.Join(strings.Fields(s), " ")
}

// TestSimDocListsTheFleetFlags: docs/SIM.md's "Fleet mode" section lists
// exactly the flags `idpool sim --fleet` takes.
func TestSimDocListsTheFleetFlags(t *testing.T) {
	s := simDocSection(t, "Fleet mode: `--fleet N`")
	i := strings.Index(s, "It takes its own flags (")
	require.GreaterOrEqual(t, i, 0)
	s = s[i:]
	s = s[:strings.Index(s, "; listed under")]
	var doc []string
	for _, m := range regexp.MustCompile("`--([a-z-]+)`").FindAllStringSubmatch(s, -1) {
		doc = append(doc, m[1])
	}
	var code []string
	newFleetFlagSet(&fleetFlags{}).VisitAll(func(f *flag.Flag) { code = append(code, f.Name) })
	sort.Strings(doc)
	sort.Strings(code)
	assert.Equal(t, code, doc, "docs/SIM.md's fleet flags against newFleetFlagSet")
}

// docBound matches a bound docs/SIM.md gives one flag: "`--name` 1 to
// 1,000" or "`--name` at most 1m".
var docBound = regexp.MustCompile("`--([a-z-]+)` (?:([0-9][0-9,.]*[a-zµ]*) to|at most) ([0-9][0-9,.]*[a-zµ]*)")

// TestSimDocBoundsAreTheLimits: every bound docs/SIM.md states for a single
// flag, of the workload's flags and of fleet mode's, is the one the command
// enforces (simLimits, fleetLimits), and so the one its --help shows.
func TestSimDocBoundsAreTheLimits(t *testing.T) {
	cfg := workload.Default()
	var sf simFlags
	simFS := newSimFlagSet(io.Discard, &cfg, &sf).FlagSet
	for _, c := range []struct {
		section string
		fs      *flag.FlagSet
		limits  limits
		atLeast int
	}{
		{"The workload", simFS, simLimits, 10},
		{"Fleet mode: `--fleet N`", newFleetFlagSet(&fleetFlags{}), fleetLimits, 8},
	} {
		s := simDocSection(t, c.section)
		checked := 0
		for _, m := range docBound.FindAllStringSubmatchIndex(s, -1) {
			if strings.HasSuffix(s[:m[0]], "× ") {
				continue // a bound on a product of flags
			}
			name := s[m[2]:m[3]]
			f := c.fs.Lookup(name)
			l, ok := c.limits[name]
			if !assert.True(t, f != nil && ok, "docs/SIM.md (%s) bounds --%s, which has no limit", c.section, name) {
				continue
			}
			value := func(text string) float64 {
				text = strings.ReplaceAll(text, ",", "")
				if isDurationFlag(f) {
					d, err := time.ParseDuration(text)
					require.NoError(t, err, "--%s", name)
					return float64(d)
				}
				v, err := strconv.ParseFloat(text, 64)
				require.NoError(t, err, "--%s", name)
				return v
			}
			// A limit without a least value leaves it to the flag's own
			// checks (--headroom: not negative), which this does not read.
			if m[4] >= 0 && l.hasMin {
				assert.Equal(t, l.min, value(s[m[4]:m[5]]), "docs/SIM.md (%s): --%s's least value", c.section, name)
			}
			assert.Equal(t, l.max, value(s[m[6]:m[7]]), "docs/SIM.md (%s): --%s's bound", c.section, name)
			checked++
		}
		assert.GreaterOrEqual(t, checked, c.atLeast, "bounds found in docs/SIM.md's %s", c.section)
	}
}
