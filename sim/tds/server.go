package tds

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a simulated server. The zero value is a server on a
// random loopback port that accepts no logins.
type Options struct {
	// Addr is the address to listen on; it must be a loopback address.
	// Default "127.0.0.1:0".
	Addr string
	// Users are the SQL logins: login name -> password.
	Users map[string]string
	// VerifyToken validates the access token of a FEDAUTH (security token)
	// login and returns the login name SUSER_SNAME() reports and when the
	// token expires. Returning an error (wrap ErrTokenExpired for an expired
	// token) fails the login with error 18456. Nil refuses all token logins.
	VerifyToken func(token string) (login string, expiresOn time.Time, err error)
	// ServerName is the name in ERROR tokens and @@SERVERNAME. Default
	// "idpool-sim".
	ServerName string
	// Database is the database of logins that do not name one. Default "master".
	Database string
	// Now is the clock used to reject expired tokens at login. Default time.Now.
	Now func() time.Time
	// HandshakeTimeout bounds TLS, PRELOGIN and LOGIN7 (login latency not
	// included). Default 10s.
	HandshakeTimeout time.Duration
	// MaxMessageSize bounds one client message. Default 4 MiB. A longer
	// request after login is read to its end, kept nowhere, and answered
	// with error 50000 naming the limit (the connection stays usable); a
	// longer PRELOGIN or LOGIN7 closes the connection.
	MaxMessageSize int
	// Logger receives connection-level events; nil discards them. Tokens and
	// passwords are never logged.
	Logger *slog.Logger
	// Encryption is how the server answers a TDS 7.x client's PRELOGIN
	// ENCRYPTION option. The default, EncryptionAvailable, is a SQL Server
	// with a certificate and "Force Encryption" off. TDS 8.0 clients
	// (encrypt=strict) always get TLS first, whatever this says.
	Encryption Encryption
}

// Encryption is the server side of TDS 7.x encryption negotiation
// ([MS-TDS] 2.2.6.5, the PRELOGIN ENCRYPTION option).
type Encryption int

const (
	// EncryptionAvailable answers as SQL Server does with a certificate and
	// Force Encryption off: a client that asks for encryption (ENCRYPT_ON or
	// ENCRYPT_REQ) gets the whole connection encrypted, one that offers it
	// (ENCRYPT_OFF) gets the login packet encrypted, and one that cannot
	// (ENCRYPT_NOT_SUP) talks in clear.
	EncryptionAvailable Encryption = iota
	// EncryptionRequired answers as SQL Server with Force Encryption on:
	// every connection is encrypted (ENCRYPT_REQ to a client that only
	// offered it), and a client that cannot encrypt is told ENCRYPT_REQ and
	// disconnected.
	EncryptionRequired
	// EncryptionUnsupported answers ENCRYPT_NOT_SUP to everyone, as a server
	// without a certificate does: a client that requires encryption gives up.
	EncryptionUnsupported
)

// String names the mode as in the Options documentation.
func (e Encryption) String() string {
	switch e {
	case EncryptionAvailable:
		return "available"
	case EncryptionRequired:
		return "required"
	case EncryptionUnsupported:
		return "unsupported"
	}
	return fmt.Sprintf("Encryption(%d)", int(e))
}

// ErrTokenExpired may be wrapped by a VerifyToken error to make the login
// error say that the token is expired.
var ErrTokenExpired = errors.New("tds: token is expired")

// Server is a running simulated SQL Server.
type Server struct {
	opts Options
	ln   net.Listener
	tls  *tls.Config
	// tls7 is the configuration of TLS inside PRELOGIN packets (TDS 7.x).
	tls7   *tls.Config
	cert   []byte
	store  *store
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	// descSeq numbers transaction descriptors server-wide.
	descSeq atomic.Uint64

	mu          sync.Mutex
	closed      bool
	conns       map[net.Conn]struct{}
	sessions    map[uint16]*session
	nextSPID    uint16
	refuse      bool
	latency     time.Duration
	maxSessions int
	peak        sessionPeak // see peak.go
	logins      map[string]int
	totalLogins int
	failed      int
	resets      int
	// resetsRefused counts resets refused under EXECUTE AS (error 18059).
	resetsRefused int
}

