package pgtest

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// AdminUser is the name of each server's superuser.
const AdminUser = "postgres"

// Server is one running PostgreSQL server. Its methods are safe for
// concurrent use, but those taking a testing.TB must be called from the test's
// own goroutine (they may call t.FailNow).
type Server struct {
	bin      binaries
	as       runAs
	dir      string // the temporary directory holding everything below
	dataDir  string
	logPath  string
	port     int
	adminPwd string

	// mu serializes the pg_ctl calls that change whether the server runs.
	mu      sync.Mutex
	running bool
	closed  bool

	names atomic.Int64 // suffix counter for NewRole
}

// maxSocketDir keeps "<dir>/.s.PGSQL.<port>" under the 107-byte limit of a
// unix socket path.
const maxSocketDir = 80

// Launch starts a server without tying it to a test; Close stops it. Tests
// normally use Start or Shared instead. The error wraps ErrNotInstalled when
// the binaries (or, under root, the postgres OS user) are missing.
func Launch(opts ...Option) (*Server, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	bin, err := findBinaries()
	if err != nil {
		return nil, err
	}
	as, err := currentRunAs()
	if err != nil {
		return nil, err
	}
	reapOrphans(bin, as)

	base := os.TempDir()
	if len(base) > maxSocketDir-20 {
		base = "/tmp"
	}
	dir, err := os.MkdirTemp(base, dirPrefix)
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	s := &Server{
		bin:      bin,
		as:       as,
		dir:      dir,
		dataDir:  filepath.Join(dir, "data"),
		logPath:  filepath.Join(dir, "server.log"),
		adminPwd: randomHex(16),
	}
	if err := s.setUp(o); err != nil {
		return nil, errors.Join(err, os.RemoveAll(dir))
	}
	return s, nil
}

// setUp runs initdb, writes the configuration and starts the server on a
// free port, trying another port if a different process took the chosen one.
func (s *Server) setUp(o options) error {
	if err := os.WriteFile(filepath.Join(s.dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	if err := s.as.own(s.dir); err != nil {
		return fmt.Errorf("pgtest: handing %s to the postgres user: %w", s.dir, err)
	}
	if err := s.as.checkTraversable(s.dir); err != nil {
		return err
	}
	if err := s.initdb(); err != nil {
		return err
	}
	if err := s.writeConfig(o); err != nil {
		return err
	}
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if s.port, err = freePort(); err != nil {
			return err
		}
		if err = s.writePort(); err != nil {
			return err
		}
		if err = s.pgCtl("start"); err == nil {
			s.running = true
			return nil
		}
		if !strings.Contains(s.readLog(), "already in use") {
			break
		}
	}
	return fmt.Errorf("%w\n--- server log ---\n%s", err, tail(s.readLog(), 8<<10))
}

func (s *Server) initdb() error {
	pwfile := filepath.Join(s.dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(s.adminPwd+"\n"), 0o600); err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	defer os.Remove(pwfile)
	if err := s.as.own(pwfile); err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	return s.run(s.bin.initdb,
		"-D", s.dataDir,
		"-U", AdminUser,
		"--pwfile="+pwfile,
		"--auth=scram-sha-256",
		"--encoding=UTF8",
		"--locale=C",
		"--no-sync",
		"--no-instructions",
	)
}

// writeConfig includes pgtest's settings from postgresql.conf: the settings
// (pgtest.conf, then the caller's) and the port (port.conf, rewritten when a
// port has to be chosen again) live in files of their own.
func (s *Server) writeConfig(o options) error {
	var b strings.Builder
	fmt.Fprintf(&b, "listen_addresses = '127.0.0.1'\n")
	fmt.Fprintf(&b, "unix_socket_directories = '%s'\n", s.dir)
	b.WriteString("fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n")
	b.WriteString("shared_buffers = '32MB'\nmax_connections = 100\n")
	b.WriteString("password_encryption = 'scram-sha-256'\n")
	b.WriteString("log_connections = on\nlog_line_prefix = '%m [%p] %q%u@%d '\n")
	b.WriteString("log_min_messages = warning\nlogging_collector = off\n")
	settings := o.settings
	if o.tls {
		tls, err := s.writeTLS()
		if err != nil {
			return err
		}
		settings = append(tls, settings...)
	}
	for _, kv := range settings {
		fmt.Fprintf(&b, "%s = %s\n", kv[0], kv[1])
	}
	files := map[string]string{
		"pgtest.conf": b.String(),
		"pg_hba.conf": "# pgtest: passwords over loopback TCP, and on the private socket\n" +
			"local all all scram-sha-256\n" +
			"host  all all 127.0.0.1/32 scram-sha-256\n",
	}
	for name, content := range files {
		if err := s.writeDataFile(name, content); err != nil {
			return err
		}
	}
	f, err := os.OpenFile(filepath.Join(s.dataDir, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	_, err = f.WriteString("\ninclude 'pgtest.conf'\ninclude 'port.conf'\n")
	return errors.Join(err, f.Close())
}

func (s *Server) writePort() error {
	return s.writeDataFile("port.conf", fmt.Sprintf("port = %d\n", s.port))
}

func (s *Server) writeDataFile(name, content string) error {
	path := filepath.Join(s.dataDir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	return s.as.own(path)
}

// pgCtl runs one pg_ctl action against the server, waiting for it to finish.
func (s *Server) pgCtl(action string, extra ...string) error {
	args := []string{action, "-D", s.dataDir, "-w", "-t", "60"}
	if action == "start" || action == "restart" {
		args = append(args, "-l", s.logPath)
	}
	return s.run(s.bin.pgCtl, append(args, extra...)...)
}

// run runs a server program as the server's OS user. Its output goes to a
// file, not a pipe: pg_ctl start leaves a daemon behind, and a daemon that
// inherited a pipe would keep exec.Cmd.Wait waiting for it.
func (s *Server) run(prog string, args ...string) error {
	out, err := os.CreateTemp(s.dir, "cmd-*.out")
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	defer func() { out.Close(); os.Remove(out.Name()) }()
	cmd := s.as.command(s.dir, prog, args...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		text, _ := os.ReadFile(out.Name())
		return fmt.Errorf("pgtest: %s %s: %w\n%s", filepath.Base(prog), args[0], err, tail(string(text), 4<<10))
	}
	return nil
}

// Stop stops the server (fast shutdown: sessions are ended, work is kept),
// for tests of an outage. StartAgain brings it back on the same port.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	if err := s.stop("fast"); err != nil {
		t.Fatal(err)
	}
}

// StartAgain starts a server that Stop stopped, on the same port.
func (s *Server) StartAgain(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		t.Fatal("pgtest: StartAgain on a closed server")
	case s.running:
		t.Fatal("pgtest: StartAgain on a running server")
	}
	if err := s.pgCtl("start"); err != nil {
		t.Fatalf("%v\n--- server log ---\n%s", err, tail(s.readLog(), 8<<10))
	}
	s.running = true
}

// Restart restarts the server on the same port (fast shutdown: every session
// is ended), returning once it accepts connections again.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || !s.running {
		t.Fatal("pgtest: Restart on a server that is not running")
	}
	if err := s.pgCtl("restart", "-m", "fast"); err != nil {
		s.running = false
		t.Fatalf("%v\n--- server log ---\n%s", err, tail(s.readLog(), 8<<10))
	}
}

