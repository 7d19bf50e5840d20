package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/idpool/idpool/sim/entra"
	"github.com/idpool/idpool/sim/tds"
)

func init() {
	commands["tds"] = command{summary: tdsHelp.summary, run: runTDS}
}

var tdsHelp = help{
	name:    "tds",
	summary: "serve the simulated SQL Server and its local Entra ID on loopback, and print how to connect",
	description: `Serves the simulated SQL Server (sim/tds: TDS 7.4 with TDS 7.x encryption
negotiated in PRELOGIN, and TDS 8.0 strict TLS) on a loopback address, with a
local Entra ID (sim/entra) beside it that issues and verifies the access
tokens of token logins, until Ctrl-C. It prints:

  - a SQL login's connect strings, with and without TLS;
  - the connect string of token logins, and the identities that can get a
    token: a service principal (client id and secret) and a system-assigned
    and a user-assigned managed identity (IDENTITY_ENDPOINT / IDENTITY_HEADER);
  - the file holding the certificates of both servers (written at start,
    removed at exit unless --cert-file names it), and how to trust it, so
    that every printed connect string works with certificate checks on.

The SQL it understands is small: SELECT of literals, parameters and system
functions, transactions, CREATE TABLE, INSERT, SELECT COUNT(*), WAITFOR DELAY,
USE and SET.`,
	examples: []string{
		"idpool tds                               # on 127.0.0.1:1433",
		"idpool tds --addr 127.0.0.1:14330 --cert-file ./idpool-ca.pem",
		"idpool tds --encryption required         # like Force Encryption: TLS for everyone",
	},
}

// tdsAudience is the resource tokens for Azure SQL are issued for.
const tdsAudience = "https://database.windows.net/"

// The identities `idpool tds` registers in its Entra ID.
const (
	tdsAppClientID = "00000000-0000-0000-0000-00000000a99e"
	tdsAppSecret   = "idpool-sim-secret"
	tdsAppOID      = "11111111-0000-0000-0000-00000000a99e"
	tdsSystemMIOID = "22222222-0000-0000-0000-00000000a99e"
	tdsUserMIID    = "33333333-0000-0000-0000-00000000a99e"
	tdsUserMIOID   = "44444444-0000-0000-0000-00000000a99e"
)

// tdsFlags are the settings of `idpool tds`.
type tdsFlags struct {
	addr, user, password, certFile, encryption string
	lifetime                                   time.Duration
}

var encryptionModes = map[string]tds.Encryption{
	"available":   tds.EncryptionAvailable,
	"required":    tds.EncryptionRequired,
	"unsupported": tds.EncryptionUnsupported,
}

