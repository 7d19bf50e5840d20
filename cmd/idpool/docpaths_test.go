package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// docPathSpan matches a backticked span that reads as a path: words joined
// by slashes, with a trailing slash or a glob allowed (`sim/virtual`,
// `manager/budget.go`, `actors_test/isolation_*_test.go`).
var docPathSpan = regexp.MustCompile("`([A-Za-z0-9_.*-]+(?:/[A-Za-z0-9_.*-]*)+)`")

// docLink matches the target of a relative Markdown link: [text](FILE.md#x).
var docLink = regexp.MustCompile(`\]\(([^):#]+)(?:#[^)]*)?\)`)

// goQualifier matches the ".Name" that ends a span naming a package's
// identifier (`internal/mailbox.LentBatch`).
var goQualifier = regexp.MustCompile(`\.[A-Z][A-Za-z0-9]*$`)

// TestDocsNameOnlyPathsThatExist: every file or directory of this
// repository that docs/ARCHITECTURE.md, DESIGN.md, FLEET.md and SIM.md name
// in backticks, and every document they link to, exists: a reader sent to
// `manager/budget.go` must find it there. A span whose first part is none of
// the repository's top-level entries (an etcd key `h/`, a module path
// `go.etcd.io/...`) is no path of ours, unless it names a Go file.
func TestDocsNameOnlyPathsThatExist(t *testing.T) {
	top := map[string]bool{}
	entries, err := os.ReadDir(repoRoot)
	require.NoError(t, err)
	for _, e := range entries {
		top[e.Name()] = true
	}
	for _, doc := range []string{"ARCHITECTURE.md", "DESIGN.md", "FLEET.md", "SIM.md"} {
		b, err := os.ReadFile(filepath.Join(repoRoot, "docs", doc))
		require.NoError(t, err)
		text := string(b)
		checked := 0
		for _, m := range docPathSpan.FindAllStringSubmatch(text, -1) {
			p := goQualifier.ReplaceAllString(m[1], "")
			first, _, _ := strings.Cut(p, "/")
			if !top[first] {
				assert.False(t, strings.HasSuffix(p, ".go"), "docs/%s names `%s`, which is not under any top-level directory", doc, m[1])
				continue
			}
			found, err := filepath.Glob(filepath.Join(repoRoot, filepath.FromSlash(strings.TrimSuffix(p, "/"))))
			require.NoError(t, err, "docs/%s: `%s`", doc, m[1])
			assert.NotEmpty(t, found, "docs/%s names `%s`, which does not exist", doc, m[1])
			checked++
		}
		for _, m := range docLink.FindAllStringSubmatch(text, -1) {
			if strings.Contains(m[1], "//") {
				continue // a URL
			}
			_, err := os.Stat(filepath.Join(repoRoot, "docs", filepath.FromSlash(m[1])))
			assert.NoError(t, err, "docs/%s links to %s", doc, m[1])
		}
		assert.Positive(t, checked, "paths found in docs/%s", doc)
	}
}
