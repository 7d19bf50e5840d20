package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
)

// `idpool --help > /dev/full` (and every command's --help) exited 0 with
// nothing written, as if the help had been delivered; `demo > /dev/full`
// fails, and so does --help now: exit 1, and stderr says why.
func TestHelpFailsWhenItCannotBeWritten(t *testing.T) {
	for _, args := range [][]string{
		{"--help"}, {"-h"}, {"help"}, {"help", "help"},
		{"help", "sim"}, {"sim", "--help"}, {"sim", "--fleet", "2", "--help"},
		{"bench", "--help"}, {"tds", "--help"}, {"demo", "-h"},
	} {
		var errb bytes.Buffer
		assert.Equal(t, exitFailed, run(context.Background(), args, failingWriter{}, &errb), args)
		assert.Contains(t, errb.String(), "writing the help: no space left on device", args)
	}
}
