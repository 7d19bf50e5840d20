package etcdtest

import (
	"errors"
	"os"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// RequireEnv names the variable that turns a missing etcd binary from a skip
// into a failure, so CI cannot pass by skipping.
const RequireEnv = "IDPOOL_REQUIRE_ETCD"

// Start starts a cluster of n members (3 if n <= 0) for t alone; t.Cleanup
// stops and removes it, printing the members' logs first when t failed.
// Without the binary the test is skipped, or fails when IDPOOL_REQUIRE_ETCD=1.
func Start(t testing.TB, n int) *Cluster {
	t.Helper()
	c, err := Launch(n)
	if err != nil {
		if errors.Is(err, ErrNotInstalled) && os.Getenv(RequireEnv) != "1" {
			t.Skipf("%v (set %s=1 to fail instead of skipping)", err, RequireEnv)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for i := range c.members {
				t.Logf("etcd member %d log:\n%s", i, c.Log(i))
			}
		}
		c.Close()
	})
	return c
}

// StartClient starts a cluster as Start does and returns a client of it for
// t alone. t.Cleanup closes the client before the cluster stops, and after
// whatever the test registers later (a budget using the client, say).
func StartClient(t testing.TB, n int) *clientv3.Client {
	t.Helper()
	c := Start(t, n)
	cli, err := c.Client()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	return cli
}
