package entra_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/sim/entra"
)

// resign re-signs the claims of a genuine token with key, so only the key
// differs from a token the server issued.
func resign(t *testing.T, genuine string, key *ecdsa.PrivateKey) string {
	t.Helper()
	claims := jwt.MapClaims{}
	_, _, err := jwt.NewParser().ParseUnverified(genuine, claims)
	require.NoError(t, err)
	out, err := jwt.NewWithClaims(jwt.SigningMethodES256, claims).SignedString(key)
	require.NoError(t, err)
	return out
}

func TestVerify(t *testing.T) {
	s := start(t)
	s.RegisterManagedIdentity("mi-verify", "oid-verify")
	genuine := rawMIToken(t, s, "mi-verify", "https://database.windows.net")

	_, err := s.Verify(genuine, sqlAud)
	require.NoError(t, err)
	_, err = s.Verify(genuine, "https://database.windows.net")
	require.NoError(t, err, "a trailing slash does not matter")
	_, err = s.Verify(genuine, sqlScope)
	require.NoError(t, err, "a scope names its resource")

	_, isECDSA := s.PublicKey().(*ecdsa.PublicKey)
	require.True(t, isECDSA)

	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	cases := map[string]struct {
		token    string
		audience string
	}{
		"wrong audience": {genuine, "https://ossrdbms-aad.database.windows.net/"},
		"empty audience": {genuine, ""},
		"forged":         {resign(t, genuine, other), sqlAud},
		"garbage":        {"not-a-jwt", sqlAud},
		"empty":          {"", sqlAud},
		"alg none":       {noneToken(t, genuine), sqlAud},
		"federated":      {s.FederatedAssertion("x"), entra.FederatedAudience},
		"truncated":      {genuine[:len(genuine)-4], sqlAud},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := s.Verify(tc.token, tc.audience)
			require.ErrorIs(t, err, entra.ErrInvalidToken)
			if tc.token != "" {
				assert.NotContains(t, err.Error(), tc.token)
			}
		})
	}
}

func noneToken(t *testing.T, genuine string) string {
	claims := jwt.MapClaims{}
	_, _, err := jwt.NewParser().ParseUnverified(genuine, claims)
	require.NoError(t, err)
	out, err := jwt.NewWithClaims(jwt.SigningMethodNone, claims).SignedString(jwt.UnsafeAllowNoneSignatureType)
	require.NoError(t, err)
	return out
}

func TestVerifyExpired(t *testing.T) {
	s := start(t)
	s.RegisterManagedIdentity("mi-expired", "oid-expired")
	s.SetLifetime(-time.Minute) // already expired when issued
	tok := rawMIToken(t, s, "mi-expired", "https://database.windows.net")
	_, err := s.Verify(tok, sqlAud)
	require.ErrorIs(t, err, entra.ErrInvalidToken)
	require.ErrorIs(t, err, jwt.ErrTokenExpired)

	s.SetLifetime(time.Hour)
	_, err = s.Verify(rawMIToken(t, s, "mi-expired", "https://database.windows.net"), sqlAud)
	require.NoError(t, err)
}

func TestVerifyRejectsTokensOfAnotherServer(t *testing.T) {
	a, b := start(t), start(t)
	a.RegisterManagedIdentity("mi-a", "oid-a")
	tok := rawMIToken(t, a, "mi-a", "https://database.windows.net")
	_, err := b.Verify(tok, sqlAud)
	require.ErrorIs(t, err, entra.ErrInvalidToken)
}

func TestKeyfunc(t *testing.T) {
	s := start(t)
	s.RegisterManagedIdentity("mi-keyfunc", "oid-k")
	tok := rawMIToken(t, s, "mi-keyfunc", "https://database.windows.net")
	var c entra.Claims
	_, err := jwt.ParseWithClaims(tok, &c, s.Keyfunc())
	require.NoError(t, err)
	assert.Equal(t, "oid-k", c.ObjectID)

	_, err = jwt.Parse(noneToken(t, tok), s.Keyfunc())
	require.Error(t, err)
}

func TestUnknownEndpointAndMethod(t *testing.T) {
	s := start(t)
	resp, err := s.Client().Get(s.AuthorityHost() + tenant + "/oauth2/v2.0/token")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	req, err := http.NewRequest(http.MethodGet, s.MIEndpoint()+"/elsewhere", nil)
	require.NoError(t, err)
	req.Header.Set("X-IDENTITY-HEADER", s.MIHeader())
	resp, err = s.Client().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
}
