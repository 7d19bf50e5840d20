package tokens_test

import (
	"context"
	"encoding/base64"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/tokens"
)

// TestVouchedCheckReadsClaimsWhateverTheAlg: the last check of a vouched
// (or on-behalf-of) identity refuses a JWT naming another principal even
// when its header names no algorithm the JWT library knows, or none: such a
// token used to count as opaque and pass. A claim of the wrong type counts
// as naming another principal; a JWT without tid and oid, and an opaque
// token, still pass.
func TestVouchedCheckReadsClaimsWhateverTheAlg(t *testing.T) {
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	jwt := func(header, payload string) string { return enc(header) + "." + enc(payload) + ".c2ln" }
	me := tokens.Principal{TenantID: "T", ObjectID: "me"}
	check := func(v string) error {
		id, err := tokens.VouchedTokenIdentity(me, tokens.SourceFunc(func(context.Context) (tokens.Token, error) {
			return tokens.Token{Value: v}, nil
		}))
		require.NoError(t, err)
		_, err = id.Source().Token(context.Background())
		return err
	}
	other := `{"tid":"t","oid":"someone-else"}`
	for _, header := range []string{`{"alg":"XX","typ":"JWT"}`, `{"typ":"JWT"}`, `{"alg":"RS256"}`, `{}`} {
		err := check(jwt(header, other))
		require.Error(t, err, header)
		assert.ErrorContains(t, err, "another principal", header)
	}
	assert.Error(t, check(jwt(`{"alg":"XX"}`, `{"tid":"t","oid":7}`)), "an oid that is not a string")
	assert.NoError(t, check(jwt(`{"alg":"XX"}`, `{"tid":"t","oid":"ME"}`)), "ids compare case-insensitively")
	assert.NoError(t, check(jwt(`{"alg":"RS256"}`, `{"aud":"x"}`)), "no tid or oid: the application's word stands")
	assert.NoError(t, check("opaque-token"))
}
