package workload

import (
	"flag"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/idpool/idpool/internal/doctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// simDocSection returns the text of docs/SIM.md from the heading
// "## "+title to the next "## " heading.
func simDocSection(t *testing.T, title string) string {
	t.Helper()
	b, err := os.ReadFile("../../docs/SIM.md")
	require.NoError(t, err)
	s, ok := doctest.Section(string(b), title)
	require.True(t, ok, "section %q", title)
	return s
}

// tableRows returns the cells of the rows of the markdown tables in s, less
// their header and separator rows.
func tableRows(s string) [][]string {
	var rows [][]string
	for _, line := range strings.Split(s, "\n") {
		if !strings.HasPrefix(line, "|") || strings.HasPrefix(line, "|---") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		rows = append(rows, cells)
	}
	if len(rows) > 0 {
		rows = rows[1:] // the header
	}
	return rows
}

var backtickedSpan = regexp.MustCompile("`([^`]+)`")

// TestSimDocInjectedBugsTableIsBugs: docs/SIM.md's "Injected bugs" table
// names every bug --inject-bug takes, each with the violation Bugs says
// catches it (the one TestEveryInjectedBugIsCaught requires), and no other:
// the table is how a reader learns what each bug proves.
func TestSimDocInjectedBugsTableIsBugs(t *testing.T) {
	doc := map[string]string{}
	for _, row := range tableRows(simDocSection(t, "Injected bugs")) {
		require.Len(t, row, 3, "row %q", row)
		name := backtickedSpan.FindStringSubmatch(row[0])
		caught := backtickedSpan.FindStringSubmatch(row[2])
		require.NotNil(t, name, "row %q names no bug", row)
		require.NotNil(t, caught, "row %q names no violation", row)
		doc[name[1]] = caught[1]
	}
	code := map[string]string{}
	for _, b := range Bugs() {
		code[b.Name] = b.Violation
	}
	assert.Equal(t, code, doc, "docs/SIM.md's Injected bugs table against workload.Bugs")
}

// workloadFlag matches a flag and the value the workload table shows for
// it: `--name value` or, inside a longer span, --name value.
var workloadFlag = regexp.MustCompile(`--([a-z-]+) ([^ ` + "`" + `]+)`)

// TestSimDocWorkloadTableShowsTheDefaults: every flag the "The workload"
// table of docs/SIM.md shows with a value is a workload flag whose default
// is that value (the table reads as the defaults), except --arrival
// poisson, the other arrival pattern, shown with its own flag. Every
// workload flag but --inject-bug (its own section) appears in the table.
func TestSimDocWorkloadTableShowsTheDefaults(t *testing.T) {
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	c := Default()
	c.RegisterFlags(fs)
	section := simDocSection(t, "The workload")
	shown := map[string]bool{}
	for _, row := range tableRows(section) {
		for _, span := range backtickedSpan.FindAllStringSubmatch(row[0]+" "+row[1], -1) {
			for _, m := range workloadFlag.FindAllStringSubmatch(span[1]+" ", -1) {
				name, value := m[1], m[2]
				f := fs.Lookup(name)
				if !assert.NotNil(t, f, "docs/SIM.md's workload table shows --%s, which is no workload flag", name) {
					continue
				}
				shown[name] = true
				if name == "arrival" && value == "poisson" || value == "N" {
					continue
				}
				assert.Equal(t, f.DefValue, value, "docs/SIM.md's workload table shows --%s %s; its default is %s", name, value, f.DefValue)
			}
		}
	}
	// The virtual-only latencies are named in the table without a value.
	for _, name := range []string{"validate-latency", "close-latency", "mailbox-latency"} {
		if strings.Contains(section, "`--"+name+"`") {
			shown[name] = true
		}
	}
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name != "inject-bug" {
			assert.True(t, shown[f.Name], "--%s is missing from docs/SIM.md's workload table", f.Name)
		}
	})
}
