package live

import (
	"fmt"
	"sync"
)

// sessionCounter counts the sessions each login has at the server (dials
// in flight included), and checks MaxSize and MaxTotal exactly, with no
// allowance for timing: the pool holds a slot from before it calls the
// dialer until after the session's Close has returned (MaxSize and MaxTotal
// count sessions still closing), while the counter counts a session from
// inside the dial until its Close is called, or until its dial fails. Its
// count can therefore never exceed the pool's own, however the goroutines
// are scheduled.
type sessionCounter struct {
	maxSize, maxTotal int

	mu     sync.Mutex
	logins map[string]int
	total  int
	found  uint64
	texts  []string
}

func newSessionCounter(maxSize, maxTotal int) *sessionCounter {
	return &sessionCounter{maxSize: maxSize, maxTotal: maxTotal, logins: map[string]int{}}
}

// dialing: a dial of login has started.
func (s *sessionCounter) dialing(login string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.logins[login]++
	s.total++
	if n := s.logins[login]; n > s.maxSize {
		s.over("over max: %s has %d sessions (dials included) > max size %d", login, n, s.maxSize)
	}
	if s.maxTotal > 0 && s.total > s.maxTotal {
		s.over("over max total: %d sessions (dials included) > max total %d", s.total, s.maxTotal)
	}
}

// over counts one violation and describes the first few; s.mu is held.
func (s *sessionCounter) over(format string, args ...any) {
	s.found++
	if len(s.texts) < 3 {
		s.texts = append(s.texts, fmt.Sprintf(format, args...))
	}
}

// gone: a session's Close was called, or its dial failed (which frees its
// slot just the same).
func (s *sessionCounter) gone(login string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.logins[login]--
	s.total--
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
