package tds

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// session is one client connection. Two goroutines serve it: run executes
// requests one at a time, and readLoop reads the next message meanwhile, so
// that an ATTENTION can cancel the request that is running.
type session struct {
	srv *Server
	// raw is the TCP connection; closing it ends the session (Kill does).
	raw net.Conn
	// rw is raw, or the TLS connection over it.
	rw         io.ReadWriter
	mr         *messageReader
	tlsOn      bool
	packetSize int
	// fedAuthEchoed is set when the PRELOGIN reply carried
	// FEDAUTHREQUIRED=1: a FEDAUTH login must then set fFedAuthEcho, and
	// must not otherwise ([MS-TDS]: the server MUST check it, send an
	// ERROR and close the connection on a mismatch).
	fedAuthEchoed bool

	// Fixed once the login succeeds.
	spid           uint16
	login          string
	tokenExpiresOn time.Time
	// database is the current database: the login's, then USE's; owned by
	// the run goroutine after login.
	database string

	// Owned by the run goroutine.
	trancount int
	tranDesc  uint64
	// pending holds rows inserted by the open transaction, per table key.
	pending map[string]int64
	// tranName is the outermost BEGIN TRANSACTION's name, which a ROLLBACK
	// may name; savepoints are the open transaction's, oldest first
	// (savepoint.go).
	tranName   string
	savepoints []savepoint
	// prepared holds sp_prepare's statements by handle, lastHandle the
	// last handle given (prepare.go).
	prepared   map[int32]preparedStmt
	lastHandle int32
	nocount    bool
	// procNesting counts the sp_executesql calls running, each inside the
	// one before (executesql.go).
	procNesting int
	// loginDatabase is the database of the login, restored on reset.
	loginDatabase string
	// language and dateFormat are what SET LANGUAGE and SET DATEFORMAT
	// chose; empty means the login's defaults.
	language, dateFormat string
	// temps holds the session's local temporary tables (#name); nil until
	// the first is created.
	temps *store
	// state is the rest of the state a reset restores (sessionstate.go).
	state sessionState
	// bulk is the INSERT BULK the next message, a BULK_LOAD, loads (bulk.go);
	// nil when none is awaited.
	bulk *bulkTarget

	// inTx mirrors trancount > 0 for Server.Sessions.
	inTx atomic.Bool
	// running is set while a request executes, for Server.Sessions.
	running atomic.Bool
	// killed is set by Kill: a commit racing with the kill must not apply.
	killed atomic.Bool

	// mu orders replies on the wire and guards cur: a reply is written and
	// cur cleared in one critical section, so an ATTENTION either finds the
	// request still running or is answered after its reply.
	mu  sync.Mutex
	cur *request
}

// request is one message being executed.
type request struct {
	msg message
	// tooLarge is set for a message past Options.MaxMessageSize: msg has no
	// data, and the reply is an ERROR that names the limit.
	tooLarge *messageTooLargeError
	ctx      context.Context
	cancel   context.CancelFunc
	// attn is set (under session.mu) when an ATTENTION arrived for it.
	attn bool
}

func newSession(srv *Server, raw net.Conn) *session {
	return &session{srv: srv, raw: raw, rw: raw, packetSize: defaultPacketSize, state: newSessionState()}
}

// kill closes the session's socket; its open transaction is never applied.
func (s *session) kill() {
	s.killed.Store(true)
	_ = s.raw.Close()
}

// errAttention ends a statement cancelled by ATTENTION.
var errAttention = errors.New("tds: cancelled by attention")

// protocolErr marks a malformed request: the server answers with error 4002
// and closes the connection.
type protocolErr struct{ err error }

func (e *protocolErr) Error() string { return e.err.Error() }

func malformed(err error) error { return &protocolErr{err} }

