package foreign_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/internal/selfsigned"
	"github.com/idpool/idpool/sim/tds"
)

// The FreeTDS tests drive tsql, FreeTDS's command-line client (C, its own
// TDS implementation: libtds), against `idpool tds`. tsql reads batches from
// stdin, each ended by a line "go", prints each result set as a header line
// and rows of tab-separated values on stdout (-o q drops the prompts and
// footers), and server messages as "Msg N (severity S, state T) from SERVER
// Line L:" on stderr. It exits 1 when it cannot log in, and 0 otherwise,
// even when a batch failed: the tests read the messages, not the exit code.

// tsqlBin finds tsql, or skips (fails under IDPOOL_REQUIRE_FOREIGN=1) with
// how to install it.
func tsqlBin(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("tsql")
	if err != nil {
		notInstalled(t, "FreeTDS (tsql)", err)
	}
	return bin
}

// ftds is how one tsql run connects: the freetds.conf entry it writes.
type ftds struct {
	host string
	port int
	// version is the TDS version FreeTDS asks for ("7.4", or "auto":
	// FreeTDS's own choice; FreeTDS 1.3 has no 8.0).
	version string
	// encryption is FreeTDS's setting, and what it sends in PRELOGIN:
	// "off" offers ENCRYPT_NOT_SUP (no TLS at all); "request" offers
	// ENCRYPT_OFF (TLS for LOGIN7 only, unless the server answers that it
	// requires encryption, then for the whole connection); "require" offers
	// ENCRYPT_ON (TLS for the whole connection, the certificate verified
	// against caFile).
	encryption string
	caFile     string
	user, pass string
	// textSize, when set, has FreeTDS send SET TEXTSIZE after login, as a
	// freetds.conf with "text size" does.
	textSize int
}

// tsqlRun is what one tsql run printed, and how it ended.
type tsqlRun struct {
	stdout, stderr string
	err            error
}

// tsqlCommand returns tsql connecting as c, under ctx, configured by
// freeTDSEnv. With lineBuffered it runs under
// coreutils' stdbuf -oL, so that each line tsql prints reaches a pipe at
// once rather than when tsql exits.
func tsqlCommand(ctx context.Context, t *testing.T, c ftds, lineBuffered bool) *exec.Cmd {
	t.Helper()
	bin := tsqlBin(t)
	args := []string{bin, "-S", "sim", "-U", c.user, "-P", c.pass, "-o", "q"}
	if lineBuffered {
		stdbuf, err := exec.LookPath("stdbuf")
		if err != nil {
			notInstalled(t, "FreeTDS (stdbuf, from coreutils, to read tsql line by line)", err)
		}
		args = append([]string{stdbuf, "-oL"}, args...)
	}
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Env = freeTDSEnv(t, c)
	return cmd
}

// freeTDSEnv is the environment of a FreeTDS program (tsql, freebcp)
// connecting as c to the server named "sim": a freetds.conf of its own in a
// temporary directory, and HOME there too, so that neither the machine's
// /etc/freetds nor a ~/.freetds.conf changes what is tested.
func freeTDSEnv(t *testing.T, c ftds) []string {
	t.Helper()
	dir := t.TempDir()
	conf := filepath.Join(dir, "freetds.conf")
	text := fmt.Sprintf("[global]\n\tclient charset = UTF-8\n[sim]\n\thost = %s\n\tport = %d\n\ttds version = %s\n\tencryption = %s\n",
		c.host, c.port, c.version, c.encryption)
	if c.caFile != "" {
		text += "\tca file = " + c.caFile + "\n"
	}
	if c.textSize != 0 {
		text += fmt.Sprintf("\ttext size = %d\n", c.textSize)
	}
	require.NoError(t, os.WriteFile(conf, []byte(text), 0o600))
	env := []string{"FREETDSCONF=" + conf, "HOME=" + dir, "TDSVER=" + c.version, "LC_ALL=C.UTF-8"}
	for _, kv := range os.Environ() {
		switch k, _, _ := strings.Cut(kv, "="); k {
		case "FREETDSCONF", "FREETDS", "HOME", "TDSVER", "TDSDUMP", "TDSDUMPCONFIG", "TDSHOST", "TDSPORT", "LC_ALL", "SYBASE", "DSQUERY":
		default:
			env = append(env, kv)
		}
	}
	return env
}

