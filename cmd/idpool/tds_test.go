package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/idpool/idpool/internal/syncbuf"
	mssql "github.com/microsoft/go-mssqldb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// printedTDS is what `idpool tds` printed, parsed.
type printedTDS struct {
	certFile, tokenDSN                              string
	dsns                                            []string
	tenant, clientID, secret, authority, miEndpoint string
	miHeader, userMI                                string
}

// startTDSCommand runs `idpool tds` in-process until the test ends and
// returns what it printed.
func startTDSCommand(t *testing.T, args ...string) printedTDS {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out syncbuf.Buffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, append([]string{"tds", "--addr", "127.0.0.1:0"}, args...), &out, &out) }()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			assert.Zero(t, code, out.String())
		case <-time.After(10 * time.Second):
			t.Error("idpool tds did not stop")
		}
	})
	require.Eventually(t, func() bool {
		select {
		case code := <-done:
			done <- code
			return true
		default:
		}
		return strings.Contains(out.String(), "other clients:")
	}, 10*time.Second, 5*time.Millisecond)
	text := out.String()
	one := func(re string) string {
		m := regexp.MustCompile(re).FindStringSubmatch(text)
		require.NotNil(t, m, "%s not in:\n%s", re, text)
		return m[1]
	}
	p := printedTDS{
		certFile:   one(`(?m)^certificates: (\S+)$`),
		tokenDSN:   one(`(?m)^\s+token-dsn (\S+)$`),
		tenant:     one(`AZURE_TENANT_ID=(\S+)`),
		clientID:   one(`AZURE_CLIENT_ID=(\S+)`),
		secret:     one(`AZURE_CLIENT_SECRET=(\S+)`),
		authority:  one(`AZURE_AUTHORITY_HOST=(\S+)`),
		miEndpoint: one(`IDENTITY_ENDPOINT=(\S+)`),
		miHeader:   one(`IDENTITY_HEADER=(\S+)`),
		userMI:     one(`user-assigned client id (\S+)\)`),
	}
	for _, m := range regexp.MustCompile(`(?m)^\s+dsn (\S+)$`).FindAllStringSubmatch(text, -1) {
		p.dsns = append(p.dsns, m[1])
	}
	return p
}

// whoAmI logs in through c and returns SUSER_SNAME(), after a transaction.
func whoAmI(t *testing.T, db *sql.DB) string {
	t.Helper()
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tx, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	var who string
	require.NoError(t, tx.QueryRowContext(ctx, "SELECT SUSER_SNAME()").Scan(&who))
	require.NoError(t, tx.Commit())
	return who
}

func tokenDB(t *testing.T, dsn string, cred azcore.TokenCredential) *sql.DB {
	t.Helper()
	c, err := mssql.NewConnectorWithAccessTokenProvider(dsn, func(ctx context.Context) (string, error) {
		tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{tdsAudience + ".default"}})
		return tok.Token, err
	})
	require.NoError(t, err)
	return sql.OpenDB(c)
}

// trusting is an HTTP client that trusts exactly the certificates in file:
// the "azcore ClientOptions.Transport" way the command prints.
func trusting(t *testing.T, file string) *http.Client {
	t.Helper()
	pem, err := os.ReadFile(file)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(pem))
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// TestTDSCommandEveryPrintedLoginWorks runs every connect string and every
// identity `idpool tds` prints, as printed, with certificate checks on.
func TestTDSCommandEveryPrintedLoginWorks(t *testing.T) {
	p := startTDSCommand(t)

	require.Len(t, p.dsns, 3, "TLS, plain and TDS 8.0 strict SQL logins")
	for _, dsn := range p.dsns {
		db, err := sql.Open("sqlserver", dsn)
		require.NoError(t, err)
		assert.Equal(t, "sa", whoAmI(t, db), dsn)
	}

	// The certificate checks are on: without the printed file the TLS
	// connect string fails.
	withoutCA := regexp.MustCompile(`&certificate=[^&]+`).ReplaceAllString(p.dsns[0], "")
	db, err := sql.Open("sqlserver", withoutCA)
	require.NoError(t, err)
	require.ErrorContains(t, db.Ping(), "certificate")
	require.NoError(t, db.Close())

	sp, err := azidentity.NewClientSecretCredential(p.tenant, p.clientID, p.secret, &azidentity.ClientSecretCredentialOptions{
		ClientOptions: azcore.ClientOptions{
			Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: p.authority},
			Transport: trusting(t, p.certFile),
		},
		DisableInstanceDiscovery: true,
	})
	require.NoError(t, err)
	assert.Equal(t, p.clientID, whoAmI(t, tokenDB(t, p.tokenDSN, sp)), "service principal")

	// MSAL caches managed-identity tokens process-wide, so a token from an
	// earlier run's Entra ID would be offered to this one: each managed
	// identity logs in from a fresh process, with only the printed variables.
	for _, mi := range []struct{ kind, want string }{{"mi-system", tdsSystemMIOID}, {"mi-user", p.userMI}} {
		out := helperLogin(t, mi.kind, "IDENTITY_ENDPOINT="+p.miEndpoint, "IDENTITY_HEADER="+p.miHeader,
			"IDPOOL_USER_MI="+p.userMI, "IDPOOL_TOKEN_DSN="+p.tokenDSN)
		assert.Contains(t, out, "login as "+mi.want, mi.kind)
	}
}

