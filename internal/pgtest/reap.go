package pgtest

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

const (
	dirPrefix = "idpool-pg-"
	ownerFile = "owner.pid"
)

// reapOrphans stops and removes the servers of test processes that died
// before their cleanups ran. It is best effort: errors are ignored, and
// directories without an owner file (being set up right now) are left alone.
func reapOrphans(bin binaries, as runAs) {
	seen := map[string]bool{}
	for _, base := range []string{os.TempDir(), "/tmp"} {
		dirs, _ := filepath.Glob(filepath.Join(base, dirPrefix+"*"))
		for _, dir := range dirs {
			if seen[dir] {
				continue
			}
			seen[dir] = true
			b, err := os.ReadFile(filepath.Join(dir, ownerFile))
			if err != nil {
				continue
			}
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil || pid <= 0 || processAlive(pid) {
				continue
			}
			orphan := &Server{bin: bin, as: as, dir: dir, dataDir: filepath.Join(dir, "data"), running: true}
			if _, err := os.Stat(filepath.Join(orphan.dataDir, "postmaster.pid")); err == nil {
				if orphan.stop("immediate") != nil {
					continue
				}
			}
			_ = os.RemoveAll(dir)
		}
	}
}

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
