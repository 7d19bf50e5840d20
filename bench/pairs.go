package bench

import (
	"context"
	"errors"
	"fmt"
)

// pairSetup describes one throughput measurement of acquire+release pairs.
type pairSetup struct {
	scenario   string
	params     Params
	env        *Env
	peers      []PoolFactory
	size       int // MaxSize of each pool
	identities int
	work       Workload
	// prepare readies a new pool (warms it up); nil warms identity 0 with
	// size connections.
	prepare func(context.Context, Pool) error
	// extra adds figures derived from a run's (e.g. messages/s).
	extra func(m map[string]float64)
}

// measurePairs builds every peer, warms it up, finds a run length, then runs
// the peers interleaved and summarizes each with ns/op as primary figure.
func measurePairs(ctx context.Context, o Options, s pairSetup) (res []Result, err error) {
	pools := make([]Pool, 0, len(s.peers))
	defer func() {
		for _, p := range pools {
			err = errors.Join(err, p.Close())
		}
	}()
	ns := make([]int64, len(s.peers))
	for i, f := range s.peers {
		p, err := f.New(s.env, s.size, s.identities)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Name, err)
		}
		pools = append(pools, p)
		prep := s.prepare
		if prep == nil {
			prep = func(ctx context.Context, p Pool) error { return warm(ctx, p, 0, s.size) }
		}
		if err := prep(ctx, p); err != nil {
			return nil, fmt.Errorf("%s: %w", f.Name, err)
		}
		if ns[i], err = calibrate(ctx, p, s.work, o.RunTime); err != nil {
			return nil, fmt.Errorf("%s: %w", f.Name, err)
		}
	}
	trials := make([]trialFunc, len(pools))
	for i := range pools {
		trials[i] = func(ctx context.Context) (map[string]float64, error) {
			r, err := runPairs(ctx, pools[i], s.work, ns[i])
			if err != nil {
				return nil, fmt.Errorf("%s: %w", s.peers[i].Name, err)
			}
			m := r.metrics()
			if s.extra != nil {
				s.extra(m)
			}
			return m, nil
		}
	}
	runs, err := interleave(ctx, o.Runs, trials)
	if err != nil {
		return nil, err
	}
	for i, f := range s.peers {
		res = append(res, summarize(s.scenario, f.Name, s.params, MNsPerOp, runs[i]))
	}
	o.progress("  %-40s %s", s.params, brief(res, MNsPerOp, "ns/op"))
	return res, nil
}

// brief renders "peer=value unit" for each result, for progress lines.
func brief(res []Result, metric, unit string) string {
	out := ""
	for _, r := range res {
		v, _ := r.Metric(metric)
		out += fmt.Sprintf(" %s=%.4g", r.Pool, v)
	}
	return out + " " + unit
}
