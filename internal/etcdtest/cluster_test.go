package etcdtest_test

import (
	"context"
	"testing"
	"time"

	"github.com/idpool/idpool/internal/etcdtest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The cluster survives losing its leader and elects another; a stopped member
// rejoins on its data.
func TestClusterLeaderStopAndRestart(t *testing.T) {
	c := etcdtest.Start(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cli, err := c.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	if _, err := cli.Put(ctx, "k", "v1"); err != nil {
		t.Fatal(err)
	}
	lead, err := c.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c.Stop(lead)
	if c.Running(lead) {
		t.Fatal("stopped member still running")
	}
	if err := c.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	newLead, err := c.Leader(ctx)
	if err != nil || newLead == lead {
		t.Fatalf("leader after stop = %d, %v; want another than %d", newLead, err, lead)
	}
	if _, err := cli.Put(ctx, "k", "v2"); err != nil {
		t.Fatal(err)
	}
	if err := c.Restart(lead); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	moved, err := c.MoveLeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := c.Leader(ctx); err != nil || got != moved {
		t.Fatalf("leader after move = %d, %v; want %d", got, err, moved)
	}
	r, err := cli.Get(ctx, "k")
	if err != nil || len(r.Kvs) != 1 || string(r.Kvs[0].Value) != "v2" {
		t.Fatalf("get after restart = %v, %v", r, err)
	}
}