// runTsql runs tsql with the connection c and script on stdin, and returns
// what it printed.
func runTsql(t *testing.T, c ftds, script string) tsqlRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := tsqlCommand(ctx, t, c, false)
	cmd.Stdin = strings.NewReader(script)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	require.NoError(t, ctx.Err(), "tsql did not finish within a minute:\nstdout:\n%s\nstderr:\n%s", &stdout, &stderr)
	t.Logf("tsql (%s, TDS %s, encryption %s):\nstdout:\n%s\nstderr:\n%s", c.user, c.version, c.encryption, &stdout, &stderr)
	return tsqlRun{stdout: stdout.String(), stderr: stderr.String(), err: err}
}

// freeTDSConn is the SQL login `idpool tds` printed, over TDS 7.4 with
// full encryption and its certificate checked.
func freeTDSConn(s served) ftds {
	return ftds{host: s.host, port: s.port, version: "7.4", encryption: "require", caFile: s.caFile, user: s.user, pass: s.pass}
}

// loggedIn runs script and fails the test unless tsql logged in and no
// server message reached stderr.
func loggedIn(t *testing.T, c ftds, script string) string {
	t.Helper()
	r := runTsql(t, c, script)
	require.NoError(t, r.err, "tsql failed:\n%s", r.stderr)
	assert.NotContains(t, r.stderr, "Msg ")
	assert.NotContains(t, r.stderr, "Error ")
	return r.stdout
}