// runTDS serves sim/tds, with sim/entra beside it to issue and verify
// tokens, until ctx ends (Ctrl-C), and prints how to connect.
func runTDS(ctx context.Context, args []string, stdout, _ io.Writer) error {
	var f tdsFlags
	fs := newFlagSet(tdsHelp, stdout)
	fs.StringVar(&f.addr, "addr", "127.0.0.1:1433", "loopback host:port to listen on (port 0: any free port)")
	fs.StringVar(&f.user, "user", "sa", "SQL login name")
	fs.StringVar(&f.password, "password", "idpool-Sim-1", "SQL login password")
	fs.DurationVar(&f.lifetime, "token-lifetime", time.Hour, "lifetime of the tokens the local Entra ID issues")
	fs.StringVar(&f.certFile, "cert-file", "", "write the servers' certificates (PEM) to this file and keep it (default: a temporary file removed at exit)")
	fs.StringVar(&f.encryption, "encryption", "available", "TDS 7.x encryption: available (like SQL Server with a certificate), required (Force Encryption) or unsupported (no certificate)")
	// Entra ID issues access tokens for at most a day.
	fs.limit(limits{"token-lifetime": between(float64(time.Minute), float64(24*time.Hour))})
	if err := fs.parse(args); err != nil {
		return err
	}
	if err := checkTDSFlags(f); err != nil {
		return err
	}

	idp, err := entra.New(entra.Config{Lifetime: f.lifetime})
	if err != nil {
		return err
	}
	defer idp.Close()
	idp.RegisterApp(idp.Tenant(), tdsAppClientID, tdsAppSecret, tdsAppOID)
	idp.RegisterManagedIdentity("", tdsSystemMIOID)
	idp.RegisterManagedIdentity(tdsUserMIID, tdsUserMIOID)

	srv, err := tds.Start(tds.Options{
		Addr:        f.addr,
		Users:       map[string]string{f.user: f.password},
		Encryption:  encryptionModes[f.encryption],
		VerifyToken: verifyWith(idp),
	})
	if errors.Is(err, syscall.EADDRINUSE) {
		// Most often a SQL Server of the machine's own, on the default
		// port: say which flag to change, and to what.
		return fmt.Errorf("--addr %s: %w (another server listens there; --addr 127.0.0.1:0 takes any free port)", f.addr, err)
	}
	if err != nil {
		return err
	}
	defer srv.Close()

	certFile, cleanup, err := writeCerts(f.certFile, srv.CertPEM(), idp.CertificatePEM())
	if err != nil {
		return err
	}
	defer cleanup()
	// The instructions are written at once and their error kept: with
	// stdout unwritable (a full disk, a closed pipe) the server went on
	// serving, its Entra ID's port and certificates file told to no one.
	var info bytes.Buffer
	printConnectInfo(&info, f, srv, idp, certFile)
	if _, err := stdout.Write(info.Bytes()); err != nil {
		return fmt.Errorf("writing how to connect: %w", err)
	}
	<-ctx.Done()
	return nil
}

