package postgres_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReadmePgxSnippetIsTheExample checks that the README's PostgreSQL
// section shows loadAndReport exactly as Example_pgxNative compiles and
// runs it.
func TestReadmePgxSnippetIsTheExample(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	example, err := os.ReadFile("example_pgx_test.go")
	require.NoError(t, err)
	ex := string(example)
	begin, end := strings.Index(ex, "// pgxnative:begin\n"), strings.Index(ex, "// pgxnative:end")
	require.True(t, begin >= 0 && end > begin, "markers in the example")
	body := strings.TrimSpace(ex[begin+len("// pgxnative:begin\n") : end])

	section := string(readme)
	start := strings.Index(section, "## Azure Database for PostgreSQL with Entra ID")
	require.GreaterOrEqual(t, start, 0, "the README's PostgreSQL section")
	section = section[start:]
	section = section[:strings.Index(section[3:], "\n## ")+3]
	assert.Contains(t, section, "```go\n"+body+"\n```", "README's pgx snippet differs from drivers/postgres/example_pgx_test.go")
}