// handshakeAndLogin runs TLS (first, for TDS 8.0 clients), PRELOGIN, the TDS
// 7.x TLS handshake inside PRELOGIN packets when one was negotiated, and
// LOGIN7. It reports whether the session logged in and was registered.
func (s *session) handshakeAndLogin() bool {
	srv := s.srv
	_ = s.raw.SetDeadline(time.Now().Add(srv.opts.HandshakeTimeout))
	br := bufio.NewReader(s.raw)
	first, err := br.Peek(1)
	if err != nil {
		return false
	}
	if first[0] != tlsRecordHandshake && first[0] != pktPrelogin {
		// Not a TDS client; do not wait for a length it never meant.
		return false
	}
	conn := net.Conn(&peekedConn{Conn: s.raw, r: br})
	if first[0] == tlsRecordHandshake {
		tc := tls.Server(conn, srv.tls)
		if err := tc.HandshakeContext(srv.ctx); err != nil {
			srv.log.Info("tds: TLS handshake failed", "remote", s.raw.RemoteAddr().String(), "err", err)
			return false
		}
		conn, s.tlsOn = tc, true
	}
	s.rw = conn
	s.mr = newMessageReader(conn, srv.opts.MaxMessageSize)
	enc, ok := s.prelogin()
	if ok && !s.tlsOn {
		ok = s.encryptAfterPrelogin(conn, br, enc)
	}
	ok = ok && s.loginPhase()
	_ = s.raw.SetDeadline(time.Time{})
	return ok
}

// prelogin answers the client's PRELOGIN and returns the negotiated
// ENCRYPTION value.
func (s *session) prelogin() (byte, bool) {
	m, err := s.mr.readMessage()
	if err != nil {
		return 0, false
	}
	if m.typ != pktPrelogin {
		s.srv.log.Info("tds: expected PRELOGIN", "remote", s.raw.RemoteAddr().String(), "type", m.typ)
		return 0, false
	}
	p, err := parsePrelogin(m.data)
	if err != nil {
		s.srv.log.Info("tds: malformed PRELOGIN", "remote", s.raw.RemoteAddr().String(), "err", err)
		return 0, false
	}
	// The reply below carries FEDAUTHREQUIRED=1 exactly when the client
	// sent the option.
	s.fedAuthEchoed = p.fedAuthRequired
	enc := encryptOn
	if !s.tlsOn {
		client := encryptOff
		if p.hasEncryption {
			client = p.encryption
		}
		enc = negotiateEncryption(client, s.srv.opts.Encryption)
		if enc == encryptReq && client == encryptNotSup {
			// The client cannot encrypt and this server insists: answer so
			// the client can say why, then hang up as SQL Server does.
			_ = s.write(pktReply, buildPreloginReply(p, enc))
			return 0, false
		}
	}
	return enc, s.write(pktReply, buildPreloginReply(p, enc)) == nil
}

// encryptAfterPrelogin runs the TDS 7.x TLS handshake when the negotiation
// calls for one ([MS-TDS] 3.3.5.2). With ENCRYPT_ON and ENCRYPT_REQ the whole
// connection is then encrypted. With ENCRYPT_OFF only the first LOGIN7 packet
// is, and a client may also skip encryption altogether (tedious does) by
// sending LOGIN7 in clear, which the server accepts as SQL Server does.
func (s *session) encryptAfterPrelogin(conn net.Conn, br *bufio.Reader, enc byte) bool {
	if enc == encryptNotSup {
		return true
	}
	next, err := br.Peek(1)
	if err != nil {
		return false
	}
	if next[0] != pktPrelogin {
		if enc == encryptOff && next[0] == pktLogin7 {
			return true
		}
		s.srv.log.Info("tds: client did not start the TLS handshake it negotiated", "remote", s.raw.RemoteAddr().String(), "type", next[0])
		return false
	}
	wrap := newPreloginTLSConn(conn, br)
	tc := tls.Server(wrap, s.srv.tls7)
	if err := tc.HandshakeContext(s.srv.ctx); err != nil {
		s.srv.log.Info("tds: TLS handshake in PRELOGIN failed", "remote", s.raw.RemoteAddr().String(), "err", err)
		return false
	}
	wrap.passthrough = true
	if enc == encryptOff {
		// Login-only encryption: the first LOGIN7 packet comes through TLS,
		// everything after it (the rest of LOGIN7 too) in clear.
		s.mr = newMessageReader(&firstPacketReader{tls: tc, plain: br}, s.srv.opts.MaxMessageSize)
		return true
	}
	s.rw, s.tlsOn = tc, true
	s.mr = newMessageReader(tc, s.srv.opts.MaxMessageSize)
	return true
}

