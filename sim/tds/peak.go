package tds

// sessionPeak is the server's own count of how close it came to its session
// limit, which a fleet of clients sharing a budget must never pass.
type sessionPeak struct {
	// max is the most sessions logged in at once since the last reset.
	max int
	// refused counts logins refused at the session limit (SetMaxSessions).
	refused int
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

// SessionCount returns how many sessions are logged in now.
func (s *Server) SessionCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}
