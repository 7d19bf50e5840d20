package tds

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"

	"github.com/idpool/idpool/internal/selfsigned"
)

// newServerTLS generates a self-signed certificate for localhost and the
// loopback addresses. The certificate is its own CA, so a client can trust
// it by adding it to RootCAs (go-mssqldb: certificate=<file>).
func newServerTLS() (certPEM []byte, cfg *tls.Config, err error) {
	cert, err := selfsigned.New("idpool simulated SQL Server")
	if err != nil {
		return nil, nil, fmt.Errorf("tds: %w", err)
	}
	cfg = &tls.Config{
		Certificates: []tls.Certificate{cert.TLS()},
		// TDS 8.0 clients offer the "tds/8.0" ALPN protocol.
		NextProtos: []string{"tds/8.0"},
		MinVersion: tls.VersionTLS12,
	}
	return cert.CertPEM(), cfg, nil
}

// tds7TLS derives the configuration of TDS 7.x encryption, where TLS runs
// inside PRELOGIN packets: TLS 1.2 at most, as SQL Server offers it before
// TDS 8.0, no ALPN, and no session tickets, which TLS 1.3 would send after
// the handshake, when the client no longer unwraps PRELOGIN packets.
func tds7TLS(strict *tls.Config) *tls.Config {
	c := strict.Clone()
	c.NextProtos = nil
	c.MaxVersion = tls.VersionTLS12
	c.SessionTicketsDisabled = true
	return c
}

// CertPEM returns the server's self-signed certificate in PEM form, for a
// client's certificate= DSN parameter or RootCAs.
func (s *Server) CertPEM() []byte { return append([]byte(nil), s.cert...) }

// ClientTLSConfig returns a client TLS configuration that trusts exactly this
// server's certificate, for encrypt=strict connections to 127.0.0.1.
func (s *Server) ClientTLSConfig() *tls.Config {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(s.cert)
	return &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS12}
}

// tlsRecordHandshake is the first byte of a TLS ClientHello record. A TDS 8.0
// ("strict") client starts with it; any other client starts with a PRELOGIN
// packet (0x12).
const tlsRecordHandshake = 0x16

// peekedConn is a net.Conn whose reads go through a bufio.Reader that has
// already looked at the first byte.
type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *peekedConn) Read(p []byte) (int, error) { return c.r.Read(p) }
