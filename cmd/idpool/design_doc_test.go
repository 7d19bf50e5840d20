package main

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const modulePath = "github.com/idpool/idpool/"

// designLayout returns the directories docs/DESIGN.md's "Layout" block
// lists (first column, without the trailing slash).
func designLayout(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "docs", "DESIGN.md"))
	require.NoError(t, err)
	s := string(b)
	i := strings.Index(s, "## Layout\n\n```\n")
	require.GreaterOrEqual(t, i, 0)
	s = s[i+len("## Layout\n\n```\n"):]
	s = s[:strings.Index(s, "```")]
	var dirs []string
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && strings.HasSuffix(f[0], "/") {
			dirs = append(dirs, strings.TrimSuffix(f[0], "/"))
		}
	}
	return dirs
}

// TestDesignDocLayoutNamesEveryTopLevelPackage: docs/DESIGN.md's Layout
// lists every top-level directory that holds Go code (itself or one of its
// subdirectories, as examples/obo/), and each directory it lists exists.
func TestDesignDocLayoutNamesEveryTopLevelPackage(t *testing.T) {
	listed := map[string]bool{}
	for _, d := range designLayout(t) {
		listed[d] = true
		_, err := os.Stat(filepath.Join(repoRoot, filepath.FromSlash(d)))
		assert.NoError(t, err, "docs/DESIGN.md's Layout lists %s/", d)
	}
	entries, err := os.ReadDir(repoRoot)
	require.NoError(t, err)
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		nested, _ := filepath.Glob(filepath.Join(repoRoot, e.Name(), "*", "*.go"))
		direct, _ := filepath.Glob(filepath.Join(repoRoot, e.Name(), "*.go"))
		if len(nested)+len(direct) == 0 {
			continue
		}
		covered := listed[e.Name()]
		for d := range listed {
			covered = covered || strings.HasPrefix(d, e.Name()+"/")
		}
		assert.True(t, covered, "docs/DESIGN.md's Layout does not list %s/", e.Name())
	}
}

// designImports are the packages of this module each package may import,
// as docs/DESIGN.md's Layout states ("A package imports downwards only"),
// besides internal/, which any may import and which imports none of these.
var designImports = map[string][]string{
	"tokens":            nil,
	"messages":          {"tokens"},
	"actors":            {"messages", "tokens"},
	"manager/decide":    {"actors", "tokens"},
	"manager":           {"manager/decide", "actors", "messages", "tokens"},
	"drivers/sqlserver": {"manager", "actors", "tokens"},
	"drivers/postgres":  {"manager", "actors", "tokens"},
	"fleet":             {"manager"},
	"onbehalf":          {"tokens"},
	"idpoolhttp":        {"onbehalf", "tokens"},
}

// packageImports returns the module's packages that the non-test Go files
// of dir import.
func packageImports(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot, filepath.FromSlash(dir), "*.go"))
	require.NoError(t, err)
	seen := map[string]bool{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
		require.NoError(t, err)
		for _, imp := range f.Imports {
			p, err := strconv.Unquote(imp.Path.Value)
			require.NoError(t, err)
			if rest, ok := strings.CutPrefix(p, modulePath); ok {
				seen[rest] = true
			}
		}
	}
	var out []string
	for p := range seen {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// TestDesignDocImportRule: each package imports only what docs/DESIGN.md
// says it may, and internal/ imports none of them.
func TestDesignDocImportRule(t *testing.T) {
	for pkg, allowed := range designImports {
		for _, imp := range packageImports(t, pkg) {
			if strings.HasPrefix(imp, "internal/") {
				continue
			}
			assert.Contains(t, allowed, imp, "%s imports %s, against docs/DESIGN.md's import rule", pkg, imp)
		}
	}
	err := filepath.WalkDir(filepath.Join(repoRoot, "internal"), func(path string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(repoRoot, path)
		require.NoError(t, err)
		for _, imp := range packageImports(t, filepath.ToSlash(rel)) {
			assert.True(t, strings.HasPrefix(imp, "internal/"), "%s imports %s: internal/ imports none of the module's packages", rel, imp)
		}
		return nil
	})
	require.NoError(t, err)
}
