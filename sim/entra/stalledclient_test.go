package entra_test

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/sim/entra"
)

// TestCloseDoesNotWaitForAStalledRequest: a client that sent a request's
// headers and then stalled in its body held a handler, and httptest's Close
// waits for every request in progress, so Server.Close (and `idpool tds`
// stopping) hung for as long as the client liked. Close must end every
// connection instead. The client sends Expect: 100-continue and waits for
// the server's 100 Continue, which the server sends when the handler starts
// reading the body: from then on the handler is blocked in that read.
func TestCloseDoesNotWaitForAStalledRequest(t *testing.T) {
	s, err := entra.New(entra.Config{})
	require.NoError(t, err)
	closed := false
	t.Cleanup(func() {
		if !closed {
			s.Close()
		}
	})
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(s.CertificatePEM()))
	host := strings.TrimSuffix(strings.TrimPrefix(s.AuthorityHost(), "https://"), "/")
	c, err := tls.Dial("tcp", host, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Write([]byte("POST /" + url.PathEscape(tenant) + "/oauth2/v2.0/token HTTP/1.1\r\nHost: " + host +
		"\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n"))
	require.NoError(t, err)
	line, err := bufio.NewReader(c).ReadString('\n')
	require.NoError(t, err)
	require.Contains(t, line, "100 Continue")
	_, err = c.Write([]byte("grant_type=")) // and no more
	require.NoError(t, err)

	done := make(chan struct{})
	go func() {
		s.Close()
		close(done)
	}()
	select {
	case <-done:
		closed = true
	case <-time.After(10 * time.Second): // a failsafe, not an ordering
		_ = c.Close() // lets Close end
		<-done
		closed = true
		t.Fatal("Close waited for a client stalled in its request body")
	}
}