// TestFreeTDSAgainstIdpoolTDS runs FreeTDS's tsql, a TDS client written in
// C, against `idpool tds` over TDS 7.4: logins, values of several types,
// transactions, errors, session state over several batches, and values and
// batches larger than a packet.
func TestFreeTDSAgainstIdpoolTDS(t *testing.T) {
	tsqlBin(t)
	s := startIdpoolTDS(t)

	t.Run("login", func(t *testing.T) {
		// tsql's "version" prints the TDS version of the server's LOGINACK.
		out := loggedIn(t, freeTDSConn(s), "version\nSELECT SUSER_SNAME() AS who, DB_NAME() AS db, @@TRANCOUNT AS tc\ngo\n")
		assert.Contains(t, out, "using TDS version 7.4\n")
		assert.Contains(t, out, "who\tdb\ttc\n"+s.user+"\tmaster\t0\n")
	})

	t.Run("tds-version-auto", func(t *testing.T) {
		// FreeTDS's default ends up with 7.4, the highest version it knows.
		c := freeTDSConn(s)
		c.version = "auto"
		out := loggedIn(t, c, "version\nSELECT 1 AS a\ngo\n")
		assert.Contains(t, out, "using TDS version 7.4\n")
		assert.Contains(t, out, "a\n1\n")
	})

	t.Run("wrong-password", func(t *testing.T) {
		c := freeTDSConn(s)
		c.pass = "not-" + s.pass
		r := runTsql(t, c, "SELECT 1 AS a\ngo\n")
		assert.Error(t, r.err, "tsql exits non-zero when it cannot log in")
		assert.Contains(t, r.stderr, "Msg 18456 (severity 14, state 1)")
		assert.Contains(t, r.stderr, "Login failed for user '"+s.user+"'.")
		assert.NotContains(t, r.stdout, "a\n1\n", "no batch ran")
	})

	t.Run("unknown-user", func(t *testing.T) {
		c := freeTDSConn(s)
		c.user = "nobody"
		r := runTsql(t, c, "SELECT 1 AS a\ngo\n")
		assert.Error(t, r.err)
		assert.Contains(t, r.stderr, "Msg 18456")
		assert.Contains(t, r.stderr, "Login failed for user 'nobody'.")
	})

	t.Run("types", func(t *testing.T) {
		out := loggedIn(t, freeTDSConn(s),
			"SELECT 42 AS i, -7 AS neg, 5000000000 AS big, 2.5 AS f, N'héllo wörld ✓' AS s, 'plain' AS v, N'' AS empty, 0xDEADBEEF AS bin, NULL AS n\ngo\n"+
				"SELECT @@SPID AS spid_is_int, @@SERVERNAME AS srv, @@VERSION AS ver\ngo\n")
		// int, int, bigint, float, nvarchar (non-ASCII, through UTF-16),
		// varchar literal, empty string, varbinary (tsql prints it in hex),
		// NULL.
		assert.Contains(t, out, "i\tneg\tbig\tf\ts\tv\tempty\tbin\tn\n42\t-7\t5000000000\t2.5\théllo wörld ✓\tplain\t\tdeadbeef\tNULL\n")
		assert.Contains(t, out, "\tidpool-sim\tMicrosoft SQL Server 2022 (idpool simulator)\n")
	})

	t.Run("transactions", func(t *testing.T) {
		out := loggedIn(t, freeTDSConn(s), ""+
			"BEGIN TRAN\nSELECT @@TRANCOUNT AS opened\ngo\n"+
			// The transaction outlives its batch.
			"SELECT @@TRANCOUNT AS next_batch\nCOMMIT\nSELECT @@TRANCOUNT AS committed\ngo\n"+
			"BEGIN TRAN; BEGIN TRANSACTION t2; SELECT @@TRANCOUNT AS nested; ROLLBACK; SELECT @@TRANCOUNT AS rolled_back\ngo\n"+
			// Rows inserted in a rolled-back transaction are gone; the
			// committed ones stay.
			"CREATE TABLE #t (a int)\nINSERT INTO #t VALUES (1), (2), (3)\ngo\n"+
			"BEGIN TRAN\nINSERT INTO #t VALUES (4)\nSELECT COUNT(*) AS inside FROM #t\nROLLBACK\nSELECT COUNT(*) AS after_rollback FROM #t\ngo\n"+
			"BEGIN TRAN\nINSERT INTO #t VALUES (5), (6)\nCOMMIT TRAN\nSELECT COUNT(*) AS after_commit FROM #t\ngo\n")
		for _, want := range []string{
			"opened\n1\n", "next_batch\n1\n", "committed\n0\n", "nested\n2\n", "rolled_back\n0\n",
			"inside\n4\n", "after_rollback\n3\n", "after_commit\n5\n",
		} {
			assert.Contains(t, out, want)
		}
	})

	t.Run("errors", func(t *testing.T) {
		r := runTsql(t, freeTDSConn(s), ""+
			"SELECT @@SPID AS spid_before\ngo\n"+
			"ROLLBACK\ngo\n"+
			"SELECT 1 AS a FROM no_such_table\ngo\n"+
			"SELECT FROM\ngo\n"+
			"SET NO_SUCH_OPTION ON\ngo\n"+
			// A syntax error anywhere means no statement of the batch runs.
			"SELECT 1 AS never_ran\nSELECT FROM\ngo\n"+
			"SELECT @@SPID AS spid_after, @@TRANCOUNT AS tc\ngo\n")
		require.NoError(t, r.err, "the errors do not end the session")
		for _, want := range []string{
			"Msg 3903 (severity 16, state 1) from idpool-sim",
			"The ROLLBACK TRANSACTION request has no corresponding BEGIN TRANSACTION.",
			"Msg 208 (severity 16, state 1) from idpool-sim",
			"Invalid object name 'no_such_table'.",
			"Msg 102 (severity 15, state 1) from idpool-sim",
			"Incorrect syntax near 'FROM'.",
			"Msg 195 (severity 15, state 1) from idpool-sim",
			"'NO_SUCH_OPTION' is not a recognized SET option.",
		} {
			assert.Contains(t, r.stderr, want)
		}
		assert.NotContains(t, r.stdout, "never_ran")
		before := field(t, r.stdout, "spid_before")
		assert.Contains(t, r.stdout, "spid_after\ttc\n"+before+"\t0\n", "the same session ran every batch")
	})

	t.Run("session-state", func(t *testing.T) {
		out := loggedIn(t, freeTDSConn(s), ""+
			"SELECT @@SPID AS spid1\ngo\n"+
			"USE tempdb\ngo\n"+
			"SELECT DB_NAME() AS db, @@SPID AS spid2\ngo\n"+
			"SET LOCK_TIMEOUT 1234\nSET XACT_ABORT ON\nSET CONTEXT_INFO 0x0102\nEXEC sp_set_session_context N'tenant', N'acme'\ngo\n"+
			"SELECT @@LOCK_TIMEOUT AS lt, CONTEXT_INFO() AS ci, SESSION_CONTEXT(N'tenant') AS sc\ngo\n"+
			"DBCC USEROPTIONS\ngo\n"+
			"EXECUTE AS USER = 'bob'\nSELECT USER_NAME() AS impersonated, SUSER_SNAME() AS login\ngo\n"+
			"REVERT\nSELECT USER_NAME() AS reverted\ngo\n"+
			"SET NOCOUNT ON\nSELECT 1 AS nocount\ngo\n")
		spid := field(t, out, "spid1")
		assert.Contains(t, out, "db\tspid2\ntempdb\t"+spid+"\n", "USE holds for the next batch, in the same session")
		assert.Contains(t, out, "lt\tci\tsc\n1234\t0102\tacme\n")
		assert.Contains(t, out, "Set Option\tValue\n")
		assert.Contains(t, out, "lock_timeout\t1234\n")
		assert.Contains(t, out, "xact_abort\tSET\n")
		assert.Contains(t, out, "impersonated\tlogin\nbob\t"+s.user+"\n")
		assert.Contains(t, out, "reverted\ndbo\n")
		assert.Contains(t, out, "nocount\n1\n")
	})

	t.Run("set-after-login", func(t *testing.T) {
		// FreeTDS's "text size" setting is a SET TEXTSIZE it sends on its
		// own right after login; the session keeps it.
		c := freeTDSConn(s)
		c.textSize = 64512
		out := loggedIn(t, c, "DBCC USEROPTIONS\ngo\n")
		assert.Contains(t, out, "Set Option\tValue\ntextsize\t64512\n")
	})

	t.Run("larger-than-a-packet", func(t *testing.T) {
		// 5,000 characters come back as NVARCHAR(MAX) (PLP chunks) and
		// 4,100 bytes as VARBINARY(MAX); the batch itself (over 20 KB in
		// UTF-16) and the reply each span several 4 KB packets.
		long := strings.Repeat("x", 5000)
		bin := strings.Repeat("ab", 4100)
		out := loggedIn(t, freeTDSConn(s), "SELECT N'"+long+"' AS long_text, 0x"+bin+" AS long_bin, 1 AS after\ngo\nSELECT 2 AS next_batch\ngo\n")
		assert.Contains(t, out, "long_text\tlong_bin\tafter\n"+long+"\t"+bin+"\t1\n")
		assert.Contains(t, out, "next_batch\n2\n")
	})

	t.Run("tds-7.3-refused", func(t *testing.T) {
		// FreeTDS 1.3 speaks 7.1 to 7.4; the server speaks 7.4 (and 8.0)
		// only, and refuses the others with a login error that says why.
		c := freeTDSConn(s)
		c.version = "7.3"
		r := runTsql(t, c, "SELECT 1 AS a\ngo\n")
		assert.Error(t, r.err)
		assert.Contains(t, r.stderr, "Msg 18456")
		assert.Contains(t, r.stderr, "TDS version 0x730B0003, which this server does not support")
	})

	t.Run("tds-7.0-no-prelogin", func(t *testing.T) {
		// A TDS 7.0 client sends LOGIN7 with no PRELOGIN first; [MS-TDS]
		// 3.3.5.1 has the server close the connection when the first packet
		// is neither PRELOGIN nor a TLS ClientHello, and sim/tds does.
		c := freeTDSConn(s)
		c.version, c.encryption = "7.0", "off"
		r := runTsql(t, c, "SELECT 1 AS a\ngo\n")
		assert.Error(t, r.err)
		assert.Contains(t, r.stderr, "Unexpected EOF from the server")
		assert.NotContains(t, r.stderr, "Msg ")
	})
}

