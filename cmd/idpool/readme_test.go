package main

import (
	"fmt"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/idpool/idpool/internal/doctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// repoRoot is the module root, two levels above this package.
const repoRoot = "../.."

// markdownLink matches [text](target) and ![alt](target).
var markdownLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// TestDocsLinksResolve checks that every relative link in README.md and
// docs/*.md names a file or directory of the repository.
func TestDocsLinksResolve(t *testing.T) {
	docs, err := filepath.Glob(filepath.Join(repoRoot, "docs", "*.md"))
	require.NoError(t, err)
	docs = append(docs, filepath.Join(repoRoot, "README.md"))
	checked := 0
	for _, doc := range docs {
		text, err := os.ReadFile(doc)
		require.NoError(t, err)
		for _, m := range markdownLink.FindAllStringSubmatch(string(text), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") || strings.HasPrefix(target, "#") {
				continue
			}
			target, _, _ = strings.Cut(target, "#")
			path := filepath.Join(filepath.Dir(doc), filepath.FromSlash(target))
			_, err := os.Stat(path)
			assert.NoError(t, err, "%s links to %s, which is not in the repository", doc, m[1])
			checked++
		}
	}
	assert.Positive(t, checked)
}

// TestReadmeQuickstartIsTheExample checks that the README's Quickstart code
// is the quickstart function that Example_quickstart compiles and runs.
func TestReadmeQuickstartIsTheExample(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	require.NoError(t, err)
	example, err := os.ReadFile(filepath.Join(repoRoot, "drivers", "sqlserver", "example_quickstart_test.go"))
	require.NoError(t, err)
	ex := string(example)
	begin, end := strings.Index(ex, "// quickstart:begin\n"), strings.Index(ex, "// quickstart:end")
	require.True(t, begin >= 0 && end > begin, "markers in the example")
	body := strings.TrimSpace(ex[begin+len("// quickstart:begin\n") : end])

	section := string(readme)
	start := strings.Index(section, "## Quickstart")
	require.GreaterOrEqual(t, start, 0)
	section = section[start:]
	section = section[:strings.Index(section[3:], "\n## ")+3]
	assert.Contains(t, section, body, "README Quickstart differs from drivers/sqlserver/example_quickstart_test.go")
	for _, imp := range regexp.MustCompile(`"(github.com/[^"]+|context|database/sql/driver|fmt)"`).FindAllString(section, -1) {
		assert.Contains(t, ex, imp, "the README imports what the example imports")
	}
}

// TestReadmeFleetIsTheExample checks that the README's fleet code is the
// withFleet function that fleet/example_test.go compiles and runs against
// etcd.
func TestReadmeFleetIsTheExample(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	require.NoError(t, err)
	example, err := os.ReadFile(filepath.Join(repoRoot, "fleet", "example_test.go"))
	require.NoError(t, err)
	ex := string(example)
	begin, end := strings.Index(ex, "// fleet:begin\n"), strings.Index(ex, "// fleet:end")
	require.True(t, begin >= 0 && end > begin, "markers in the example")
	body := strings.TrimSpace(ex[begin+len("// fleet:begin\n") : end])

	section := string(readme)
	start := strings.Index(section, "## Past one process: a fleet budget")
	require.GreaterOrEqual(t, start, 0)
	section = section[start:]
	section = section[:strings.Index(section[3:], "\n## ")+3]
	assert.Contains(t, section, "```go\n"+body+"\n```", "README fleet code differs from fleet/example_test.go")
	assert.Contains(t, section, "(docs/FLEET.md)")
	for _, imp := range regexp.MustCompile(`"(github.com/[^"]+|go.etcd.io/[^"]+)"`).FindAllString(section, -1) {
		assert.Contains(t, ex, imp, "the README names the imports the example uses")
	}
}

// TestReadmeNamesEveryLockOfTheLibrary checks the README's account of the
// library's locks: the four files it names hold the only sync.Mutex,
// sync.RWMutex or sync.Map outside the simulators, the CLI and the test
// helpers, and messages/, actors/, manager/ and tokens/ hold none (DESIGN.md).
func TestReadmeNamesEveryLockOfTheLibrary(t *testing.T) {
	notLibrary := map[string]bool{"sim": true, "cmd": true, "bench": true, "examples": true, "actors_test": true,
		"integration": true, "internal/pgtest": true, "internal/etcdtest": true, "internal/syncbuf": true, "internal/netfault": true}
	lock := regexp.MustCompile(`\bsync\.(RW)?Mutex\b|\bsync\.Map\b`)
	var locked []string
	err := filepath.WalkDir(repoRoot, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(repoRoot, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if notLibrary[rel] || strings.HasPrefix(d.Name(), ".") && rel != "." || d.Name() == "testdata" || d.Name() == "node_modules" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(rel, ".go") || strings.HasSuffix(rel, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if lock.Match(src) {
			locked = append(locked, rel)
		}
		return nil
	})
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"fleet/budget.go", "onbehalf/cache.go", "drivers/postgres/sessionconn.go",
		"drivers/sqlserver/transport.go"}, locked)

	readme, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	require.NoError(t, err)
	for _, f := range locked {
		assert.Contains(t, string(readme), "(`"+f+"`", "the README names %s among the places that hold a lock", f)
	}
}

