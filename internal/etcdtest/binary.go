package etcdtest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
)

// ErrNotInstalled is returned by Launch when no etcd server binary is found.
var ErrNotInstalled = errors.New("etcdtest: etcd server binary not found (install it: apt-get install etcd-server, or run .ci/install-etcd.sh)")

// Binary returns the path of the etcd server: ETCDTEST_BIN if set, else etcd
// on PATH.
func Binary() (string, error) {
	if p := os.Getenv("ETCDTEST_BIN"); p != "" {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0 {
			return p, nil
		}
		return "", fmt.Errorf("%w: ETCDTEST_BIN=%s is not an executable file", ErrNotInstalled, p)
	}
	p, err := exec.LookPath("etcd")
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrNotInstalled, err)
	}
	return p, nil
}