// write frames and sends one reply message.
func (s *session) write(typ byte, payload []byte) error {
	_, err := s.rw.Write(appendPackets(nil, typ, s.spid, s.packetSize, payload))
	return err
}

// run serves requests until the connection ends.
func (s *session) run() {
	ctx, cancel := context.WithCancel(s.srv.ctx)
	reqs := make(chan *request)
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		s.readLoop(ctx, reqs)
	}()
	for req := range reqs {
		if !s.handle(req) {
			break
		}
	}
	cancel()
	_ = s.raw.Close()
	<-readerDone
}

// readLoop reads messages. Requests go to run; an ATTENTION cancels the
// running request, or is acknowledged at once when none is running.
func (s *session) readLoop(ctx context.Context, reqs chan<- *request) {
	defer close(reqs)
	// However reading ends (the client gone, a protocol violation, a
	// panic), the connection is closed: end the request left running, as
	// SQL Server aborts the batch of a broken connection, or a long
	// WAITFOR would hold the session and its goroutines past its client.
	defer func() {
		s.mu.Lock()
		if s.cur != nil {
			s.cur.cancel()
		}
		s.mu.Unlock()
	}()
	defer func() {
		if r := recover(); r != nil {
			s.srv.log.Error("tds: reader panicked; connection closed", "spid", s.spid, "panic", fmt.Sprint(r))
			_ = s.raw.Close()
		}
	}()
	for {
		m, err := s.mr.readMessage()
		var tooLarge *messageTooLargeError
		if errors.As(err, &tooLarge) {
			err = nil
		}
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				s.srv.log.Info("tds: read failed; connection closed", "spid", s.spid, "err", err)
			}
			_ = s.raw.Close()
			return
		}
		if m.typ == pktAttention && tooLarge == nil {
			s.attention()
			continue
		}
		rctx, rcancel := context.WithCancel(ctx)
		req := &request{msg: m, tooLarge: tooLarge, ctx: rctx, cancel: rcancel}
		s.mu.Lock()
		busy := s.cur != nil
		if !busy {
			s.cur = req
			s.running.Store(true)
		}
		s.mu.Unlock()
		if busy {
			// TDS without MARS allows one request at a time.
			rcancel()
			s.srv.log.Info("tds: request while another is running; connection closed", "spid", s.spid)
			_ = s.raw.Close()
			return
		}
		select {
		case reqs <- req:
		case <-ctx.Done():
			rcancel()
			return
		}
	}
}

func (s *session) attention() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur != nil {
		s.cur.attn = true
		s.cur.cancel()
		return
	}
	// The reply already went out: acknowledge on its own.
	var tb tokenBuf
	tb.done(tokDone, doneAttn, cmdNone, 0)
	_ = s.write(pktReply, tb.b)
}

