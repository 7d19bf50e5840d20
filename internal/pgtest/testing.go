package pgtest

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"testing"
)

// requireEnv names the variable that turns a missing PostgreSQL from a skip
// into a failure, so CI cannot pass by skipping.
const requireEnv = "IDPOOL_REQUIRE_PG"

// Start starts a server for t alone. t.Cleanup stops it (immediate shutdown)
// and removes it, printing its log first when t failed. Without the binaries
// the test is skipped, or fails when IDPOOL_REQUIRE_PG=1.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s, err := Launch(opts...)
	if err != nil {
		skipOrFail(t, err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			s.logSince(t, 0)
		}
		if err := s.Close(); err != nil {
			t.Errorf("pgtest: closing the server: %v", err)
		}
	})
	return s
}

func skipOrFail(t testing.TB, err error) {
	t.Helper()
	if errors.Is(err, ErrNotInstalled) && os.Getenv(requireEnv) != "1" {
		t.Skipf("%v (set %s=1 to fail instead of skipping)", err, requireEnv)
		return
	}
	t.Fatal(err)
}

// shared is the package's one server behind Shared.
var shared struct {
	mu      sync.Mutex
	wrapped bool // Main is running the tests
	srv     *Server
	err     error
}

// Shared returns the test package's shared server, starting it on first use
// with opts (later calls ignore opts). The package's TestMain must run its
// tests through Main, which stops the server after the last test. When t
// fails, the log lines written during t are printed.
//
// Tests sharing a server must not collide: use NewRole for role names, and do
// not Stop or Restart a shared server from a parallel test.
func Shared(t testing.TB, opts ...Option) *Server {
	t.Helper()
	shared.mu.Lock()
	if !shared.wrapped {
		shared.mu.Unlock()
		t.Fatal("pgtest: Shared needs the package's TestMain to run the tests through pgtest.Main(m)")
	}
	if shared.srv == nil && shared.err == nil {
		shared.srv, shared.err = Launch(opts...)
	}
	s, err := shared.srv, shared.err
	shared.mu.Unlock()
	if err != nil {
		skipOrFail(t, err)
	}
	from := s.logSize()
	t.Cleanup(func() {
		if t.Failed() {
			s.logSince(t, from)
		}
	})
	return s
}

// TestingM is what Main wraps and returns: *testing.M, or goleak's TestingM.
type TestingM interface{ Run() int }

// Main wraps a package's test run so the shared server (see Shared) is
// stopped and removed after the last test, before goleak or os.Exit run:
//
//	func TestMain(m *testing.M) { goleak.VerifyTestMain(pgtest.Main(m)) }
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m).Run()) }
func Main(m TestingM) TestingM { return mainRun{m} }

type mainRun struct{ m TestingM }

func (r mainRun) Run() int {
	shared.mu.Lock()
	shared.wrapped = true
	shared.mu.Unlock()
	code := r.m.Run()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.srv != nil {
		if code != 0 {
			fmt.Fprintf(os.Stderr, "--- pgtest shared server log (%s) ---\n%s\n", shared.srv.LogPath(), tail(shared.srv.readLog(), 64<<10))
		}
		if err := shared.srv.Close(); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: closing the shared server: %v\n", err)
			if code == 0 {
				code = 1
			}
		}
		shared.srv = nil
	}
	return code
}

func (s *Server) logSize() int64 {
	st, err := os.Stat(s.logPath)
	if err != nil {
		return 0
	}
	return st.Size()
}

// logSince prints the server log from byte offset from on, at most its last
// 256 KiB, for a failed test.
func (s *Server) logSince(t testing.TB, from int64) {
	t.Helper()
	f, err := os.Open(s.logPath)
	if err != nil {
		t.Logf("pgtest: no server log: %v", err)
		return
	}
	defer f.Close()
	if _, err := f.Seek(from, io.SeekStart); err != nil {
		t.Logf("pgtest: reading the server log: %v", err)
		return
	}
	b, err := io.ReadAll(f)
	if err != nil {
		t.Logf("pgtest: reading the server log: %v", err)
	}
	t.Logf("--- PostgreSQL server log (%s) ---\n%s", s.logPath, tail(string(b), 256<<10))
}