// TestDesignImportLayering checks DESIGN.md's "A package imports downwards
// only": the idpool packages each core package imports (outside internal/),
// from its non-test files.
func TestDesignImportLayering(t *testing.T) {
	const module = "github.com/idpool/idpool/"
	want := map[string][]string{
		"tokens":            nil,
		"messages":          {"tokens"},
		"actors":            {"messages", "tokens"},
		"manager/decide":    {"actors", "tokens"},
		"manager":           {"actors", "manager/decide", "messages", "tokens"},
		"drivers/sqlserver": {"actors", "manager", "tokens"},
		"drivers/postgres":  {"actors", "manager", "tokens"},
	}
	for pkg, imports := range want {
		files, err := filepath.Glob(filepath.Join(repoRoot, filepath.FromSlash(pkg), "*.go"))
		require.NoError(t, err)
		got := map[string]bool{}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			parsed, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
			require.NoError(t, err)
			for _, imp := range parsed.Imports {
				path := strings.Trim(imp.Path.Value, `"`)
				if rest, ok := strings.CutPrefix(path, module); ok && !strings.HasPrefix(rest, "internal/") {
					got[rest] = true
				}
			}
		}
		var have []string
		for p := range got {
			have = append(have, p)
		}
		assert.ElementsMatch(t, imports, have, "%s imports", pkg)
	}
}

// readmeSection returns the README's text from the heading "## "+title to
// the next "## " heading.
func readmeSection(t *testing.T, title string) string {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	require.NoError(t, err)
	s, ok := doctest.Section(string(readme), title)
	require.True(t, ok, "the README has the section %q", title)
	return s
}

// TestReadmeCommandLineIsTheCLIs checks the README's account of the
// command line against the CLI itself: its table names every command and
// no other, and its exit codes say what `idpool --help` says, clause for
// clause (the README once said only an interrupted live sim exited 1, and
// neither said that demo exits 1 when its isolation check fails).
func TestReadmeCommandLineIsTheCLIs(t *testing.T) {
	section := readmeSection(t, "The command line: `idpool`")
	var documented []string
	for _, m := range regexp.MustCompile("(?m)^\\| `idpool ([a-z]+)` \\|").FindAllStringSubmatch(section, -1) {
		documented = append(documented, m[1])
	}
	var registered []string
	for name := range commands {
		registered = append(registered, name)
	}
	assert.ElementsMatch(t, registered, documented, "the README's command table against the CLI's commands")

	// Markdown aside (bold, code spans, line breaks), each exit code's
	// text in the README is the CLI's.
	flat := func(s string) string {
		s = strings.NewReplacer("**", "", "`", "").Replace(s)
		return strings.Join(strings.Fields(s), " ")
	}
	start := strings.Index(section, "Exit codes, the same for every command")
	require.GreaterOrEqual(t, start, 0, "the README's exit codes")
	readme := flat(section[start : start+strings.Index(section[start:], "\n\n")])
	codes := regexp.MustCompile(`(?m)^  ([0-9])  `).Split(strings.TrimPrefix(exitCodesHelp, "Exit codes:\n"), -1)[1:]
	require.Len(t, codes, 3)
	for i, text := range codes {
		assert.Contains(t, readme, fmt.Sprintf("%d %s", i, flat(text)), "the README's exit code %d against `idpool --help`", i)
	}
}

// TestReadmeLayoutNamesEveryPackage checks the README's Layout table
// against the tree: every directory that holds Go files (tests alone
// included, as actors_test/) has a row, and every directory a row names
// holds Go files. internal/doctest once had no row.
func TestReadmeLayoutNamesEveryPackage(t *testing.T) {
	var listed []string
	for _, line := range strings.Split(readmeSection(t, "Layout"), "\n") {
		first, _, ok := strings.Cut(strings.TrimPrefix(line, "| "), " |")
		if !ok || !strings.HasPrefix(line, "| `") {
			continue
		}
		for _, m := range regexp.MustCompile("`([^`]+)/`").FindAllStringSubmatch(first, -1) {
			listed = append(listed, m[1])
		}
	}
	var packages []string
	err := filepath.WalkDir(repoRoot, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(repoRoot, path)
		rel = filepath.ToSlash(rel)
		if !d.IsDir() {
			return nil
		}
		if strings.HasPrefix(d.Name(), ".") && rel != "." || d.Name() == "testdata" || d.Name() == "node_modules" {
			return filepath.SkipDir
		}
		if goFiles, _ := filepath.Glob(filepath.Join(path, "*.go")); len(goFiles) > 0 && rel != "." {
			packages = append(packages, rel)
		}
		return nil
	})
	require.NoError(t, err)
	assert.ElementsMatch(t, packages, listed, "the README's Layout table against the directories that hold Go files")
}
