package foreign_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// node finds the node binary and the installed tedious, or skips (fails
// under IDPOOL_REQUIRE_FOREIGN=1) with how to install them.
func node(t *testing.T) (bin, dir string) {
	t.Helper()
	dir, err := filepath.Abs("node")
	require.NoError(t, err)
	bin, err = exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join(dir, "node_modules", "tedious", "package.json"))
	}
	if err != nil {
		notInstalled(t, "tedious", err)
	}
	return bin, dir
}

// notInstalled skips the test because a foreign client is missing, saying
// how to install it; under IDPOOL_REQUIRE_FOREIGN=1 (CI) it fails instead,
// so that CI never passes without running the foreign clients.
func notInstalled(t *testing.T, client string, err error) {
	t.Helper()
	msg := "the foreign TDS client " + client + " is not installed (run: bash .ci/install-tds-client.sh): " + err.Error()
	if os.Getenv("IDPOOL_REQUIRE_FOREIGN") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// served is what `idpool tds` printed, parsed.
type served struct {
	host               string
	port               int
	caFile, user, pass string
	tenant, clientID   string
	secret, authority  string
}

// startIdpoolTDS builds and starts `idpool tds` on a free port and parses
// what it prints; it stops it (Ctrl-C) when the test ends.
func startIdpoolTDS(t *testing.T, args ...string) served {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "idpool")
	goBin, err := exec.LookPath("go")
	require.NoError(t, err)
	build := exec.Command(goBin, "build", "-o", bin, "github.com/idpool/idpool/cmd/idpool")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)

	cmd := exec.Command(bin, append([]string{"tds", "--addr", "127.0.0.1:0", "--cert-file", filepath.Join(dir, "ca.pem")}, args...)...)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			assert.NoError(t, err, "idpool tds exits 0 on Ctrl-C")
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			t.Error("idpool tds did not stop on SIGINT")
		}
	})
	var text strings.Builder
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		text.WriteString(sc.Text() + "\n")
		if strings.HasPrefix(sc.Text(), "other clients:") {
			break
		}
	}
	go func() {
		for sc.Scan() { // drain, so the server never blocks on a full pipe
		}
	}()
	printed := text.String()
	one := func(re string) string {
		m := regexp.MustCompile(re).FindStringSubmatch(printed)
		require.NotNil(t, m, "%s not in:\n%s", re, printed)
		return m[1]
	}
	dsn, err := url.Parse(one(`(?m)^\s+dsn (\S+)$`))
	require.NoError(t, err)
	pass, _ := dsn.User.Password()
	s := served{
		host: one(`other clients: host (\S+) `), caFile: one(`(?m)^certificates: (\S+)$`),
		user: dsn.User.Username(), pass: pass,
		tenant: one(`AZURE_TENANT_ID=(\S+)`), clientID: one(`AZURE_CLIENT_ID=(\S+)`),
		secret: one(`AZURE_CLIENT_SECRET=(\S+)`), authority: one(`AZURE_AUTHORITY_HOST=(\S+)`),
	}
	require.NoError(t, json.Unmarshal([]byte(one(`other clients: host \S+ port (\d+)`)), &s.port))
	return s
}

// runClient runs client.js with cfg and returns its output; it fails the
// test unless the client exits 0.
func runClient(t *testing.T, cfg map[string]any) string {
	t.Helper()
	bin, dir := node(t)
	raw, err := json.Marshal(cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "client.js", string(raw))
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	t.Logf("node client.js (%v):\n%s", cfg["name"], out)
	require.NoError(t, err, "tedious run %v failed:\n%s", cfg["name"], out)
	return string(out)
}

// TestTediousAgainstIdpoolTDS runs tedious, a TDS client written in
// JavaScript, against `idpool tds`: SQL and token logins, with encryption
// off, negotiated in PRELOGIN (TDS 7.4) and TLS-first (TDS 8.0), certificate
// checks on; each run queries, passes parameters, switches database, commits
// and rolls back, rolls back to a savepoint, prepares a statement (and
// runs and drops it), recovers from an error, sees the statements after an error
// in a batch (and EXEC sp_executesql written in one) and cancels a WAITFOR.
func TestTediousAgainstIdpoolTDS(t *testing.T) {
	node(t)
	s := startIdpoolTDS(t)
	base := func(name, login string, encrypt any) map[string]any {
		return map[string]any{
			"name": name, "host": s.host, "port": s.port, "caFile": s.caFile, "encrypt": encrypt, "login": login,
			"user": s.user, "password": s.pass,
			"authority": s.authority, "tenant": s.tenant, "clientId": s.clientID, "secret": s.secret,
		}
	}
	steps := []string{"ok connect", "ok query as", "ok parameters", "ok use", "ok transaction", "ok savepoint", "ok prepare", "ok error and recovery", "ok batch errors", "ok cancelled WAITFOR", "ok close"}
	for _, c := range []struct {
		name, login string
		encrypt     any
	}{
		{"sql-login/encrypt-off", "sql", false},
		{"sql-login/encrypt-on", "sql", true},
		{"sql-login/tds8-strict", "sql", "strict"},
		{"token-login/encrypt-off", "token", false},
		{"token-login/encrypt-on", "token", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := runClient(t, base(c.name, c.login, c.encrypt))
			for _, step := range steps {
				assert.Contains(t, out, step)
			}
		})
	}
	t.Run("unsupported-tds-version", func(t *testing.T) {
		cfg := base("tds-7.1", "sql", true)
		cfg["tdsVersion"] = "7_1"
		cfg["expectLoginError"] = "does not support"
		out := runClient(t, cfg)
		assert.Contains(t, out, "ok login refused")
		assert.Contains(t, out, "TDS version 0x71000001")
	})
}

// TestTediousAgainstForcedEncryption: with --encryption required every
// connection is encrypted, and a client that will not encrypt is told why.
func TestTediousAgainstForcedEncryption(t *testing.T) {
	node(t)
	s := startIdpoolTDS(t, "--encryption", "required")
	cfg := map[string]any{
		"name": "forced/encrypt-on", "host": s.host, "port": s.port, "caFile": s.caFile, "encrypt": true,
		"login": "sql", "user": s.user, "password": s.pass,
	}
	assert.Contains(t, runClient(t, cfg), "ok cancelled WAITFOR")
	cfg["name"], cfg["encrypt"], cfg["expectLoginError"] = "forced/encrypt-off", false, "Server requires encryption"
	assert.Contains(t, runClient(t, cfg), "ok login refused")
}
