package fleet

import (
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/idpool/idpool/internal/etcdtest"
	"github.com/idpool/idpool/manager"
)

// blackhole is a TCP proxy to etcd that, once partitioned, passes no more
// bytes either way while keeping every connection open: a network partition
// as the client meets one. A call then hangs until its ctx ends, where a
// stopped server would refuse it at once.
type blackhole struct {
	ln     net.Listener
	target string
	cut    chan struct{}
	mu     sync.Mutex
	conns  []net.Conn
	wg     sync.WaitGroup
}

func newBlackhole(t *testing.T, target string) *blackhole {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	h := &blackhole{ln: ln, target: strings.TrimPrefix(target, "http://"), cut: make(chan struct{})}
	h.wg.Add(1)
	go h.accept()
	t.Cleanup(h.close)
	return h
}

func (h *blackhole) addr() string { return h.ln.Addr().String() }

func (h *blackhole) accept() {
	defer h.wg.Done()
	for {
		c, err := h.ln.Accept()
		if err != nil {
			return
		}
		u, err := net.Dial("tcp", h.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		h.mu.Lock()
		h.conns = append(h.conns, c, u)
		h.mu.Unlock()
		h.wg.Add(2)
		go h.pipe(c, u)
		go h.pipe(u, c)
	}
}

// pipe copies src to dst until either closes, dropping what it reads once
// the proxy is partitioned.
func (h *blackhole) pipe(dst, src net.Conn) {
	defer h.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if err != nil {
			return
		}
		select {
		case <-h.cut:
			continue
		default:
		}
		if _, err := dst.Write(buf[:n]); err != nil {
			return
		}
	}
}

func (h *blackhole) partition() { close(h.cut) }

func (h *blackhole) close() {
	_ = h.ln.Close()
	h.mu.Lock()
	for _, c := range h.conns {
		_ = c.Close()
	}
	h.mu.Unlock()
	h.wg.Wait()
}

// TestPartitionShedsWithinTheMargin: when renewals stop getting through,
// the process must tell its manager to close its connections once its lease
// can no longer be counted on (validUntil), within the margin validFor
// leaves before etcd can expire the lease and hand its permits to others.
// Behind a partition every etcd call hangs until its deadline (TTL/3): the
// worker, stuck in a renewal and then in a grant for a new lease, used to
// signal the shed TTL/3 and more after validUntil, past etcd's expiry.
func TestPartitionShedsWithinTheMargin(t *testing.T) {
	const ttl = 5 * time.Second
	margin := ttl - (&Budget{}).validFor(int64(ttl/time.Second))
	c := etcdtest.Start(t, 1)
	h := newBlackhole(t, c.Endpoint(0))
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{h.addr()}, DialTimeout: 5 * time.Second})
	require.NoError(t, err)
	t.Cleanup(func() { _ = cli.Close() })
	b := newHookedBudget(t, cli, Config{Prefix: "/t/partition/", Cap: 4, TTL: ttl, Batch: 1, IdleReturn: time.Hour}, func() {})

	type shed struct{ at, validUntil time.Time }
	var first atomic.Pointer[shed]
	b.Subscribe(func(s manager.BudgetSignal) {
		if s.Shed == 0 {
			return
		}
		at := time.Now()
		b.mu.Lock()
		vu := b.validUntil
		b.mu.Unlock()
		first.CompareAndSwap(nil, &shed{at, vu})
	})
	takeEach(t, b, 2, 2)
	h.partition()
	require.Eventually(t, func() bool { return first.Load() != nil }, 3*ttl, 10*time.Millisecond, "no shed after the partition")
	s := first.Load()
	require.True(t, s.at.Before(s.validUntil.Add(margin)),
		"the shed came %s after validUntil; etcd may expire the lease %s after it", s.at.Sub(s.validUntil), margin)
	// The permits stay in use: Close then does not try to revoke the lease
	// through the partition.
}
