package entra_test

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/sim/entra"
)

// short is the timeout under test; failsafe is how long a test waits for
// the server to close a connection before it calls the server stuck. The
// margin between them is wide so a loaded machine does not fail the test.
const (
	short    = 200 * time.Millisecond
	failsafe = 10 * time.Second
)

// dialManaged opens a plain TCP connection to the managed-identity listener.
func dialManaged(t *testing.T, s *entra.Server) net.Conn {
	t.Helper()
	u, err := url.Parse(s.MIEndpoint())
	require.NoError(t, err)
	c, err := net.Dial("tcp", u.Host)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// dialAuthority opens a TLS connection to the authority, handshake done.
func dialAuthority(t *testing.T, s *entra.Server) (net.Conn, string) {
	t.Helper()
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(s.CertificatePEM()))
	host := strings.TrimSuffix(strings.TrimPrefix(s.AuthorityHost(), "https://"), "/")
	c, err := tls.Dial("tcp", host, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c, host
}

// requireClosedByServer reads from c until the server closes it; the read
// deadline is only a failsafe, reached when the server never does.
func requireClosedByServer(t *testing.T, c io.Reader, conn net.Conn) {
	t.Helper()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(failsafe)))
	_, err := io.Copy(io.Discard, c)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the server kept the connection open for %v", failsafe)
	}
	// nil is EOF; a reset is a close too.
}

// TestPartialHeaderIsCut: a client that sends part of a request's header and
// no more (slowloris) held a server goroutine and connection forever, on
// either listener. ReadHeaderTimeout closes it.
func TestPartialHeaderIsCut(t *testing.T) {
	s, err := entra.New(entra.Config{ReadHeaderTimeout: short})
	require.NoError(t, err)
	t.Cleanup(s.Close)

	t.Run("managed", func(t *testing.T) {
		c := dialManaged(t, s)
		_, err := c.Write([]byte("GET /msi/token HTTP/1.1\r\nHost: 127.0.0.1\r\nX-IDENTITY-HEA"))
		require.NoError(t, err)
		requireClosedByServer(t, c, c)
	})
	t.Run("authority", func(t *testing.T) {
		c, host := dialAuthority(t, s)
		_, err := c.Write([]byte("POST /" + tenant + "/oauth2/v2.0/token HTTP/1.1\r\nHost: " + host + "\r\nContent-Ty"))
		require.NoError(t, err)
		requireClosedByServer(t, c, c)
	})
	t.Run("no TLS handshake", func(t *testing.T) {
		host := strings.TrimSuffix(strings.TrimPrefix(s.AuthorityHost(), "https://"), "/")
		c, err := net.Dial("tcp", host)
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close() })
		requireClosedByServer(t, c, c)
	})
}

// TestStalledBodyIsCut: a client that sent a request's header and then
// dripped, or stopped sending, its body held the handler for as long as it
// liked. ReadTimeout ends the request and the connection.
func TestStalledBodyIsCut(t *testing.T) {
	s, err := entra.New(entra.Config{ReadTimeout: short})
	require.NoError(t, err)
	t.Cleanup(s.Close)
	c, host := dialAuthority(t, s)
	_, err = c.Write([]byte("POST /" + tenant + "/oauth2/v2.0/token HTTP/1.1\r\nHost: " + host +
		"\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ngrant_type="))
	require.NoError(t, err)
	requireClosedByServer(t, c, c)
}

// TestIdleConnectionIsCut: a kept-alive connection with no next request is
// closed after IdleTimeout instead of held forever.
func TestIdleConnectionIsCut(t *testing.T) {
	s, err := entra.New(entra.Config{IdleTimeout: short})
	require.NoError(t, err)
	t.Cleanup(s.Close)
	c := dialManaged(t, s)
	_, err = c.Write([]byte("GET /msi/token HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"))
	require.NoError(t, err)
	r := bufio.NewReader(c)
	resp, err := http.ReadResponse(r, nil)
	require.NoError(t, err)
	_, err = io.Copy(io.Discard, resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.False(t, resp.Close, "the server meant to close the connection anyway")
	requireClosedByServer(t, r, c)
}
