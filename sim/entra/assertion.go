package entra

import (
	"errors"
	"fmt"

	"github.com/golang-jwt/jwt/v5"
)

// verifyCertificateAssertion checks a client assertion as Entra does for a
// certificate credential: signed (PS256 or RS256) by the registered
// certificate's key, iss and sub the client id, aud the token endpoint.
func verifyCertificateAssertion(assertion string, app *principal, tokenEndpoint string) error {
	var c jwt.RegisteredClaims
	_, err := jwt.ParseWithClaims(assertion, &c,
		func(*jwt.Token) (any, error) { return app.certificate.PublicKey, nil },
		jwt.WithValidMethods([]string{"PS256", "RS256"}),
		jwt.WithExpirationRequired(),
		jwt.WithAudience(tokenEndpoint),
		jwt.WithIssuer(app.appID),
		jwt.WithSubject(app.appID),
	)
	if err != nil {
		return fmt.Errorf("certificate assertion: %w", err)
	}
	return nil
}

// verifyFederatedAssertion checks a federated assertion: issued by this
// server's FederatedAssertion, for FederatedAudience and the registered
// subject.
func (s *Server) verifyFederatedAssertion(assertion, subject string) error {
	var c jwt.RegisteredClaims
	_, err := jwt.ParseWithClaims(assertion, &c, s.Keyfunc(),
		jwt.WithValidMethods([]string{jwt.SigningMethodES256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithAudience(FederatedAudience),
		jwt.WithIssuer(s.authority.URL+"/federation"),
	)
	if err != nil {
		return fmt.Errorf("federated assertion: %w", err)
	}
	if c.Subject != subject {
		return errors.New("federated assertion: subject does not match the federated credential")
	}
	return nil
}
