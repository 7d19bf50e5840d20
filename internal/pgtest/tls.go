package pgtest

import "github.com/idpool/idpool/internal/selfsigned"

// WithTLS makes the server accept TLS (ssl = on) with a self-signed
// certificate for the loopback addresses made at Launch; clients still may
// connect without it. Connect with sslmode=require (DSNWithSSLMode): the
// certificate is not from a CA the client knows.
func WithTLS() Option { return func(o *options) { o.tls = true } }

// writeTLS writes a fresh self-signed key and certificate into the data
// directory and returns the settings that use them.
func (s *Server) writeTLS() ([][2]string, error) {
	cert, err := selfsigned.New("idpool pgtest")
	if err != nil {
		return nil, err
	}
	keyPEM, err := cert.KeyPEM()
	if err != nil {
		return nil, err
	}
	// The server refuses a key file that others can read; writeDataFile
	// writes 0600, owned by the server's OS user.
	if err := s.writeDataFile("server.crt", string(cert.CertPEM())); err != nil {
		return nil, err
	}
	if err := s.writeDataFile("server.key", string(keyPEM)); err != nil {
		return nil, err
	}
	return [][2]string{{"ssl", "on"}, {"ssl_cert_file", "'server.crt'"}, {"ssl_key_file", "'server.key'"}}, nil
}
