package live

import (
	"fmt"
	"sync"
	"time"

	"github.com/idpool/idpool/sim/report"
)

// samplesPerSuspect bounds the descriptions kept per kind of suspect.
const samplesPerSuspect = 3

// suspects counts what a live check saw but cannot pin on the pool, because
// wall-clock timing decides it: a goroutine the machine is slow to run looks
// exactly like a pool that is slow to answer. They go to
// report.Result.Suspects, never to its violations, so that scheduling noise
// cannot fail a run; each kind keeps its first few descriptions.
type suspects struct {
	mu      sync.Mutex
	counts  map[string]uint64
	samples []string
	kept    map[string]int
}

// add counts one suspect of kind and describes it if it is among the first
// few of its kind.
func (s *suspects) add(kind, format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.counts == nil {
		s.counts, s.kept = map[string]uint64{}, map[string]int{}
	}
	s.counts[kind]++
	if s.kept[kind] < samplesPerSuspect {
		s.kept[kind]++
		s.samples = append(s.samples, kind+": "+fmt.Sprintf(format, args...))
	}
}

// into adds the counts and descriptions to res.
func (s *suspects) into(res *report.Result) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, n := range s.counts {
		if res.Suspects == nil {
			res.Suspects = map[string]uint64{}
		}
		res.Suspects[k] += n
	}
	res.SuspectSamples = append(res.SuspectSamples, s.samples...)
}

// expiredUse judges a statement that ran on session at now although its
// login token expired at exp, on a lease whose acquire started at start. A
// correct pool grants a connection only while its token is valid for at
// least threshold more (else it mints or rotates first), and it decides at
// some instant after start: so a token that expired before start+threshold
// was granted in breach of that rule, whatever the scheduling, and is a
// violation. A later expiry means the lease outlived the threshold while it
// was held (a long hold, or a goroutine the machine did not run for that
// long): the pool cannot take a leased connection back, so that is a
// suspect, not a violation.
func expiredUse(session int64, start, exp, now time.Time, threshold time.Duration) (violation bool, text string) {
	left := exp.Sub(start).Round(time.Microsecond)
	late := now.Sub(exp).Round(time.Microsecond)
	if exp.Before(start.Add(threshold)) {
		return true, fmt.Sprintf("expired token use: session %d used %s after its token expired; the token had %s left when the acquire started, under the %s threshold", session, late, left, threshold)
	}
	return false, fmt.Sprintf("session %d used %s after its token expired; the token had %s left when the acquire started, so the lease was held past the %s threshold", session, late, left, threshold)
}
