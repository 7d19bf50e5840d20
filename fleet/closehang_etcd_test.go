package fleet

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/idpool/idpool/internal/etcdtest"
)

// TestCloseBehindAPartitionIsBounded: Close with a ctx that never ends (as a
// shutdown path that passes context.Background) while etcd does not answer
// must still return: the revocation it tries is only a courtesy (the lease
// expires by itself within the TTL), and a process must not hang at exit
// because etcd is cut off.
func TestCloseBehindAPartitionIsBounded(t *testing.T) {
	const ttl = 2 * time.Second
	c := etcdtest.Start(t, 1)
	h := newBlackhole(t, c.Endpoint(0))
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{h.addr()}, DialTimeout: 5 * time.Second})
	require.NoError(t, err)
	b, err := New(Config{Client: cli, Prefix: "/t/closehang/", Cap: 4, TTL: ttl, Batch: 1, IdleReturn: time.Hour})
	require.NoError(t, err)
	takeEach(t, b, 1, 1)
	b.Release() // none in use: Close revokes the lease
	h.partition()

	done := make(chan error, 1)
	go func() { done <- b.Close(context.Background()) }()
	select {
	case err := <-done:
		require.Error(t, err, "the revocation cannot have reached etcd")
	case <-time.After(3 * ttl):
		_ = cli.Close() // ends the hung revocation, so the goroutine ends
		<-done
		t.Fatalf("Close(context.Background()) behind a partition did not return within %s", 3*ttl)
	}
	require.NoError(t, cli.Close())
}
