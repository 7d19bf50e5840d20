package tokens

import (
	"crypto/sha256"
	"encoding/hex"

	"github.com/golang-jwt/jwt/v5"
)

// tokenPrincipalHash hashes what a token says about who it belongs to. For a
// JWT with tenant and object id claims that is stable across token rotation, so
// a rotated token keeps its pool; anything else hashes the whole token, which
// is the conservative choice: a new token may be a new principal.
func tokenPrincipalHash(token string) string {
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(token, claims); err == nil {
		tid, _ := claims["tid"].(string)
		oid, _ := claims["oid"].(string)
		if oid != "" {
			sum := sha256.Sum256([]byte("oid:" + tid + "/" + oid))
			return hex.EncodeToString(sum[:])
		}
	}
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