// checkTDSFlags refuses, before anything starts, what tds.Start or the
// printed instructions would fail on.
func checkTDSFlags(f tdsFlags) error {
	host, port, err := net.SplitHostPort(f.addr)
	if err != nil {
		return usagef("--addr %q: want host:port (%v)", f.addr, err)
	}
	// Else the listen fails after the Entra ID has started: exit 1, not 2.
	if _, err := net.LookupPort("tcp", port); err != nil {
		return usagef("--addr %q: want a port from 0 to 65535 (%v)", f.addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return usagef("--addr %q: the simulated server listens on loopback only (127.0.0.1, ::1 or localhost): it accepts test credentials by design", f.addr)
	}
	if f.user == "" || f.password == "" {
		return usagef("--user and --password must not be empty")
	}
	if f.lifetime < time.Minute {
		return usagef("--token-lifetime must be at least 1m (got %s): clients refresh tokens that expire within minutes", f.lifetime)
	}
	if _, ok := encryptionModes[f.encryption]; !ok {
		return usagef("--encryption: unknown mode %q (available, required or unsupported)", f.encryption)
	}
	return checkOutputFile("cert-file", f.certFile)
}

// verifyWith checks a token login's access token against the local Entra ID;
// the login name is the token's UPN or, for apps and managed identities,
// its appid.
func verifyWith(idp *entra.Server) func(string) (string, time.Time, error) {
	return func(token string) (string, time.Time, error) {
		c, err := idp.Verify(token, tdsAudience)
		if err != nil {
			return "", time.Time{}, err
		}
		login := c.UPN
		if login == "" {
			login = c.AppID
		}
		return login, c.ExpiresAt.Time, nil
	}
}

// writeCerts writes both servers' certificates to one PEM file: path, or a
// file in a new temporary directory that cleanup removes.
func writeCerts(path string, pems ...[]byte) (string, func(), error) {
	cleanup := func() {}
	if path == "" {
		dir, err := os.MkdirTemp("", "idpool-tds-")
		if err != nil {
			return "", nil, err
		}
		path = filepath.Join(dir, "ca.pem")
		cleanup = func() { _ = os.RemoveAll(dir) }
	}
	var all []byte
	for _, p := range pems {
		all = append(all, p...)
	}
	if err := os.WriteFile(path, all, 0o644); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("writing the certificates: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	return abs, cleanup, nil
}

// queryPath escapes a file path for a connect string's query, keeping its
// slashes readable.
func queryPath(p string) string { return strings.ReplaceAll(url.QueryEscape(p), "%2F", "/") }

// tdsDSN is a go-mssqldb connect string; user nil for token logins.
func tdsDSN(addr string, user *url.Userinfo, query string) string {
	u := url.URL{Scheme: "sqlserver", User: user, Host: addr, RawQuery: query}
	return u.String()
}

// printConnectInfo prints how to connect. Every "dsn" line is a go-mssqldb
// connect string that works as printed (the command's test runs each one).
func printConnectInfo(w io.Writer, f tdsFlags, srv *tds.Server, idp *entra.Server, certFile string) {
	addr := srv.Addr()
	tlsQuery := "database=master&encrypt=true&certificate=" + queryPath(certFile)
	if f.encryption == "unsupported" {
		tlsQuery = "database=master&encrypt=disable"
	}
	plainQuery := "database=master&encrypt=disable"
	if f.encryption == "required" {
		plainQuery = tlsQuery
	}
	strictQuery := "database=master&encrypt=strict&hostnameincertificate=localhost&certificate=" + queryPath(certFile)
	sqlUser := url.UserPassword(f.user, f.password)
	host, port, _ := net.SplitHostPort(addr)

	fmt.Fprintf(w, "simulated SQL Server on %s, TDS 7.x encryption %s (Ctrl-C to stop)\n", addr, f.encryption)
	fmt.Fprintf(w, "local Entra ID: authority %s, tenant %s\n\n", idp.AuthorityHost(), idp.Tenant())

	fmt.Fprintf(w, "certificates: %s\n", certFile)
	fmt.Fprintf(w, "  holds the SQL Server's and the Entra ID's self-signed certificates; trust it with\n")
	fmt.Fprintf(w, "  go-mssqldb: certificate=<file> in the connect string (as below)\n")
	fmt.Fprintf(w, "  Go (azidentity): SSL_CERT_FILE=%s, or azcore ClientOptions.Transport with an http.Client whose RootCAs hold the file\n", certFile)
	fmt.Fprintf(w, "  Node: NODE_EXTRA_CA_CERTS=%s   OpenSSL, curl: SSL_CERT_FILE=%s\n\n", certFile, certFile)

	fmt.Fprintf(w, "SQL login %q (go-mssqldb):\n", f.user)
	fmt.Fprintf(w, "  dsn %s\n", tdsDSN(addr, sqlUser, tlsQuery))
	if plainQuery != tlsQuery {
		fmt.Fprintf(w, "  dsn %s\n", tdsDSN(addr, sqlUser, plainQuery))
	}
	fmt.Fprintf(w, "  dsn %s\n\n", tdsDSN(addr, sqlUser, strictQuery))

	fmt.Fprintf(w, "token login (go-mssqldb: mssql.NewConnectorWithAccessTokenProvider, scope %s.default):\n", tdsAudience)
	fmt.Fprintf(w, "  token-dsn %s\n", tdsDSN(addr, nil, tlsQuery))
	fmt.Fprintf(w, "  service principal: AZURE_TENANT_ID=%s AZURE_CLIENT_ID=%s AZURE_CLIENT_SECRET=%s AZURE_AUTHORITY_HOST=%s\n",
		idp.Tenant(), tdsAppClientID, tdsAppSecret, idp.AuthorityHost())
	fmt.Fprintf(w, "    (azidentity.NewClientSecretCredential with DisableInstanceDiscovery: true)\n")
	fmt.Fprintf(w, "  managed identity: IDENTITY_ENDPOINT=%s IDENTITY_HEADER=%s\n", idp.MIEndpoint(), idp.MIHeader())
	fmt.Fprintf(w, "    (azidentity.NewManagedIdentityCredential: system-assigned, or user-assigned client id %s)\n\n", tdsUserMIID)

	fmt.Fprintf(w, "other clients: host %s port %s, encrypt on with the certificates file as CA; SQL login or an access token as above\n", host, port)
}
