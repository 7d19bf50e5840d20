package main

import (
	"bytes"
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// An output flag given without its file name took the next flag as the
// name, as the flag package does: `idpool bench --json-file --quick` ran
// the full bench (minutes, not the smoke run) and wrote out.json to a file
// named "--quick"; `idpool sim --report --json` printed text, not JSON, into
// an HTML file named "--json"; `idpool sim --report --fleet` started a
// fleet of processes. A file name that starts with "-" is refused, naming
// the flag that lacks its value.
func TestOutputFlagWithoutItsFileNameIsRefused(t *testing.T) {
	t.Chdir(t.TempDir()) // were a file written, it would be here
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"bench", "--json-file", "--quick"}, `--json-file "--quick": a flag, not a file name`},
		{[]string{"bench", "--quick", "--report", "--json"}, `--report "--json": a flag, not a file name`},
		{[]string{"sim", "--report", "--json"}, `--report "--json": a flag, not a file name`},
		{[]string{"sim", "--report", "--fleet"}, `--report "--fleet": a flag, not a file name`},
		{[]string{"sim", "--fleet", "2", "--report", "--json"}, `--report "--json": a flag, not a file name`},
		{[]string{"tds", "--cert-file", "-q"}, `--cert-file "-q": a flag, not a file name`},
	} {
		var out, errb bytes.Buffer
		start := time.Now()
		code := run(context.Background(), c.args, &out, &errb)
		assert.Equal(t, exitUsage, code, "%v: %s", c.args, errb.String())
		assert.Contains(t, errb.String(), c.want, c.args)
		assert.Less(t, time.Since(start), 15*time.Second, "%v: refused before any work", c.args)
		entries, _ := os.ReadDir(".")
		assert.Empty(t, entries, "%v: no file written", c.args)
	}
}
