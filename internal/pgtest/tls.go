package pgtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"time"
)

// WithTLS makes the server accept TLS (ssl = on) with a self-signed
// certificate for 127.0.0.1 made at Launch; clients still may connect
// without it. Connect with sslmode=require (DSNWithSSLMode): the
// certificate is not from a CA the client knows.
func WithTLS() Option { return func(o *options) { o.tls = true } }

// writeTLS writes a fresh self-signed key and certificate into the data
// directory and the settings that use them.
func (s *Server) writeTLS() ([][2]string, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("pgtest: TLS key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "pgtest"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("pgtest: TLS certificate: %w", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("pgtest: TLS key: %w", err)
	}
	// The server refuses a key file that others can read; writeDataFile
	// writes 0600, owned by the server's OS user.
	if err := s.writeDataFile("server.crt", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))); err != nil {
		return nil, err
	}
	if err := s.writeDataFile("server.key", string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))); err != nil {
		return nil, err
	}
	return [][2]string{{"ssl", "on"}, {"ssl_cert_file", "'server.crt'"}, {"ssl_key_file", "'server.key'"}}, nil
}
