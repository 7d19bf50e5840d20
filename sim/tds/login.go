package tds

import (
	"encoding/binary"
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
	// The version comes first: an older client's LOGIN7 has another layout,
	// and it must be told why it is refused, not that its stream is bad.
	if v, ok := login7Version(m.data); ok && !supportedTDSVersion(v) {
		srv.noteFailedLogin()
		srv.log.Info("tds: unsupported TDS version", "remote", s.raw.RemoteAddr().String(), "version", fmt.Sprintf("0x%08X", v))
		s.refuseVersion(v)
		return false
	}
	l, err := parseLogin7(m.data)
	if err != nil {
		srv.log.Info("tds: malformed LOGIN7", "remote", s.raw.RemoteAddr().String(), "err", err)
		s.loginError(protocolError())
		return false
	}
	s.packetSize = negotiatedPacketSize(l.packetSize)
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

// login7Version reads the TDSVersion of a LOGIN7 record: its second DWORD,
// the same in every version's layout.
func login7Version(b []byte) (uint32, bool) {
	if len(b) < 8 {
		return 0, false
	}
	return binary.LittleEndian.Uint32(b[4:]), true
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
		if fa.echo != s.fedAuthEchoed {
			return fedAuthEchoMismatch(s.fedAuthEchoed), false
		}
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

// refuseVersion answers a LOGIN7 for a TDS version the server does not speak
// with ERROR and DONE in that version's own format, so the client can parse
// and show the message: before TDS 7.2 an ERROR's line number is 2 bytes and
// a DONE's row count 4, not 4 and 8.
func (s *session) refuseVersion(v uint32) {
	var tb tokenBuf
	e := unsupportedTDSVersion(v)
	if major := v >> 24; major != 0x70 && major != 0x71 {
		tb.message(tokError, e, s.srv.opts.ServerName)
		tb.done(tokDone, doneError, cmdNone, 0)
		_ = s.write(pktReply, tb.b)
		return
	}
	le := binary.LittleEndian
	tb.withLen16(tokError, func(b []byte) []byte {
		b = le.AppendUint32(b, uint32(e.Number))
		b = append(b, e.State, e.Class)
		b = appendUsVarChar(b, e.Msg)
		b = appendBVarChar(b, s.srv.opts.ServerName)
		b = appendBVarChar(b, "")
		return le.AppendUint16(b, 1)
	})
	tb.b = append(tb.b, tokDone)
	tb.b = le.AppendUint16(tb.b, doneError)
	tb.b = le.AppendUint16(tb.b, cmdNone)
	tb.b = le.AppendUint32(tb.b, 0)
	_ = s.write(pktReply, tb.b)
}
