package tds

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"time"
)

// newServerTLS generates a self-signed certificate for localhost and the
// loopback addresses. The certificate is its own CA, so a client can trust
// it by adding it to RootCAs (go-mssqldb: certificate=<file>).
func newServerTLS() (certPEM []byte, cfg *tls.Config, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("tds: generating TLS key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, nil, fmt.Errorf("tds: generating TLS serial: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "localhost", Organization: []string{"idpool simulated SQL Server"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("tds: creating TLS certificate: %w", err)
	}
	cfg = &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
		// TDS 8.0 clients offer the "tds/8.0" ALPN protocol.
		NextProtos: []string{"tds/8.0"},
		MinVersion: tls.VersionTLS12,
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), cfg, nil
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
