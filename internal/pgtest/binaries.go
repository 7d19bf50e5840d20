package pgtest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ErrNotInstalled is returned by Launch when no PostgreSQL server binaries are
// found, or when running as root without a "postgres" OS user to run them as.
var ErrNotInstalled = errors.New("pgtest: PostgreSQL 15 server binaries not found (install them: apt-get install postgresql-15, or run .ci/install-postgres.sh)")

// defaultBinDir is where Debian's postgresql-15 package puts the server.
const defaultBinDir = "/usr/lib/postgresql/15/bin"

// binaries holds the absolute paths of the programs pgtest runs.
type binaries struct {
	initdb, pgCtl, postgres string
}

// findBinaries looks in PGTEST_BINDIR, the Debian directory, pg_config's
// bindir and PATH, in that order, for a directory holding initdb, pg_ctl and
// postgres together.
func findBinaries() (binaries, error) {
	var dirs []string
	if d := os.Getenv("PGTEST_BINDIR"); d != "" {
		dirs = append(dirs, d)
	}
	dirs = append(dirs, defaultBinDir)
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		dirs = append(dirs, strings.TrimSpace(string(out)))
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		// Debian links /usr/bin wrappers or /usr/local/bin symlinks; resolve
		// them so the directory found also holds pg_ctl and postgres.
		if r, err := filepath.EvalSymlinks(p); err == nil {
			p = r
		}
		dirs = append(dirs, filepath.Dir(p))
	}
	for _, d := range dirs {
		b := binaries{
			initdb:   filepath.Join(d, "initdb"),
			pgCtl:    filepath.Join(d, "pg_ctl"),
			postgres: filepath.Join(d, "postgres"),
		}
		if isExecutable(b.initdb) && isExecutable(b.pgCtl) && isExecutable(b.postgres) {
			return b, nil
		}
	}
	return binaries{}, fmt.Errorf("%w; looked in %s", ErrNotInstalled, strings.Join(dirs, ", "))
}

func isExecutable(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0
}
