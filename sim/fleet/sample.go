package fleet

import (
	"context"
	"strconv"
	"time"

	"github.com/idpool/idpool/sim/report"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// sampleEvery is how often the runner samples the fleet for the report's
// time series.
const sampleEvery = 100 * time.Millisecond

// sampler records the fleet's time series while the scenario runs: the
// server's own session count, the permits the processes report and the sum
// etcd records (one linearizable read of every holder key).
type sampler struct {
	r      *runner
	start  time.Time
	stop   chan struct{}
	done   chan struct{}
	series []report.FleetSample
	// peakEtcd is the most permits etcd recorded at once; peakWaiting the
	// most dials waiting.
	peakEtcd, peakWaiting int
}

func (r *runner) startSampler() *sampler {
	s := &sampler{r: r, start: r.start, stop: make(chan struct{}), done: make(chan struct{})}
	go s.run()
	return s
}

func (s *sampler) run() {
	defer close(s.done)
	t := time.NewTicker(sampleEvery)
	defer t.Stop()
	for {
		s.take()
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
	}
}

func (s *sampler) take() {
	r := s.r
	var held, inUse, waiting int
	for _, st := range r.procs.snapshot() {
		held += st.Held
		inUse += st.InUse
		waiting += st.Waiting
	}
	smp := report.FleetSample{T: time.Since(s.start).Seconds(), Sessions: r.srv.SessionCount(), Held: held,
		InUse: inUse, Waiting: waiting, Acquires: r.procs.total().Acquires, EtcdHeld: -1}
	if n, ok := s.etcdHeld(); ok {
		smp.EtcdHeld = n
		s.peakEtcd = max(s.peakEtcd, n)
	}
	s.peakWaiting = max(s.peakWaiting, waiting)
	s.series = append(s.series, smp)
}

// etcdHeld sums the permits etcd records for every process, or says false
// when etcd does not answer within a sampling period (it may be stopped).
func (s *sampler) etcdHeld() (int, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), sampleEvery)
	defer cancel()
	g, err := s.r.cli.Get(ctx, s.r.prefix+"h/", clientv3.WithPrefix())
	if err != nil {
		return 0, false
	}
	n := 0
	for _, kv := range g.Kvs {
		v, _ := strconv.Atoi(string(kv.Value))
		n += v
	}
	return n, true
}

// finish stops the sampler and waits for it.
func (s *sampler) finish() {
	close(s.stop)
	<-s.done
}
