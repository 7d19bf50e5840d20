package live

import (
	"context"
	"time"

	"github.com/idpool/idpool/sim/report"
	"github.com/idpool/idpool/sim/workload"
)

// monitor samples the run for the series and the progress line, and
// watches for acquires that outlive their deadline.
func (r *runner) monitor(ctx context.Context) {
	// About 200 samples over the run make the report's series.
	sampleEvery := max(r.cfg.Duration/200, 50*time.Millisecond)
	progressEvery := r.opt.ProgressEvery
	if progressEvery <= 0 {
		progressEvery = 250 * time.Millisecond
	}
	// The tick also paces the progress line and the watch for acquires past
	// their deadline: a long run's sparse series must not slow them (a
	// 1000h run sampled every 5h, and showed no progress for as long).
	tick := min(sampleEvery, progressEvery, time.Second)
	t := time.NewTicker(tick)
	defer t.Stop()
	lastProgress, lastSample := time.Now(), time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			g := r.b.Gauges()
			r.mu.Lock()
			r.watchLost(now)
			s := report.Sample{T: now.Sub(r.start).Seconds(), Acquires: r.res.Acquires, TokenMints: g.TokenMints,
				Violations: r.res.Violations.Total(), Open: g.Open, Waiters: g.Waiters, Pools: g.Pools}
			// Half a tick of slack: ticks that come late by a little must
			// not skip a sample when the two intervals are the same.
			if now.Sub(lastSample) >= sampleEvery-tick/2 {
				lastSample = now
				r.res.Series = append(r.res.Series, s)
			}
			r.mu.Unlock()
			if r.opt.Progress != nil && now.Sub(lastProgress) >= progressEvery-tick/2 {
				lastProgress = now
				r.opt.Progress(r.snapshot(now, s))
			}
		}
	}
}

func (r *runner) snapshot(now time.Time, s report.Sample) report.Snapshot {
	wall := now.Sub(r.start).Seconds()
	snap := report.Snapshot{Mode: "live", Elapsed: wall, WallElapsed: wall, Acquires: s.Acquires,
		Pools: s.Pools, Open: s.Open, Waiters: s.Waiters, Violations: s.Violations}
	if r.cfg.Duration > 0 {
		snap.Total = r.cfg.Duration.Seconds()
	}
	if wall > 0 {
		snap.Rate = float64(s.Acquires) / wall
	}
	return snap
}

// watchLost notes acquires still waiting lostGrace past their deadline;
// r.mu must be held. They are suspects, not violations: a machine under load
// may not run a goroutine for that long. A waiter the pool really lost never
// returns, and the end of the run counts it as a lost waiter.
func (r *runner) watchLost(now time.Time) {
	for acq, w := range r.inflight {
		if !w.reported && now.Sub(w.start) > r.cfg.AcquireTimeout+lostGrace {
			w.reported = true
			r.odd.add("late_answer", "acquire %d, started %s ago, had not returned %s past its deadline", acq,
				now.Sub(w.start).Round(time.Millisecond), now.Sub(w.start.Add(r.cfg.AcquireTimeout)).Round(time.Millisecond))
		}
	}
}

// faults runs the fault schedule: session kills, token endpoint outages
// and early token rotations.
func (r *runner) faults(ctx context.Context) {
	f := r.b.Faults()
	rng := r.cfg.NewRand(4)
	fc := r.cfg.Faults
	never := time.Duration(1 << 62)
	gap := func(rate float64) time.Duration {
		if rate <= 0 {
			return never
		}
		return time.Duration(rng.ExpFloat64() / rate * 1e9)
	}
	now := time.Now()
	nextKill := now.Add(gap(fc.KillRate))
	nextRotate := now.Add(gap(r.cfg.RotationRate * float64(r.cfg.Identities)))
	nextOutage, outageEnd := now.Add(never), time.Time{}
	if fc.OutageEvery > 0 && fc.OutageFor > 0 {
		nextOutage = now.Add(fc.OutageEvery)
	}
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	defer f.TokenOutage(false)
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if r.stopped.Load() {
				f.TokenOutage(false)
				continue
			}
			for !now.Before(nextKill) {
				if f.KillSession() {
					r.mu.Lock()
					r.res.SessionsKilled++
					r.mu.Unlock()
				}
				nextKill = nextKill.Add(gap(fc.KillRate))
			}
			for !now.Before(nextRotate) {
				f.RotateToken(workload.IdentityName(rng.IntN(r.cfg.Identities)))
				nextRotate = nextRotate.Add(gap(r.cfg.RotationRate * float64(r.cfg.Identities)))
			}
			if !outageEnd.IsZero() && !now.Before(outageEnd) {
				f.TokenOutage(false)
				outageEnd = time.Time{}
			}
			if !now.Before(nextOutage) {
				f.TokenOutage(true)
				r.mu.Lock()
				r.res.TokenOutages++
				r.mu.Unlock()
				outageEnd = now.Add(fc.OutageFor)
				nextOutage = nextOutage.Add(fc.OutageEvery)
			}
		}
	}
}