// field returns the single value under header in tsql's output: the line
// after a line that is exactly header.
func field(t *testing.T, out, header string) string {
	t.Helper()
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		if l == header && i+1 < len(lines) {
			return lines[i+1]
		}
	}
	t.Fatalf("no %q result in:\n%s", header, out)
	return ""
}

// TestFreeTDSEncryption: every encryption setting of FreeTDS against each
// of `idpool tds`'s --encryption modes, so the server's answers to
// ENCRYPT_NOT_SUP, OFF and ON, its login-only encryption and its TLS
// inside PRELOGIN all meet a client of another implementation; when FreeTDS
// requires TLS it checks the certificate, and one it does not trust ends
// the login.
func TestFreeTDSEncryption(t *testing.T) {
	tsqlBin(t)
	otherCA := filepath.Join(t.TempDir(), "other.pem")
	other, err := selfsigned.New("not the simulated server")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(otherCA, other.CertPEM(), 0o600))

	const query = "SELECT SUSER_SNAME() AS who\ngo\n"
	for _, mode := range []string{"available", "required", "unsupported"} {
		t.Run(mode, func(t *testing.T) {
			s := startIdpoolTDS(t, "--encryption", mode)
			for _, enc := range []string{"off", "request", "require"} {
				t.Run("freetds-"+enc, func(t *testing.T) {
					c := freeTDSConn(s)
					c.encryption = enc
					r := runTsql(t, c, query)
					// FreeTDS's "off" offers no encryption at all
					// (ENCRYPT_NOT_SUP), which a server that requires it
					// refuses; "require" needs a server that can encrypt.
					refused := (mode == "required" && enc == "off") || (mode == "unsupported" && enc == "require")
					if refused {
						assert.Error(t, r.err)
						assert.Contains(t, r.stderr, "Adaptive Server connection failed")
						assert.NotContains(t, r.stdout, "who\n")
						return
					}
					require.NoError(t, r.err, "%s", r.stderr)
					assert.Contains(t, r.stdout, "who\n"+s.user+"\n")
				})
			}
			if mode != "unsupported" {
				t.Run("freetds-require-untrusted-certificate", func(t *testing.T) {
					c := freeTDSConn(s)
					c.caFile = otherCA
					r := runTsql(t, c, query)
					assert.Error(t, r.err, "FreeTDS checks the certificate against its CA file")
					assert.Contains(t, r.stderr, "Adaptive Server connection failed")
					assert.NotContains(t, r.stdout, "who\n")
				})
			}
		})
	}
}

