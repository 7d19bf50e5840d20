package tds

import (
	"errors"
	"fmt"
	"time"
)

// loginPhase reads LOGIN7, authenticates and registers the session, and
// answers with LOGINACK or with the error a real server sends. It reports
// whether the session is logged in.
func (s *session) loginPhase() bool {
	srv := s.srv
	m, err := s.mr.readMessage()
	if err != nil {
		return false
	}
	if m.typ != pktLogin7 {
		srv.log.Info("tds: expected LOGIN7", "remote", s.raw.RemoteAddr().String(), "type", m.typ)
		return false
	}
	l, err := parseLogin7(m.data)
	if err != nil {
		srv.log.Info("tds: malformed LOGIN7", "remote", s.raw.RemoteAddr().String(), "err", err)
		s.loginError(protocolError())
		return false
	}
	s.packetSize = negotiatedPacketSize(l.packetSize)
	if !supportedTDSVersion(l.tdsVersion) {
		srv.noteFailedLogin()
		srv.log.Info("tds: unsupported TDS version", "remote", s.raw.RemoteAddr().String(), "version", fmt.Sprintf("0x%08X", l.tdsVersion))
		s.loginError(unsupportedTDSVersion(l.tdsVersion))
		return false
	}
	if !s.loginDelay() {
		return false
	}
	s.database = l.database
	if s.database == "" {
		s.database = srv.opts.Database
	}
	s.loginDatabase = s.database
	if e, ok := s.authenticate(l); !ok {
		srv.noteFailedLogin()
		srv.log.Info("tds: login failed", "remote", s.raw.RemoteAddr().String(), "error", e.Number)
		s.loginError(e)
		return false
	}
	if e, ok := srv.register(s); !ok {
		srv.noteFailedLogin()
		s.loginError(e)
		return false
	}
	var tb tokenBuf
	tb.envString(envDatabase, s.database, "master")
	tb.envBytes(envCollation, collation[:], nil)
	tb.envString(envLanguage, defaultLanguage, "")
	tb.envPacketSize(s.packetSize)
	tb.loginAck("Microsoft SQL Server")
	if l.fedAuth != nil {
		tb.featureExtAckFedAuth()
	}
	tb.done(tokDone, doneFinal, cmdNone, 0)
	if err := s.write(pktReply, tb.b); err != nil {
		srv.removeSession(s)
		return false
	}
	return true
}

// supportedTDSVersion reports whether the server speaks the TDS version a
// LOGIN7 asks for. It answers in TDS 7.4's token formats (8-byte DONE row
// counts, FEATUREEXTACK), which 8.0 shares and older versions do not.
func supportedTDSVersion(v uint32) bool { return v == tdsVersion74 || v == tdsVersion80 }

func negotiatedPacketSize(asked uint32) int {
	switch {
	case asked == 0:
		return defaultPacketSize
	case asked < minPacketSize:
		return minPacketSize
	case asked > maxPacketSize:
		return maxPacketSize
	}
	return int(asked)
}

// loginDelay waits out the configured login latency; it reports false when
// the server closes meanwhile.
func (s *session) loginDelay() bool {
	d := s.srv.loginLatency()
	if d <= 0 {
		return true
	}
	// The handshake deadline must not fire during a deliberate delay.
	_ = s.raw.SetDeadline(time.Time{})
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-s.srv.ctx.Done():
		return false
	}
	_ = s.raw.SetDeadline(time.Now().Add(s.srv.opts.HandshakeTimeout))
	return true
}

// authenticate checks a SQL login's password or a FEDAUTH token and sets the
// session's login name. The error it returns is the one the client sees.
func (s *session) authenticate(l login7) (sqlError, bool) {
	srv := s.srv
	if srv.refusing() {
		return notAvailable(s.database, srv.opts.ServerName), false
	}
	if fa := l.fedAuth; fa != nil {
		if fa.library != fedAuthLibSecurityToken {
			return fedAuthUnsupported(), false
		}
		if srv.opts.VerifyToken == nil || fa.token == "" {
			return tokenLoginFailed(false), false
		}
		login, exp, err := srv.opts.VerifyToken(fa.token)
		if err != nil {
			return tokenLoginFailed(errors.Is(err, ErrTokenExpired)), false
		}
		if !exp.IsZero() && !exp.After(srv.opts.Now()) {
			return tokenLoginFailed(true), false
		}
		if login == "" {
			login = tokenPrincipal
		}
		s.login, s.tokenExpiresOn = login, exp
		return sqlError{}, true
	}
	want, ok := srv.opts.Users[l.userName]
	if !ok || l.userName == "" || want != l.password {
		return loginFailed(l.userName), false
	}
	s.login = l.userName
	return sqlError{}, true
}

// loginError sends a failed login's reply: ERROR and DONE(ERROR).
func (s *session) loginError(e sqlError) {
	var tb tokenBuf
	tb.message(tokError, e, s.srv.opts.ServerName)
	tb.done(tokDone, doneError, cmdNone, 0)
	_ = s.write(pktReply, tb.b)
}
