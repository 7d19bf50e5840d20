package report

import (
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/idpool/idpool/internal/doctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// simDoc returns docs/SIM.md.
func simDoc(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../docs/SIM.md")
	require.NoError(t, err)
	return string(b)
}

// simDocSection returns the text of docs/SIM.md from the heading
// "## "+title to the next "## " heading.
func simDocSection(t *testing.T, title string) string {
	t.Helper()
	s, ok := doctest.Section(simDoc(t), title)
	require.True(t, ok, "section %q", title)
	return s
}

var backtickedName = regexp.MustCompile("`([a-z_]+)`")

// TestSimDocInvariantsTableNamesEveryViolation: the "Invariants" table of
// docs/SIM.md has one row per counter of Violations, by its JSON name, and
// no other: the names are what a reader looks up from a report or a --json
// field.
func TestSimDocInvariantsTableNamesEveryViolation(t *testing.T) {
	var doc []string
	for _, line := range strings.Split(simDocSection(t, "Invariants"), "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		m := backtickedName.FindStringSubmatch(line)
		require.NotNil(t, m, "row %q", line)
		doc = append(doc, m[1])
	}
	var code []string
	vt := reflect.TypeFor[Violations]()
	for i := range vt.NumField() {
		code = append(code, strings.Split(vt.Field(i).Tag.Get("json"), ",")[0])
	}
	sort.Strings(doc)
	sort.Strings(code)
	assert.Equal(t, code, doc, "docs/SIM.md's Invariants table against Violations")
}

// TestSimDocLiveModeUncheckedListIsVirtualOnly: the "Limits" of
// docs/SIM.md name the invariants a live run does not check, which the
// report marks "(checked in virtual mode only)" (virtualOnly).
func TestSimDocLiveModeUncheckedListIsVirtualOnly(t *testing.T) {
	limits := simDocSection(t, "Limits")
	i := strings.Index(limits, "- In live mode ")
	require.GreaterOrEqual(t, i, 0)
	item := limits[i:]
	item = item[:strings.Index(item, " are not checked")]
	var doc []string
	for _, m := range backtickedName.FindAllStringSubmatch(item, -1) {
		doc = append(doc, m[1])
	}
	var code []string
	for name := range virtualOnly {
		code = append(code, name)
	}
	sort.Strings(doc)
	sort.Strings(code)
	assert.Equal(t, code, doc, "docs/SIM.md's Limits against the report's virtualOnly")
}

// TestSimDocQuotesTheVerdicts: docs/SIM.md quotes the verdict of a run that
// held every invariant, interrupted or not, as the report prints it.
func TestSimDocQuotesTheVerdicts(t *testing.T) {
	doc := simDoc(t)
	for _, interrupted := range []bool{false, true} {
		v := heldVerdict(&Result{Interrupted: interrupted})
		assert.True(t, strings.Contains(doc, `"`+v+`"`), "docs/SIM.md does not quote the verdict %q", v)
	}
}
