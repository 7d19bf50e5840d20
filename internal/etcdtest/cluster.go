package etcdtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// Cluster is a running etcd cluster on loopback. Its methods are not safe for
// concurrent use; a test drives its cluster from one goroutine.
type Cluster struct {
	bin     string
	dir     string
	members []*member
}

type member struct {
	name       string
	clientURL  string
	peerURL    string
	dataDir    string
	logPath    string
	cmd        *exec.Cmd
	exited     chan struct{}
	hasStarted bool
}

// Launch starts a cluster of n members (3 if n <= 0) and waits until it has
// a leader and answers a linearizable read. Close stops it.
func Launch(n int) (*Cluster, error) {
	if n <= 0 {
		n = 3
	}
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "etcdtest-")
	if err != nil {
		return nil, fmt.Errorf("etcdtest: temporary directory: %w", err)
	}
	c := &Cluster{bin: bin, dir: dir}
	ports, err := freePorts(2 * n)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	var initial []string
	for i := 0; i < n; i++ {
		m := &member{
			name:      fmt.Sprintf("m%d", i),
			clientURL: fmt.Sprintf("http://127.0.0.1:%d", ports[2*i]),
			peerURL:   fmt.Sprintf("http://127.0.0.1:%d", ports[2*i+1]),
		}
		m.dataDir = filepath.Join(dir, m.name)
		m.logPath = filepath.Join(dir, m.name+".log")
		c.members = append(c.members, m)
		initial = append(initial, m.name+"="+m.peerURL)
	}
	for _, m := range c.members {
		if err := c.start(m, strings.Join(initial, ","), "new"); err != nil {
			c.Close()
			return nil, err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.WaitHealthy(ctx); err != nil {
		logs := c.Log(0)
		c.Close()
		return nil, fmt.Errorf("etcdtest: cluster did not become healthy: %w\nmember 0 log:\n%s", err, logs)
	}
	return c, nil
}

// freePorts reserves n distinct loopback ports by listening on port 0, then
// lets them go for etcd to take. Another process could take one in between;
// the start then fails clearly rather than silently.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("etcdtest: free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func (c *Cluster) start(m *member, initialCluster, state string) error {
	logf, err := os.OpenFile(m.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("etcdtest: log file: %w", err)
	}
	args := []string{
		"--name", m.name,
		"--data-dir", m.dataDir,
		"--listen-client-urls", m.clientURL,
		"--advertise-client-urls", m.clientURL,
		"--listen-peer-urls", m.peerURL,
		"--initial-advertise-peer-urls", m.peerURL,
		"--initial-cluster-token", filepath.Base(c.dir),
		"--heartbeat-interval", "50",
		"--election-timeout", "500",
		"--logger", "zap",
		"--log-level", "warn",
	}
	if !m.hasStarted {
		args = append(args, "--initial-cluster", initialCluster, "--initial-cluster-state", state)
	}
	cmd := exec.Command(c.bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Kill the member with the test binary, even when cleanups never run.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("etcdtest: starting %s: %w", m.name, err)
	}
	m.cmd, m.exited, m.hasStarted = cmd, make(chan struct{}), true
	go func(done chan struct{}) {
		cmd.Wait()
		logf.Close()
		close(done)
	}(m.exited)
	return nil
}

// Endpoints lists every member's client URL, stopped members included.
func (c *Cluster) Endpoints() []string {
	var eps []string
	for _, m := range c.members {
		eps = append(eps, m.clientURL)
	}
	return eps
}

// Endpoint is member i's client URL.
func (c *Cluster) Endpoint(i int) string { return c.members[i].clientURL }

// Size is the number of members.
func (c *Cluster) Size() int { return len(c.members) }

// Client returns a new client of every member; the caller closes it.
func (c *Cluster) Client() (*clientv3.Client, error) {
	return clientv3.New(clientv3.Config{Endpoints: c.Endpoints(), DialTimeout: 2 * time.Second, Logger: zap.NewNop()})
}

// Running says whether member i's process is running.
func (c *Cluster) Running(i int) bool {
	m := c.members[i]
	if m.cmd == nil {
		return false
	}
	select {
	case <-m.exited:
		return false
	default:
		return true
	}
}

// Stop kills member i with SIGKILL, as a crash, and waits for it to exit.
func (c *Cluster) Stop(i int) {
	m := c.members[i]
	if !c.Running(i) {
		return
	}
	m.cmd.Process.Kill()
	<-m.exited
}

// StopAll kills every member.
func (c *Cluster) StopAll() {
	for i := range c.members {
		c.Stop(i)
	}
}

