package pgtest

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// runAs is the OS user the server's programs run as: the current user, or
// "postgres" when the current user is root, because initdb and postgres
// refuse to run as root.
type runAs struct {
	cred *syscall.Credential // nil: run as the current user
}

func currentRunAs() (runAs, error) {
	if os.Geteuid() != 0 {
		return runAs{}, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return runAs{}, fmt.Errorf("%w: running as root and there is no \"postgres\" OS user to run the server as: %v", ErrNotInstalled, err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return runAs{}, fmt.Errorf("pgtest: odd uid/gid %q/%q for the postgres user", u.Uid, u.Gid)
	}
	// Groups is empty on purpose: the server needs no supplementary group, and
	// keeping root's would hand them to postgres.
	return runAs{cred: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}}, nil
}

// command builds a command that runs as r in dir, with an environment freed of
// the PG* variables that would point pg_ctl or initdb elsewhere.
func (r runAs) command(dir, name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	env := make([]string, 0, len(os.Environ()))
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PG") {
			continue
		}
		env = append(env, kv)
	}
	// LC_ALL=C keeps server messages in English, so log parsing works.
	env = append(env, "LC_ALL=C", "LANG=C")
	if r.cred != nil {
		env = append(env, "HOME="+dir, "USER=postgres", "LOGNAME=postgres")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: r.cred}
	}
	cmd.Env = env
	return cmd
}

// own hands path to r's user, so the server can write there.
func (r runAs) own(path string) error {
	if r.cred == nil {
		return nil
	}
	return os.Lchown(path, int(r.cred.Uid), int(r.cred.Gid))
}

// checkTraversable fails when r's user cannot reach dir: every ancestor must
// grant it search (x) permission, or the server cannot open its own files.
func (r runAs) checkTraversable(dir string) error {
	if r.cred == nil {
		return nil
	}
	for p := filepath.Dir(dir); ; p = filepath.Dir(p) {
		st, err := os.Stat(p)
		if err != nil {
			return err
		}
		sys, ok := st.Sys().(*syscall.Stat_t)
		perm := st.Mode().Perm()
		searchable := perm&0o001 != 0 ||
			ok && sys.Uid == r.cred.Uid && perm&0o100 != 0 ||
			ok && sys.Gid == r.cred.Gid && perm&0o010 != 0
		if !searchable {
			return fmt.Errorf("pgtest: the postgres OS user cannot enter %s (mode %v); point TMPDIR at a directory it can reach", p, perm)
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}
