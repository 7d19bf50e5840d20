package tds

import "time"

// sessionPeak is the server's own count of how close it came to its session
// limit, which a fleet of clients sharing a budget must never pass.
type sessionPeak struct {
	// max is the most sessions logged in at once since the last reset.
	max int
	// refused counts logins refused at the session limit (SetMaxSessions).
	refused int
	// watch is the session count above which stretches are timed
	// (WatchAbove); 0: none. aboveSince is when the stretch going on began
	// (zero: none), stretches how many began, longest the longest ended.
	watch      int
	aboveSince time.Time
	stretches  int
	longest    time.Duration
}

// admitted counts a login that brought the server to n sessions.
func (p *sessionPeak) admitted(n int) {
	p.max = max(p.max, n)
	if p.watch > 0 && n > p.watch && p.aboveSince.IsZero() {
		p.aboveSince = time.Now()
		p.stretches++
	}
}

// left counts a session gone, leaving n.
func (p *sessionPeak) left(n int) {
	if !p.aboveSince.IsZero() && n <= p.watch {
		p.longest = max(p.longest, time.Since(p.aboveSince))
		p.aboveSince = time.Time{}
	}
}

// dropSession forgets the session with this SPID. Called with mu held.
func (s *Server) dropSession(spid uint16) {
	delete(s.sessions, spid)
	s.peak.left(len(s.sessions))
}

// PeakSessions returns the most sessions that were logged in at once since
// the server started or ResetPeak, counted at each login.
func (s *Server) PeakSessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peak.max
}

// ResetPeak starts a new peak from the sessions logged in now.
func (s *Server) ResetPeak() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.peak.max = len(s.sessions)
}

// LimitRefusals counts logins refused because the session limit was reached
// (error 17809).
func (s *Server) LimitRefusals() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peak.refused
}

// WatchAbove times, from now on, every stretch during which more than n
// sessions are logged in (AboveStretches). Clients that share a budget of n
// sessions may pass it only for the moment the server takes to notice a
// closed session, so a long stretch is a session opened without a permit.
// n <= 0 stops the watch and forgets what it measured.
func (s *Server) WatchAbove(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.peak.watch, s.peak.aboveSince, s.peak.stretches, s.peak.longest = max(n, 0), time.Time{}, 0, 0
	if n > 0 {
		s.peak.admitted(len(s.sessions))
	}
}

// AboveStretches returns how many stretches above WatchAbove's count began
// and the longest of them; a stretch still going counts up to now.
func (s *Server) AboveStretches() (count int, longest time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	longest = s.peak.longest
	if !s.peak.aboveSince.IsZero() {
		longest = max(longest, time.Since(s.peak.aboveSince))
	}
	return s.peak.stretches, longest
}

// SessionCount returns how many sessions are logged in now.
func (s *Server) SessionCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}