// TestFreeTDSEncryptsAsNegotiated checks, on the server's side, what each
// encryption negotiation with FreeTDS left encrypted: sim/tds in this
// process, so that Server.Sessions can say whether the logged-in session of
// a tsql still running is encrypted. tsql prints its @@SPID and waits for
// more input; the test reads that line before it looks, and then closes
// tsql's stdin.
func TestFreeTDSEncryptsAsNegotiated(t *testing.T) {
	tsqlBin(t)
	for _, c := range []struct {
		mode      tds.Encryption
		freetds   string
		encrypted bool
	}{
		{tds.EncryptionAvailable, "off", false},     // ENCRYPT_NOT_SUP: no TLS
		{tds.EncryptionAvailable, "request", false}, // ENCRYPT_OFF: TLS for LOGIN7 only
		{tds.EncryptionAvailable, "require", true},  // ENCRYPT_ON
		{tds.EncryptionRequired, "request", true},   // answered ENCRYPT_REQ
		{tds.EncryptionRequired, "require", true},
		{tds.EncryptionUnsupported, "off", false},
		{tds.EncryptionUnsupported, "request", false},
	} {
		t.Run(c.mode.String()+"/freetds-"+c.freetds, func(t *testing.T) {
			srv, err := tds.Start(tds.Options{Users: map[string]string{"app": "app-Secret-1"}, Encryption: c.mode})
			require.NoError(t, err)
			t.Cleanup(func() { assert.NoError(t, srv.Close()) })
			caFile := filepath.Join(t.TempDir(), "ca.pem")
			require.NoError(t, os.WriteFile(caFile, srv.CertPEM(), 0o600))
			host, portText, err := net.SplitHostPort(srv.Addr())
			require.NoError(t, err)
			port, err := strconv.Atoi(portText)
			require.NoError(t, err)

			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := tsqlCommand(ctx, t, ftds{host: host, port: port, version: "7.4", encryption: c.freetds, caFile: caFile, user: "app", pass: "app-Secret-1"}, true)
			stdin, err := cmd.StdinPipe()
			require.NoError(t, err)
			stdout, err := cmd.StdoutPipe()
			require.NoError(t, err)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			require.NoError(t, cmd.Start())
			defer func() {
				_ = stdin.Close()
				assert.NoError(t, cmd.Wait(), "tsql:\n%s", &stderr)
				assert.NoError(t, ctx.Err(), "tsql did not finish within a minute")
			}()
			_, err = io.WriteString(stdin, "SELECT @@SPID AS spid\ngo\n")
			require.NoError(t, err)
			// The scan ends at the spid line, at EOF, or when ctx kills tsql.
			sc := bufio.NewScanner(stdout)
			spid := -1
			for prev := ""; spid < 0 && sc.Scan(); prev = sc.Text() {
				if prev == "spid" {
					spid, err = strconv.Atoi(sc.Text())
					require.NoError(t, err, "spid line %q", sc.Text())
				}
			}
			require.GreaterOrEqual(t, spid, 0, "tsql printed no @@SPID:\n%s", &stderr)
			go func() {
				for sc.Scan() { // drain, so tsql never blocks on a full pipe
				}
			}()
			var found bool
			for _, si := range srv.Sessions() {
				if si.SPID == spid {
					found = true
					assert.Equal(t, c.encrypted, si.Encrypted, "session %d encrypted", spid)
					assert.Equal(t, "app", si.Login)
				}
			}
			assert.True(t, found, "session %d is not on the server", spid)
		})
	}
}
