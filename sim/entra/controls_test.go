package entra_test

import (
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/sim/entra"
)

func generation(t *testing.T, s *entra.Server, tok string) int {
	t.Helper()
	c, err := s.Verify(tok, sqlAud)
	require.NoError(t, err)
	return c.Generation
}

func TestEveryIssuanceIsDistinct(t *testing.T) {
	s := start(t)
	s.RegisterManagedIdentity("mi-distinct", "oid-d")
	a := rawMIToken(t, s, "mi-distinct", "https://database.windows.net")
	b := rawMIToken(t, s, "mi-distinct", "https://database.windows.net")
	assert.NotEqual(t, a, b)
	assert.Equal(t, 2, s.Issued("mi-distinct"))
	assert.Equal(t, 2, s.Issued("MI-DISTINCT"), "names are case-insensitive")
	assert.Equal(t, 2, s.TotalIssued())
	assert.Equal(t, 2, s.Requests())
}

func TestReuseAndRotate(t *testing.T) {
	s := start(t)
	s.RegisterManagedIdentity("mi-rotate", "oid-r")
	s.RegisterManagedIdentity("mi-bystander", "oid-b")
	s.SetReuse(true)

	a := rawMIToken(t, s, "mi-rotate", "https://database.windows.net")
	b := rawMIToken(t, s, "mi-rotate", "https://database.windows.net")
	assert.Equal(t, a, b, "reused within half the lifetime")
	assert.Equal(t, 1, s.Issued("mi-rotate"), "a reused token is not an issuance")
	assert.Equal(t, 0, generation(t, s, a))

	other := rawMIToken(t, s, "mi-rotate", "https://ossrdbms-aad.database.windows.net")
	assert.NotEqual(t, a, other, "another audience gets its own token")
	bystander := rawMIToken(t, s, "mi-bystander", "https://database.windows.net")

	s.Rotate("mi-rotate")
	c := rawMIToken(t, s, "mi-rotate", "https://database.windows.net")
	assert.NotEqual(t, a, c, "rotated")
	assert.Equal(t, 1, generation(t, s, c))
	assert.Equal(t, bystander, rawMIToken(t, s, "mi-bystander", "https://database.windows.net"),
		"rotating one identity leaves the others alone")
	assert.Equal(t, c, rawMIToken(t, s, "mi-rotate", "https://database.windows.net"), "the rotated token is reused in turn")

	s.SetReuse(false)
	assert.NotEqual(t, c, rawMIToken(t, s, "mi-rotate", "https://database.windows.net"))
}

func TestReuseEndsAtHalfLife(t *testing.T) {
	s := start(t)
	s.RegisterManagedIdentity("mi-halflife", "oid-hl")
	s.SetReuse(true)
	s.SetLifetime(0) // half of nothing has always passed
	a := rawMIToken(t, s, "mi-halflife", "https://database.windows.net")
	b := rawMIToken(t, s, "mi-halflife", "https://database.windows.net")
	assert.NotEqual(t, a, b)
}

func TestRefreshIn(t *testing.T) {
	s := start(t)
	s.RegisterManagedIdentity("mi-refresh-in", "oid-ri")
	s.SetRefreshIn(90e9)
	_, body := rawMI(t, s, "mi-refresh-in", "https://database.windows.net")
	assert.EqualValues(t, 90, body["refresh_in"])
	assert.Equal(t, "https://database.windows.net", body["resource"])
	assert.Equal(t, "Bearer", body["token_type"])

	var c entra.Claims
	_, _, err := jwt.NewParser().ParseUnverified(body["access_token"].(string), &c)
	require.NoError(t, err)
	assert.Equal(t, "oid-ri", c.ObjectID)
}
