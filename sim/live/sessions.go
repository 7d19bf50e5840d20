package live

import (
	"fmt"
	"sync"
	"time"
)

// overGrace is how long a session count over the limit may last before it
// is a violation. The pool frees a slot the moment it asks for a close and
// may dial at once; the close and the dial then run in goroutines of their
// own, so the server can briefly see one more session than MaxSize. A real
// breach is not followed by closes.
const overGrace = 200 * time.Millisecond

// sessionCounter counts the sessions each login has at the server (dials
// in flight included), and checks MaxSize and MaxTotal.
type sessionCounter struct {
	maxSize, maxTotal int

	mu      sync.Mutex
	logins  map[string]*loginCount
	total   loginCount
	pending []overCheck
	found   uint64
	texts   []string
}

type loginCount struct {
	live   int
	closes uint64
}

// overCheck is a count seen over its limit, to be judged after overGrace.
type overCheck struct {
	login    string // "" for the total
	excess   int
	closesAt uint64
	due      time.Time
}

func newSessionCounter(maxSize, maxTotal int) *sessionCounter {
	return &sessionCounter{maxSize: maxSize, maxTotal: maxTotal, logins: map[string]*loginCount{}}
}

func (s *sessionCounter) dialing(login string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.logins[login]
	if c == nil {
		c = &loginCount{}
		s.logins[login] = c
	}
	c.live++
	s.total.live++
	if c.live > s.maxSize {
		s.pending = append(s.pending, overCheck{login: login, excess: c.live - s.maxSize, closesAt: c.closes, due: time.Now().Add(overGrace)})
	}
	if s.maxTotal > 0 && s.total.live > s.maxTotal {
		s.pending = append(s.pending, overCheck{excess: s.total.live - s.maxTotal, closesAt: s.total.closes, due: time.Now().Add(overGrace)})
	}
}

// gone: a session's Close was called, or its dial failed (which frees its
// slot just the same).
func (s *sessionCounter) gone(login string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.logins[login]
	c.live--
	c.closes++
	s.total.live--
	s.total.closes++
}

// settle judges the checks due by now: over the limit, and not enough
// closes since to explain it.
func (s *sessionCounter) settle(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	kept := s.pending[:0]
	for _, p := range s.pending {
		if p.due.After(now) {
			kept = append(kept, p)
			continue
		}
		closes, what := s.total.closes, "all logins"
		if p.login != "" {
			closes, what = s.logins[p.login].closes, p.login
		}
		if closes-p.closesAt < uint64(p.excess) {
			s.found++
			if len(s.texts) < 3 {
				s.texts = append(s.texts, fmt.Sprintf("over max: %s had %d sessions over the limit for more than %s", what, p.excess, overGrace))
			}
		}
	}
	s.pending = kept
}

func (s *sessionCounter) violations() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.found
}

func (s *sessionCounter) samples() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.texts...)
}
