package tokens_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/tokens"
)

// TestTokenKeyedRefusesAFirstJWTWhoseIdsAreNotStrings: a token-keyed
// identity pins the principal of its first JWT, and refuses a JWT whose tid
// or oid is not a string, the first one too. Read as "", such a claim
// pinned an empty tenant or object id, which every later token's own
// non-string claim matched.
func TestTokenKeyedRefusesAFirstJWTWhoseIdsAreNotStrings(t *testing.T) {
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	exp := time.Now().Add(time.Hour)
	for _, claims := range []string{`{"tid":7,"oid":"o","exp":%d}`, `{"tid":"t","oid":{"x":1},"exp":%d}`} {
		jwt := enc(`{"alg":"RS256"}`) + "." + enc(fmt.Sprintf(claims, exp.Unix())) + ".sig"
		id, err := tokens.TokenFuncIdentity(func(context.Context) (tokens.Token, error) {
			return tokens.Token{Value: jwt, ExpiresOn: exp}, nil
		})
		require.NoError(t, err)
		_, err = id.Discriminator(context.Background())
		assert.Error(t, err, "claims %s", claims)
	}
}
