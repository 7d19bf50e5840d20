package integration

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReadmeShowsTheExamples checks that the README's "With GORM, sqlx and
// sqlc" section holds withGORM and withSQLX exactly as example_test.go
// compiles and runs them.
func TestReadmeShowsTheExamples(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	example, err := os.ReadFile("example_test.go")
	require.NoError(t, err)
	section := string(readme)
	start := strings.Index(section, "## With GORM, sqlx and sqlc")
	require.GreaterOrEqual(t, start, 0, "the README has the section")
	section = section[start:]
	if end := strings.Index(section[3:], "\n## "); end >= 0 {
		section = section[:end+3]
	}
	for _, name := range []string{"gorm", "sqlx"} {
		ex := string(example)
		begin, end := strings.Index(ex, "// readme:"+name+":begin\n"), strings.Index(ex, "// readme:"+name+":end")
		require.True(t, begin >= 0 && end > begin, "markers for %s in example_test.go", name)
		body := strings.TrimSpace(ex[begin+len("// readme:"+name+":begin\n") : end])
		assert.Contains(t, section, body, "the README's %s code differs from integration/example_test.go", name)
	}
}
