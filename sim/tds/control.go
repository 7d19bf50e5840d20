package tds

import (
	"sort"
	"time"
)

// firstSPID is the first session id handed out; SQL Server reserves lower
// ids for system sessions.
const firstSPID = 51

// SessionInfo describes one logged-in session.
type SessionInfo struct {
	// SPID is the session id (@@SPID).
	SPID int
	// Login is SUSER_SNAME(): the SQL login or the token's login name.
	Login string
	// InTx reports an open transaction.
	InTx bool
	// TokenExpiresOn is when the login token expires; zero for SQL logins.
	TokenExpiresOn time.Time
	// Running reports that a request is executing (or waiting, as in WAITFOR).
	Running bool
	// Encrypted reports a connection encrypted after login: TDS 8.0
	// (TLS-first), or TDS 7.x that negotiated ENCRYPT_ON or ENCRYPT_REQ (one
	// that encrypted only its LOGIN7 is not).
	Encrypted bool
}

// register admits a logged-in session unless the session limit is reached,
// assigns its SPID and counts the login.
func (s *Server) register(sess *session) (sqlError, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return notAvailable(sess.database, s.opts.ServerName), false
	}
	if s.maxSessions > 0 && len(s.sessions) >= s.maxSessions {
		s.peak.refused++
		return tooManyConnections(s.maxSessions), false
	}
	for {
		id := s.nextSPID
		s.nextSPID++
		if s.nextSPID == 0 || s.nextSPID > 32767 {
			s.nextSPID = firstSPID
		}
		if _, used := s.sessions[id]; !used {
			sess.spid = id
			break
		}
	}
	s.sessions[sess.spid] = sess
	s.peak.admitted(len(s.sessions))
	s.logins[sess.login]++
	s.totalLogins++
	return sqlError{}, true
}

func (s *Server) removeSession(sess *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sessions[sess.spid] == sess {
		s.dropSession(sess.spid)
	}
}

func (s *Server) noteFailedLogin() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failed++
}

func (s *Server) loginLatency() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.latency
}

func (s *Server) refusing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refuse
}

// Sessions lists the logged-in sessions in SPID order.
func (s *Server) Sessions() []SessionInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]SessionInfo, 0, len(s.sessions))
	for _, sess := range s.sessions {
		out = append(out, SessionInfo{
			SPID: int(sess.spid), Login: sess.login, InTx: sess.inTx.Load(),
			TokenExpiresOn: sess.tokenExpiresOn, Encrypted: sess.tlsOn,
			Running: sess.running.Load(),
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].SPID < out[j].SPID })
	return out
}

// Kill closes the session's socket, as KILL does: the client's next read
// fails and its open transaction is rolled back. It reports whether the
// session existed.
func (s *Server) Kill(spid int) bool {
	s.mu.Lock()
	sess, ok := s.sessions[uint16(spid)]
	if ok && spid == int(sess.spid) {
		s.dropSession(sess.spid)
	}
	s.mu.Unlock()
	if !ok {
		return false
	}
	sess.kill()
	return true
}

// RefuseLogins makes new logins fail with error 40613 (database not
// currently available, Azure SQL's transient error) while on is true.
// Existing sessions are unaffected.
func (s *Server) RefuseLogins(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuse = on
}

// SetLoginLatency delays every login reply by d.
func (s *Server) SetLoginLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// SetMaxSessions limits concurrent sessions; logins beyond it fail with error
// 17809, as when SQL Server's user connection limit is reached. n <= 0 means
// no limit.
func (s *Server) SetMaxSessions(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.maxSessions = n
}

// ExpireSessions kills every session whose token expired at or before now
// and returns how many it killed. Sessions without a token never expire.
func (s *Server) ExpireSessions(now time.Time) int {
	s.mu.Lock()
	var victims []*session
	for id, sess := range s.sessions {
		if !sess.tokenExpiresOn.IsZero() && !sess.tokenExpiresOn.After(now) {
			victims = append(victims, sess)
			s.dropSession(id)
		}
	}
	s.mu.Unlock()
	for _, sess := range victims {
		sess.kill()
	}
	return len(victims)
}

// Logins returns how many logins as login succeeded.
func (s *Server) Logins(login string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logins[login]
}

// TotalLogins returns how many logins succeeded.
func (s *Server) TotalLogins() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.totalLogins
}

// FailedLogins returns how many logins were refused, for any reason.
func (s *Server) FailedLogins() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failed
}

// Resets returns how many requests carried the RESETCONNECTION bit.
// go-mssqldb sets it on the first request after every login and after every
// pool checkout, so this is not a count of pool reuses.
func (s *Server) Resets() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.resets
}

// ResetsRefused counts the resets refused with error 18059 because the
// session was under an EXECUTE AS not reverted; each ended its connection.
func (s *Server) ResetsRefused() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.resetsRefused
}

// CommittedRows returns the committed row count of a table (case-insensitive
// name, schema ignored) and whether it exists.
func (s *Server) CommittedRows(table string) (int64, bool) {
	return s.store.committed(tableKey(table))
}

// CommittedRowsBy returns how many of a table's committed rows were inserted
// (by INSERT or bulk load) on sessions that logged in as login: the
// session's login, whatever EXECUTE AS was in force. A table that does not
// exist has none.
func (s *Server) CommittedRowsBy(table, login string) int64 {
	return s.store.committedBy(tableKey(table), login)
}
