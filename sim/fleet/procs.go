package fleet

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"

	"github.com/idpool/idpool/sim/report"
)

// procs runs the worker processes and keeps each one's latest status.
type procs struct {
	spawn func() *exec.Cmd
	log   io.Writer

	mu     sync.Mutex
	cmds   []*exec.Cmd
	done   []chan struct{}
	latest []Status
	// base sums the counters of workers that were killed and replaced, so
	// that totals never go backwards; slotBase does so per slot.
	base     Status
	slotBase []Status
	// peakHeld is the most permits each slot's process reported holding;
	// kills counts each slot's SIGKILLs.
	peakHeld, kills []int
}

func (p *procs) start(i int, cfg WorkerConfig) error {
	raw, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	cmd := p.spawn()
	cmd.Env = append(os.Environ(), WorkerEnv+"="+string(raw))
	cmd.Stderr = p.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting worker %d: %w", i, err)
	}
	done := make(chan struct{})
	p.mu.Lock()
	for len(p.cmds) <= i {
		p.cmds, p.done, p.latest = append(p.cmds, nil), append(p.done, nil), append(p.latest, Status{})
		p.slotBase, p.peakHeld, p.kills = append(p.slotBase, Status{}), append(p.peakHeld, 0), append(p.kills, 0)
	}
	p.cmds[i], p.done[i], p.latest[i] = cmd, done, Status{Index: i}
	p.mu.Unlock()
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var st Status
			if json.Unmarshal(sc.Bytes(), &st) == nil {
				p.mu.Lock()
				if p.cmds[i] == cmd {
					p.latest[i] = st
					p.peakHeld[i] = max(p.peakHeld[i], st.Held)
				}
				p.mu.Unlock()
			}
		}
		cmd.Wait()
		close(done)
	}()
	return nil
}

// kill sends SIGKILL to worker i and waits for it to exit; its counters
// move to base.
func (p *procs) kill(i int) Status {
	p.mu.Lock()
	cmd, done, last := p.cmds[i], p.done[i], p.latest[i]
	p.mu.Unlock()
	cmd.Process.Kill()
	<-done
	p.mu.Lock()
	addCounters(&p.base, last)
	addCounters(&p.slotBase[i], last)
	p.kills[i]++
	p.latest[i] = Status{Index: i}
	p.mu.Unlock()
	return last
}

// stopAll asks every worker to stop (SIGTERM) and waits.
func (p *procs) stopAll() {
	p.mu.Lock()
	cmds, dones := append([]*exec.Cmd(nil), p.cmds...), append([]chan struct{}(nil), p.done...)
	p.mu.Unlock()
	for _, c := range cmds {
		if c != nil {
			c.Process.Signal(syscall.SIGTERM)
		}
	}
	for _, d := range dones {
		if d != nil {
			<-d
		}
	}
}

func (p *procs) snapshot() []Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Status(nil), p.latest...)
}

// total sums the counters of every worker, past ones included.
func (p *procs) total() Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	t := p.base
	for _, s := range p.latest {
		addCounters(&t, s)
		t.Held += s.Held
		t.InUse += s.InUse
	}
	return t
}

// perProcess returns each slot's totals, killed processes included.
func (p *procs) perProcess() []report.FleetProcess {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]report.FleetProcess, len(p.latest))
	for i, s := range p.latest {
		t := p.slotBase[i]
		addCounters(&t, s)
		out[i] = report.FleetProcess{Index: i, Acquires: t.Acquires, Failures: t.Failures, Dials: t.Dials,
			Fetches: t.Fetches, Refused: t.Refused, LeaseLosses: t.LeaseLosses, PeakHeld: p.peakHeld[i], Kills: p.kills[i]}
	}
	return out
}

func addCounters(into *Status, s Status) {
	into.Acquires += s.Acquires
	into.Failures += s.Failures
	into.Dials += s.Dials
	into.Fetches += s.Fetches
	into.Refused += s.Refused
	into.LeaseLosses += s.LeaseLosses
	into.FetchNanos += s.FetchNanos
	into.DialNanos += s.DialNanos
}

// syncWriter serializes writes to Config.Log: the workers' stderr copiers
// and the runner's progress lines write to it from several goroutines.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
