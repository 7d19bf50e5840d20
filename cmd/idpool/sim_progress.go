package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/idpool/idpool/sim/report"
	"github.com/idpool/idpool/sim/workload"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// plainEvery is how often a progress line is printed when stderr is not a
// terminal.
const plainEvery = 2 * time.Second

// progress shows a run's progress on stderr: a live bar on a terminal,
// plain periodic lines otherwise, nothing with --quiet.
type progress struct {
	mu        sync.Mutex
	w         io.Writer
	bar       *progressbar.ProgressBar
	ops       int64
	lastPlain time.Time
	off       bool
}

func newProgress(w io.Writer, quiet bool, cfg workload.Config) *progress {
	p := &progress{w: w, off: quiet, ops: cfg.Ops}
	if quiet || !isTerminal(w) {
		return p
	}
	total := int64(cfg.Duration / time.Millisecond)
	if cfg.Ops > 0 {
		total = cfg.Ops
	}
	p.bar = progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetWidth(20),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetPredictTime(false),
		progressbar.OptionShowDescriptionAtLineEnd(),
		progressbar.OptionClearOnFinish(),
	)
	return p
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// line is the progress text of s.
func line(s report.Snapshot) string {
	return fmt.Sprintf("%s %6.1fs  %8.0f acquires/s  pools %4d  open %5d  waiters %4d  violations %d",
		s.Mode, s.Elapsed, s.Rate, s.Pools, s.Open, s.Waiters, s.Violations)
}

func (p *progress) update(s report.Snapshot) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.off:
	case p.bar != nil:
		p.bar.Describe(line(s))
		if p.ops > 0 {
			_ = p.bar.Set64(int64(s.Acquires))
		} else {
			_ = p.bar.Set64(int64(s.Elapsed * 1000))
		}
	default:
		if now := time.Now(); now.Sub(p.lastPlain) >= plainEvery {
			p.lastPlain = now
			fmt.Fprintln(p.w, line(s))
		}
	}
}

func (p *progress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	// An abandoned virtual run still calls update until the process exits:
	// no line after the command's own error.
	p.off = true
	if p.bar != nil {
		_ = p.bar.Finish()
		p.bar = nil
	}
}