// Start listens on opts.Addr and serves until Close.
func Start(opts Options) (*Server, error) { return startOn(opts, nil) }

// startOn is Start serving on ln, or on a listener of its own on opts.Addr
// when ln is nil; tests give it a listener that fails as a real one can.
func startOn(opts Options, ln net.Listener) (*Server, error) {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if err := checkLoopback(opts.Addr); err != nil {
		return nil, err
	}
	// The caller keeps its map; sessions read this copy concurrently.
	users := make(map[string]string, len(opts.Users))
	for k, v := range opts.Users {
		users[k] = v
	}
	opts.Users = users
	if opts.ServerName == "" {
		opts.ServerName = "idpool-sim"
	}
	if opts.Database == "" {
		opts.Database = "master"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.HandshakeTimeout <= 0 {
		opts.HandshakeTimeout = 10 * time.Second
	}
	if opts.MaxMessageSize <= 0 {
		opts.MaxMessageSize = defaultMaxMessage
	}
	if opts.Encryption < EncryptionAvailable || opts.Encryption > EncryptionUnsupported {
		return nil, fmt.Errorf("tds: unknown Options.Encryption %d (EncryptionAvailable, EncryptionRequired or EncryptionUnsupported)", int(opts.Encryption))
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	certPEM, tlsCfg, err := newServerTLS()
	if err != nil {
		return nil, err
	}
	if ln == nil {
		if ln, err = net.Listen("tcp", opts.Addr); err != nil {
			return nil, fmt.Errorf("tds: listen: %w", err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		opts: opts, ln: ln, tls: tlsCfg, tls7: tds7TLS(tlsCfg), cert: certPEM, store: newStore(maxTables, "tables on the server"), log: log,
		ctx: ctx, cancel: cancel,
		conns: map[net.Conn]struct{}{}, sessions: map[uint16]*session{},
		nextSPID: firstSPID, logins: map[string]int{},
	}
	s.descSeq.Store(uint64(time.Now().UnixNano()) &^ 0xFFFF)
	s.wg.Add(1)
	go s.acceptLoop()
	return s, nil
}

// checkLoopback refuses to listen anywhere but on the loopback interface:
// the simulator accepts forged-looking test credentials by design.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("tds: bad listen address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("tds: listen address %q is not a loopback address", addr)
}

// acceptLoop accepts until Close. A failed Accept is retried after a pause
// that doubles from 5ms to 1s: the usual cause is a passing one, above all
// running out of file descriptors (EMFILE) under a flood of connections,
// and a server that stopped accepting then stayed deaf after the flood had
// gone.
func (s *Server) acceptLoop() {
	defer s.wg.Done()
	var pause time.Duration
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if s.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			pause = min(max(2*pause, 5*time.Millisecond), time.Second)
			s.log.Warn("tds: accept failed; retrying", "err", err, "in", pause)
			t := time.NewTimer(pause)
			select {
			case <-t.C:
			case <-s.ctx.Done():
				t.Stop()
				return
			}
			continue
		}
		pause = 0
		if !s.track(c) {
			_ = c.Close()
			continue
		}
		s.wg.Add(1)
		go s.serveConn(c)
	}
}

func (s *Server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrack(c net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
}

// serveConn runs one connection from handshake to close. A panic anywhere in
// it closes this connection only.
func (s *Server) serveConn(raw net.Conn) {
	defer s.wg.Done()
	defer s.untrack(raw)
	defer raw.Close()
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("tds: connection handler panicked; connection closed", "remote", raw.RemoteAddr().String(), "panic", fmt.Sprint(r))
		}
	}()
	sess := newSession(s, raw)
	if !sess.handshakeAndLogin() {
		return
	}
	defer s.removeSession(sess)
	sess.run()
}

// Addr is the host:port the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops accepting, closes every connection and waits for all of the
// server's goroutines to end. It is safe to call more than once.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.wg.Wait()
		return nil
	}
	s.closed = true
	conns := make([]net.Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	s.cancel()
	err := s.ln.Close()
	for _, c := range conns {
		_ = c.Close()
	}
	s.wg.Wait()
	return err
}

// nextDescriptor returns a fresh, non-zero transaction descriptor.
func (s *Server) nextDescriptor() uint64 {
	for {
		if d := s.descSeq.Add(1); d != 0 {
			return d
		}
	}
}