func (s *Server) stop(mode string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.running {
		return nil
	}
	if err := s.pgCtl("stop", "-m", mode); err != nil {
		return err
	}
	s.running = false
	return nil
}

// Close stops the server at once (immediate shutdown) and removes its
// directory, log included. It is idempotent.
func (s *Server) Close() error {
	stopErr := s.stop("immediate")
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	if stopErr != nil {
		return stopErr // keep the directory: the server may still run from it
	}
	s.closed = true
	return os.RemoveAll(s.dir)
}

// Port is the server's TCP port on 127.0.0.1.
func (s *Server) Port() int { return s.port }

// LogPath is the server's log file. It is removed with the server.
func (s *Server) LogPath() string { return s.logPath }

// AdminPassword is the superuser's password.
func (s *Server) AdminPassword() string { return s.adminPwd }

// AdminDSN is a URL DSN for the superuser on the postgres database.
func (s *Server) AdminDSN() string { return s.DSN(AdminUser, s.adminPwd, "postgres") }

// DSNWithSSLMode is DSN with sslmode set to mode (DSN's is disable).
func (s *Server) DSNWithSSLMode(user, password, database, mode string) string {
	return strings.Replace(s.DSN(user, password, database), "sslmode=disable", "sslmode="+url.QueryEscape(mode), 1)
}

// DSN builds a URL DSN for user (with password, when not empty) on database
// over TCP to 127.0.0.1, without TLS.
func (s *Server) DSN(user, password, database string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User(user),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)),
		Path:     "/" + database,
		RawQuery: "sslmode=disable",
	}
	if password != "" {
		u.User = url.UserPassword(user, password)
	}
	return u.String()
}

func (s *Server) readLog() string {
	b, _ := os.ReadFile(s.logPath)
	return string(b)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgtest: finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on Linux
	return hex.EncodeToString(b)
}

// tail returns at most the last n bytes of s, cut at a line start.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[len(s)-n:]
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return "[...]\n" + s
}
