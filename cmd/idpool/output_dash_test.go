package main

import (
	"bytes"
	"context"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
)

// "-" is the usual name of the standard output, not a flag: `idpool bench
// --json-file -` was refused as `--json-file "-": a flag, not a file name`,
// which tells a user who meant stdout nothing they can use. It is refused
// (before any work, no file named "-" written) with the names that do
// work: /dev/stdout, --json for the JSON object alone, ./- for a file.
func TestOutputFileDashIsRefusedWithTheStdoutSpelling(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"bench", "--json-file", "-"}, `--json-file -: "-" is not the standard output here: name it /dev/stdout (or ./- for a file named "-")`},
		{[]string{"sim", "--report", "-"}, `--report -: "-" is not the standard output here: name it /dev/stdout (or ./- for a file named "-")`},
	} {
		var out, errb bytes.Buffer
		code := run(context.Background(), c.args, &out, &errb)
		assert.Equal(t, exitUsage, code, "%v: %s", c.args, errb.String())
		assert.Contains(t, errb.String(), c.want, c.args)
		entries, _ := os.ReadDir(".")
		assert.Empty(t, entries, "%v: no file written", c.args)
	}
}