// handle executes one request and sends its reply. It reports whether the
// connection stays open.
func (s *session) handle(req *request) (keep bool) {
	defer func() {
		if r := recover(); r != nil {
			s.srv.log.Error("tds: request handler panicked; connection closed", "spid", s.spid, "panic", fmt.Sprint(r))
			keep = false
		}
	}()
	defer req.cancel()
	var tb tokenBuf
	// An INSERT BULK awaits the message right after it, and no other.
	bulk := s.bulk
	s.bulk = nil
	st := req.msg.status
	if st&(statusResetConn|statusResetConnSkipTran) != 0 {
		if e := s.reset(&tb, st&statusResetConn == 0); e != nil {
			// A reset refused (severity 20) ends the connection unexecuted.
			s.srv.log.Info("tds: reset refused; connection closed", "spid", s.spid, "error", e.e.Number)
			tb = tokenBuf{}
			tb.message(tokError, e.e, s.srv.opts.ServerName)
			tb.done(tokDone, doneError, cmdNone, 0)
			s.finish(req, tb.b, false)
			return false
		}
	}
	if req.tooLarge != nil {
		s.srv.log.Info("tds: request over the message size limit; answered with an error", "spid", s.spid, "err", req.tooLarge)
		tb.message(tokError, errMessageTooLarge(req.tooLarge).e, s.srv.opts.ServerName)
		tb.done(tokDone, doneError, cmdNone, 0)
		return s.finish(req, tb.b, false)
	}
	var err error
	switch req.msg.typ {
	case pktBulkLoad:
		err = s.doBulkLoad(req, bulk, &tb)
	case pktSQLBatch:
		err = s.doBatch(req, &tb)
	case pktRPC:
		err = s.doRPC(req, &tb)
	case pktTM:
		err = s.doTM(req, &tb)
	default:
		err = malformed(fmt.Errorf("tds: unexpected message type 0x%02x after login", req.msg.typ))
	}
	attnCut := errors.Is(err, errAttention)
	var pe *protocolErr
	if errors.As(err, &pe) {
		s.srv.log.Info("tds: malformed request; connection closed", "spid", s.spid, "err", pe.err)
		tb = tokenBuf{}
		tb.message(tokError, protocolError(), s.srv.opts.ServerName)
		tb.done(tokDone, doneError, cmdNone, 0)
		s.finish(req, tb.b, false)
		return false
	}
	return s.finish(req, tb.b, attnCut)
}

// finish sends a request's reply. The acknowledgement of an ATTENTION is
// always a message of its own, a lone DONE(ATTN), after the reply to the
// request it cancelled ([MS-TDS] 2.2.1.7, 3.3.5.9). A request cut short still
// gets its reply, what it produced closed by a DONE, so that the client reads
// two messages whatever the timing: tedious takes the first message after a
// request as its reply and waits for the acknowledgement in the next one, and
// go-mssqldb reads a reply without DONE(ATTN) to its end, then the next.
func (s *session) finish(req *request, reply []byte, attnCut bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cur = nil
	s.running.Store(false)
	if attnCut {
		var tb tokenBuf
		tb.done(tokDone, doneFinal, cmdNone, 0)
		reply = append(reply, tb.b...)
	}
	if err := s.write(pktReply, reply); err != nil {
		return false
	}
	if req.attn || attnCut {
		var tb tokenBuf
		tb.done(tokDone, doneAttn, cmdNone, 0)
		if err := s.write(pktReply, tb.b); err != nil {
			return false
		}
	}
	return true
}

// reset does what sp_reset_connection does for a request that carries the
// RESETCONNECTION bit: roll back the open transaction (unless the client
// asked to keep it), drop the session's temporary tables and restore its
// settings, CONTEXT_INFO and SESSION_CONTEXT (sessionstate.go). Under an
// EXECUTE AS not reverted it refuses, changing nothing, with error 18059,
// after which the session must end.
func (s *session) reset(tb *tokenBuf, keepTran bool) *execError {
	if e := s.resetState(); e != nil {
		s.srv.mu.Lock()
		s.srv.resets++
		s.srv.resetsRefused++
		s.srv.mu.Unlock()
		return e
	}
	if !keepTran && s.trancount > 0 {
		s.endTran(tb)
	}
	s.nocount = false
	s.language, s.dateFormat = "", ""
	if s.database != s.loginDatabase {
		tb.envString(envDatabase, s.loginDatabase, s.database)
		s.database = s.loginDatabase
	}
	s.dropTemps()
	tb.envBytes(envResetAck, nil, nil)
	s.srv.mu.Lock()
	s.srv.resets++
	s.srv.mu.Unlock()
	return nil
}