// Restart starts a stopped member again on its data directory. It does not
// wait for the member to rejoin; see WaitHealthy.
func (c *Cluster) Restart(i int) error {
	if c.Running(i) {
		return nil
	}
	return c.start(c.members[i], "", "existing")
}

// Leader returns the index of the member that is leader, asking the running
// members. Right after a member stops or restarts, none may know a leader
// yet (an election), or the leader may not answer its status within a
// second (still catching up: its ReadIndex retried), so it asks again
// until ctx ends, and then returns the last attempt's error.
func (c *Cluster) Leader(ctx context.Context) (int, error) {
	return askUntil(ctx, c.leaderOnce)
}

// askUntil calls once until it succeeds, every 100 ms, or until ctx ends,
// and then returns the last attempt's error with ctx's.
func askUntil(ctx context.Context, once func(context.Context) (int, error)) (int, error) {
	for {
		i, err := once(ctx)
		if err == nil {
			return i, nil
		}
		select {
		case <-ctx.Done():
			return -1, fmt.Errorf("%w (last attempt: %v)", ctx.Err(), err)
		case <-time.After(100 * time.Millisecond): // polls etcd, orders nothing of ours
		}
	}
}

// leaderOnce asks the running members once which is leader; an error if
// none can say.
func (c *Cluster) leaderOnce(ctx context.Context) (int, error) {
	var errs []error
	for i, m := range c.members {
		if !c.Running(i) {
			continue
		}
		id, lead, err := c.status(ctx, m.clientURL)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if lead == 0 {
			errs = append(errs, fmt.Errorf("%s knows no leader", m.name))
			continue
		}
		if id == lead {
			return i, nil
		}
		// Map the leader's id to a member index by asking the others.
		for j, o := range c.members {
			if j == i || !c.Running(j) {
				continue
			}
			if oid, _, err := c.status(ctx, o.clientURL); err == nil && oid == lead {
				return j, nil
			}
		}
		errs = append(errs, fmt.Errorf("%s names leader %x, which is not running", m.name, lead))
	}
	return -1, fmt.Errorf("etcdtest: no leader: %w", errors.Join(errs...))
}

func (c *Cluster) status(ctx context.Context, ep string) (id, leader uint64, err error) {
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{ep}, DialTimeout: time.Second, Logger: zap.NewNop()})
	if err != nil {
		return 0, 0, err
	}
	defer cli.Close()
	sctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	st, err := cli.Status(sctx, ep)
	if err != nil {
		return 0, 0, err
	}
	return st.Header.MemberId, st.Leader, nil
}

// MoveLeader hands the leadership from the current leader to another running
// member, and returns the new leader's index. Right after a member restarts,
// a status call or the transfer itself can fail for a moment (the member is
// still catching up), so it tries again until ctx ends.
func (c *Cluster) MoveLeader(ctx context.Context) (int, error) {
	return askUntil(ctx, c.moveLeaderOnce)
}

func (c *Cluster) moveLeaderOnce(ctx context.Context) (int, error) {
	lead, err := c.leaderOnce(ctx)
	if err != nil {
		return -1, err
	}
	to := -1
	for j := range c.members {
		if j != lead && c.Running(j) {
			to = j
			break
		}
	}
	if to < 0 {
		return -1, errors.New("etcdtest: no other running member to move the leadership to")
	}
	toID, _, err := c.status(ctx, c.members[to].clientURL)
	if err != nil {
		return -1, err
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{c.members[lead].clientURL}, DialTimeout: time.Second, Logger: zap.NewNop()})
	if err != nil {
		return -1, err
	}
	defer cli.Close()
	if _, err := cli.MoveLeader(ctx, toID); err != nil {
		return -1, fmt.Errorf("etcdtest: move leader: %w", err)
	}
	return to, nil
}

// WaitHealthy waits until a quorum answers a linearizable read through a
// client of every running member.
func (c *Cluster) WaitHealthy(ctx context.Context) error {
	var eps []string
	for i, m := range c.members {
		if c.Running(i) {
			eps = append(eps, m.clientURL)
		}
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: eps, DialTimeout: time.Second, Logger: zap.NewNop()})
	if err != nil {
		return err
	}
	defer cli.Close()
	for {
		rctx, cancel := context.WithTimeout(ctx, time.Second)
		_, err := cli.Get(rctx, "etcdtest-health")
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last error: %v)", ctx.Err(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Log returns member i's log.
func (c *Cluster) Log(i int) string {
	b, err := os.ReadFile(c.members[i].logPath)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// Close kills every member and removes the cluster's directory.
func (c *Cluster) Close() {
	c.StopAll()
	os.RemoveAll(c.dir)
}
