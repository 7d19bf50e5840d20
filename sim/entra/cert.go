package entra

import "encoding/pem"

// CertificatePEM is the authority's self-signed TLS certificate in PEM form.
// A client outside this process trusts the authority by adding it to its
// roots (SSL_CERT_FILE for Go and OpenSSL, NODE_EXTRA_CA_CERTS for Node);
// in this process Client and ClientOptions already do.
func (s *Server) CertificatePEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.authority.Certificate().Raw})
}