// helperLogin runs TestHelperTokenLoginFromEnvironment in a new process with
// env and returns its output.
func helperLogin(t *testing.T, kind string, env ...string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperTokenLoginFromEnvironment$", "-test.count=1")
	cmd.Env = append(os.Environ(), append([]string{"IDPOOL_TDS_HELPER=" + kind}, env...)...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	return string(out)
}

// TestTDSCommandSSLCertFileWorksInAFreshProcess checks the printed
// SSL_CERT_FILE way: a new process with only the printed environment gets a
// service principal's token through azidentity's default transport and logs
// in with it.
func TestTDSCommandSSLCertFileWorksInAFreshProcess(t *testing.T) {
	p := startTDSCommand(t)
	out := helperLogin(t, "sp",
		"SSL_CERT_FILE="+p.certFile,
		"AZURE_TENANT_ID="+p.tenant, "AZURE_CLIENT_ID="+p.clientID, "AZURE_CLIENT_SECRET="+p.secret,
		"AZURE_AUTHORITY_HOST="+p.authority,
		"IDPOOL_TOKEN_DSN="+p.tokenDSN,
	)
	assert.Contains(t, out, "login as "+p.clientID)
}

// TestHelperTokenLoginFromEnvironment is the fresh process of the test above;
// it does nothing in a normal run.
func TestHelperTokenLoginFromEnvironment(t *testing.T) {
	var cred azcore.TokenCredential
	var err error
	switch os.Getenv("IDPOOL_TDS_HELPER") {
	case "sp":
		cred, err = azidentity.NewClientSecretCredential(os.Getenv("AZURE_TENANT_ID"), os.Getenv("AZURE_CLIENT_ID"),
			os.Getenv("AZURE_CLIENT_SECRET"), &azidentity.ClientSecretCredentialOptions{DisableInstanceDiscovery: true})
	case "mi-system":
		cred, err = azidentity.NewManagedIdentityCredential(nil)
	case "mi-user":
		cred, err = azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{
			ID: azidentity.ClientID(os.Getenv("IDPOOL_USER_MI"))})
	default:
		t.Skip("runs as a subprocess of the idpool tds tests")
	}
	require.NoError(t, err)
	who := whoAmI(t, tokenDB(t, os.Getenv("IDPOOL_TOKEN_DSN"), cred))
	os.Stdout.WriteString("login as " + who + "\n")
}

func TestTDSCommandWritesTheCertFileItNamesAndKeepsIt(t *testing.T) {
	file := filepath.Join(t.TempDir(), "ca.pem")
	p := startTDSCommand(t, "--cert-file", file, "--encryption", "required")
	assert.Equal(t, file, p.certFile)
	pem, err := os.ReadFile(file)
	require.NoError(t, err)
	assert.Equal(t, 2, strings.Count(string(pem), "BEGIN CERTIFICATE"), "the SQL Server's and the Entra ID's")
	require.Len(t, p.dsns, 2, "no plain connect string when encryption is required")
	for _, dsn := range p.dsns {
		assert.NotContains(t, dsn, "encrypt=disable")
	}
}

func TestTDSCommandRefusesBadFlagsBeforeStarting(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--addr", "0.0.0.0:1433"}, "loopback only"},
		{[]string{"--addr", "nope"}, "want host:port"},
		{[]string{"--addr", "127.0.0.1:99999"}, `--addr "127.0.0.1:99999": want a port from 0 to 65535`},
		{[]string{"--addr", "127.0.0.1:-1"}, `--addr "127.0.0.1:-1": want a port from 0 to 65535`},
		{[]string{"--encryption", "maybe"}, "unknown mode"},
		{[]string{"--token-lifetime", "1s"}, "at least 1m"},
		{[]string{"--user", ""}, "must not be empty"},
		{[]string{"--cert-file", "/nonexistent/dir/ca.pem"}, "/nonexistent/dir does not exist"},
		{[]string{"stray"}, "unexpected arguments"},
	} {
		var out, errb bytes.Buffer
		code := run(context.Background(), append([]string{"tds"}, c.args...), &out, &errb)
		assert.Equal(t, exitUsage, code, c.args)
		assert.Contains(t, errb.String(), c.want, c.args)
		assert.Empty(t, out.String(), "nothing started, nothing printed: %v", c.args)
	}
}

// An --addr another server already listens on (a SQL Server of the
// machine's own on the default 1433) failed with the bare bind error; it
// names the flag and the way out.
func TestTDSCommandAddressInUseNamesTheFlag(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"tds", "--addr", ln.Addr().String()}, &out, &errb)
	assert.Equal(t, exitFailed, code)
	assert.Contains(t, errb.String(), "idpool tds: --addr "+ln.Addr().String()+": ")
	assert.Contains(t, errb.String(), "address already in use")
	assert.Contains(t, errb.String(), "--addr 127.0.0.1:0 takes any free port")
	assert.Empty(t, out.String())
}
