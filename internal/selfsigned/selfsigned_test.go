package selfsigned

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCertServesTLSToAClientThatTrustsIt: the certificate verifies for
// localhost and 127.0.0.1 against itself as the only root, and its PEM forms
// load back as a key pair.
func TestCertServesTLSToAClientThatTrustsIt(t *testing.T) {
	c, err := New("idpool test")
	require.NoError(t, err)
	keyPEM, err := c.KeyPEM()
	require.NoError(t, err)
	pair, err := tls.X509KeyPair(c.CertPEM(), keyPEM)
	require.NoError(t, err, "the PEM forms are a key pair")

	roots := x509.NewCertPool()
	require.True(t, roots.AppendCertsFromPEM(c.CertPEM()))
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12})
	require.NoError(t, err)
	defer func() { _ = ln.Close() }()
	served := make(chan error, 1)
	go func() {
		conn, err := ln.Accept()
		if err == nil {
			err = conn.(*tls.Conn).Handshake()
			_ = conn.Close()
		}
		served <- err
	}()
	conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: roots, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12})
	require.NoError(t, err, "verified for 127.0.0.1")
	require.NoError(t, conn.Close())
	require.NoError(t, <-served)

	leaf, err := x509.ParseCertificate(c.DER)
	require.NoError(t, err)
	assert.NoError(t, leaf.VerifyHostname("localhost"))
	assert.NoError(t, leaf.VerifyHostname(net.IPv6loopback.String()))
	assert.Error(t, leaf.VerifyHostname("example.com"), "only the loopback names")
	assert.Same(t, c.Key, c.TLS().PrivateKey, "TLS carries the key")
}
